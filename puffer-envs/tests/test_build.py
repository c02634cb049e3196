"""The on-demand build: cache location and keys, rebuilds on edits, concurrent builders, errors, and
recovery from a damaged cache (truncated/empty/garbage libraries, builds killed midway)."""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from puffer_envs import build

HEADERS = Path(__file__).parent / "headers"


@pytest.fixture
def header(tmp_path, monkeypatch):
    """A private copy of spin.h and an empty cache, so every test compiles for real."""
    monkeypatch.setenv("PUFFER_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "src").mkdir()
    shutil.copy(HEADERS / "spin.h", tmp_path / "src" / "spin.h")
    return tmp_path / "src" / "spin.h"


def test_builds_into_the_cache_once_and_reloads(header, tmp_path):
    lib = build.load(header, "Spin", sanitize=False)
    assert lib.path.parent.parent == tmp_path / "cache" and lib.path.is_file()
    mtime = lib.path.stat().st_mtime_ns
    build._loaded.clear()
    again = build.load(header, "Spin", sanitize=False)
    assert again.path == lib.path and again.path.stat().st_mtime_ns == mtime, "no recompile"
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.is_dir()] == [lib.path.parent.name], \
        "no temporary build folders left behind"


def test_editing_any_header_of_the_plugin_changes_the_key(header):
    before = build.cache_key(header, "Spin", False)
    (header.parent / "extra.h").write_text("/* a new helper header */\n")
    assert build.cache_key(header, "Spin", False) != before
    assert build.cache_key(header, "Spin", True) != build.cache_key(header, "Spin", False)


def test_sanitize_flags_and_default_flags(header, monkeypatch):
    assert "-fsanitize=address,undefined" in build.flags(True) and "-O1" in build.flags(True)
    assert "-O2" in build.flags(False) and not any("fast-math" in f or "march" in f for f in build.flags(False))
    before = build.cache_key(header, "Spin", False)
    monkeypatch.setenv("PUFFER_CFLAGS", "-march=native -DFAST=1")
    assert build.flags(False)[-2:] == ["-march=native", "-DFAST=1"]
    assert build.cache_key(header, "Spin", False) != before


def test_sanitized_build_without_the_asan_runtime_is_a_clear_error(header, monkeypatch):
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    with pytest.raises(build.BuildError, match="LD_PRELOAD=.*libasan.so"):
        build.load(header, "Spin", sanitize=True)


def test_concurrent_processes_build_once(header, tmp_path):
    code = ("import sys; from puffer_envs import build; "
            f"print(build.load({str(header)!r}, 'Spin', sanitize=False).path)")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PUFFER_CACHE_DIR": str(tmp_path / "cache")}) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1
    entries = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    assert len(entries) == 1 and sorted(p.suffix for p in entries[0].iterdir()) == [".json", ".so"], \
        "one entry: the library and its manifest, nothing else"
    assert build.verify(next(entries[0].glob("*.so"))) is None


