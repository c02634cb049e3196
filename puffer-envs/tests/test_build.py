"""The on-demand build: cache location and keys, rebuilds on edits, concurrent builders, errors."""

import os
import shutil
import subprocess
import sys
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
    assert len(entries) == 1 and len(list(entries[0].iterdir())) == 1


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