def test_missing_compiler_is_a_clear_error(header, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-xyz")
    with pytest.raises(build.BuildError, match="no C compiler found"):
        build.load(header, "Spin", sanitize=False)


def test_missing_header_is_a_clear_error(tmp_path):
    with pytest.raises(build.BuildError, match="does not exist"):
        build.load(tmp_path / "nope.h", "Nope")


def test_get_include_holds_puffer_h():
    assert (Path(build.get_include()) / "puffer.h").is_file()


def test_unwritable_cache_is_a_clear_error(header, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PUFFER_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(build.BuildError, match="cannot write the build cache .*PUFFER_CACHE_DIR"):
        build.load(header, "Spin", sanitize=False)


# -- a damaged cache is verified before dlopen and rebuilt ----------------------------------------------

LOAD = """
import sys, warnings
warnings.simplefilter("always")
from puffer_envs import build
lib = build.load(sys.argv[1], "Spin", sanitize=False)
print(lib.path, lib.ffi.sizeof("Spin"))
"""


def load_in_subprocess(header, cache):
    """build.load in a fresh interpreter: a SIGBUS there is a failed assertion here, not a dead pytest."""
    env = {**os.environ, "PUFFER_CACHE_DIR": str(cache), "PUFFER_PREBUILT": "0"}
    return subprocess.run([sys.executable, "-c", LOAD, str(header)], capture_output=True, text=True, env=env,
                          timeout=120)


DAMAGE = {
    "truncated": lambda so: so.write_bytes(so.read_bytes()[: so.stat().st_size // 3]),
    "empty": lambda so: so.write_bytes(b""),
    "garbage": lambda so: so.write_bytes(os.urandom(so.stat().st_size)),  # same size: only the hash tells
    "no-manifest": lambda so: build.manifest_path(so).unlink(),
    "bad-manifest": lambda so: build.manifest_path(so).write_text("{not json"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cache_entry_is_rebuilt_with_a_warning(header, tmp_path, damage):
    so = build.ensure_built(header, "Spin", sanitize=False)
    good = so.read_bytes()
    DAMAGE[damage](so)
    assert build.verify(so) is not None
    done = load_in_subprocess(header, tmp_path / "cache")
    assert done.returncode == 0, f"returncode {done.returncode} (-7 is SIGBUS)\n{done.stderr}"
    assert "BuildCacheWarning" in done.stderr and f"the cached build {so} is damaged" in done.stderr
    assert "rebuilding it" in done.stderr
    assert done.stdout.split()[0] == str(so) and build.verify(so) is None and so.stat().st_size == len(good)
    again = load_in_subprocess(header, tmp_path / "cache")
    assert again.returncode == 0 and "damaged" not in again.stderr, "repaired once, then loaded quietly"
    assert not list((tmp_path / "cache").glob("build-*"))


def test_manifest_records_size_and_hash(header):
    so = build.ensure_built(header, "Spin", sanitize=False)
    record = json.loads(build.manifest_path(so).read_text())
    assert record["size"] == so.stat().st_size and record["file"] == so.name and record["struct"] == "Spin"
    assert len(record["sha256"]) == 64


def test_stale_build_folders_are_removed_and_live_ones_kept(header, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    killed = cache / "build-0123456789abcdef01234567-x1y2"  # its builder is gone: its lock is free
    busy_key = "fedcba9876543210fedcba98"
    busy = cache / f"build-{busy_key}-a1b2"  # a build running right now (we hold its lock)
    old_style = cache / "build-k3j4l5"  # no key in the name: removed once older than STALE_BUILD_SECONDS
    fresh_old_style = cache / "build-m6n7o8"
    for folder in (killed, busy, old_style, fresh_old_style):
        folder.mkdir()
        (folder / "half.c").write_text("/* half written */")
    ages = time.time() - build.STALE_BUILD_SECONDS - 60
    os.utime(old_style, (ages, ages))
    with open(cache / f"{busy_key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        build.ensure_built(header, "Spin", sanitize=False)
        assert busy.is_dir() and fresh_old_style.is_dir()
    assert not killed.exists() and not old_style.exists()


HANGING_CC = """#!/bin/sh
touch "$PUFFER_TEST_MARKER"
sleep 60
"""


def test_a_build_killed_midway_leaves_nothing_that_outlives_the_next_build(header, tmp_path):
    """A real builder process killed with SIGKILL while its compiler runs: its temporary folder stays,
    there is no entry, and the next build (same header) works and removes the leftover."""
    cache, marker = tmp_path / "cache", tmp_path / "compiler-started"
    cc = tmp_path / "slow-cc"
    cc.write_text(HANGING_CC)
    cc.chmod(0o755)
    env = {**os.environ, "PUFFER_CACHE_DIR": str(cache), "PUFFER_PREBUILT": "0", "CC": str(cc),
           "PUFFER_TEST_MARKER": str(marker)}
    builder = subprocess.Popen([sys.executable, "-c", LOAD, str(header)], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert builder.poll() is None and time.monotonic() < deadline, "the builder never reached the compiler"
            time.sleep(0.05)
        os.killpg(builder.pid, signal.SIGKILL)  # the builder and its compiler
        builder.wait(timeout=30)
    finally:
        if builder.poll() is None:
            os.killpg(builder.pid, signal.SIGKILL)
            builder.wait()
    leftovers = list(cache.glob("build-*"))
    assert len(leftovers) == 1 and any(leftovers[0].rglob("*.c")), "the killed build left its folder"
    assert not [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith("build-")], "no entry"
    path = build.ensure_built(header, "Spin", sanitize=False)  # the default compiler: another key
    assert build.verify(path) is None
    assert not list(cache.glob("build-*")), "the next build removed the killed build's folder"
