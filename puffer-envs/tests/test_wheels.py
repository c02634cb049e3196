"""Prebuilt extensions: a plugin's wheel carries its env compiled at wheel-build time (puffer_envs.wheel),
used at run time without a compiler when it matches the header; anything else falls back to the cache."""

import json
import os
import shutil
import stat
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
from puffer_envs import build, wheel

ROOT = Path(__file__).resolve().parents[2]
HEADERS = Path(__file__).parent / "headers"


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """spin.h as an installed wheel has it: the header with its prebuilt extension and manifest beside it."""
    monkeypatch.setenv("PUFFER_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("PUFFER_SANITIZE", "PUFFER_CFLAGS", "PUFFER_PREBUILT"):
        monkeypatch.delenv(var, raising=False)
    package = tmp_path / "site" / "puffer_envs_spin"
    package.mkdir(parents=True)
    header = package / "spin.h"
    shutil.copy(HEADERS / "spin.h", header)
    ext = wheel.EnvExtension("puffer_envs_spin", header, "Spin")
    (tmp_path / "work").mkdir()
    so = build.compile_module(header, "Spin", ext.module, package / (ext.module + ".abi3.so"), False, tmp_path / "work")
    return header, so


def test_a_matching_prebuilt_extension_loads_without_touching_the_cache(installed, tmp_path, monkeypatch):
    header, so = installed
    monkeypatch.setattr(build, "compile_header", lambda *a: pytest.fail("compiled although a prebuilt matches"))
    lib = build.load(header, "Spin")
    assert lib.prebuilt and lib.path == so and lib.ffi.sizeof("Spin") > 0
    assert build.locate(header, "Spin").prebuilt == so and build.ensure_built(header, "Spin") == so
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("setting", ["edited header", "PUFFER_SANITIZE=1", "PUFFER_CFLAGS", "PUFFER_PREBUILT=0",
                                     "damaged"])
def test_anything_that_does_not_match_falls_back_to_the_cache(installed, tmp_path, monkeypatch, setting):
    header, so = installed
    why = {"edited header": "prebuilt extension does not match the header", "PUFFER_SANITIZE=1": "PUFFER_SANITIZE=1",
           "PUFFER_CFLAGS": "PUFFER_CFLAGS is set", "PUFFER_PREBUILT=0": "PUFFER_PREBUILT=0",
           "damaged": "prebuilt extension damaged"}[setting]
    if setting == "edited header":
        header.write_text(header.read_text() + "\n/* edited in place, as in an editable install */\n")
    elif setting == "PUFFER_SANITIZE=1":
        monkeypatch.setenv("PUFFER_SANITIZE", "1")
    elif setting == "PUFFER_CFLAGS":
        monkeypatch.setenv("PUFFER_CFLAGS", "-DEXTRA=1")
    elif setting == "PUFFER_PREBUILT=0":
        monkeypatch.setenv("PUFFER_PREBUILT", "0")
    else:
        so.write_bytes(so.read_bytes()[:100])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        where = build.locate(header, "Spin")
    damaged = [str(w.message) for w in caught if issubclass(w.category, build.BuildCacheWarning)]
    assert len(damaged) == (setting == "damaged") and all(f"prebuilt extension {so} is damaged" in m for m in damaged)
    assert where.prebuilt is None and where.why_not_prebuilt.startswith(why)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", build.BuildCacheWarning)  # checked above
        path = build.ensure_built(header, "Spin")
    assert path.is_relative_to(tmp_path / "cache") and build.verify(path) is None


def test_env_headers_finds_each_env_and_skips_helper_headers(tmp_path):
    package = tmp_path / "src" / "puffer_envs_two"
    package.mkdir(parents=True)
    shutil.copy(HEADERS / "spin.h", package / "spin.h")
    (package / "types.h").write_text("/* a helper header, included by an env; void c_step(Nope* env) */\n")
    found = wheel.env_headers(tmp_path / "src")
    assert [(pkg, h.name, struct) for pkg, h, struct in found] == [("puffer_envs_two", "spin.h", "Spin")]


# -- real wheels, installed into fresh venvs, run with no compiler --------------------------------------

PLUGINS = ["pong", "moba"]

STEP = """
import os, sys, numpy as np
from puffer_envs import build
def no_build(*args):
    raise SystemExit(f"build.compile_header called for {args[0]}")
build.compile_header = no_build
import puffer_core
for name in sys.argv[1:]:
    env = puffer_core.make(name, num_envs=8)
    env.reset(seed=0)
    for _ in range(64):
        actions = np.stack([env.single_action_space.sample() for _ in range(env.num_agents)])
        env.step(actions.astype(env.actions.dtype))
    assert np.isfinite(env.rewards).all(), name
    lib = env.build()  # the Library make() loaded (cached per process)
    assert lib.prebuilt and "site-packages" in str(lib.path), lib.path
    print(name, lib.path.name)
    env.close()
"""


def _run(command, **kw):
    done = subprocess.run(command, capture_output=True, text=True, timeout=kw.pop("timeout", 280), **kw)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """Wheels as `nox -s wheels` makes them, for what this test needs: puffer-core and puffer-envs with
    their dependencies (for --no-index installs), then pong and moba built in isolation against them."""
    dist = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "-q", "-c", str(ROOT / "constraints.txt"), "-w", str(dist), str(ROOT / "puffer-core"),
          str(ROOT / "puffer-envs")])
    _run([*pip, "wheel", "-q", "--no-deps", "--find-links", str(dist), "-w", str(dist),
          *[str(ROOT / "plugins" / f"puffer-envs-{name}") for name in PLUGINS]])
    return dist


def _fresh_venv(python: str, where: Path) -> Path:
    subprocess.run([python, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    return where / "bin" / "python"


def _no_compiler_env(tmp_path: Path, venv_python: Path) -> tuple[dict, Path]:
    """PATH with only the venv (no gcc, no cc), CC unset, PUFFER_CACHE_DIR unset, HOME read-only."""
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items()
           if k not in ("CC", "PUFFER_CACHE_DIR", "PYTHONPATH", "PUFFER_SANITIZE", "PUFFER_CFLAGS", "LD_PRELOAD")}
    env.update(PATH=str(venv_python.parent), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    return env, home


def _check_wheel_tags(dist: Path):
    for name in PLUGINS:
        (whl,) = dist.glob(f"puffer_envs_{name}-*.whl")
        assert "-cp311-abi3-" in whl.name and not whl.name.endswith("-none-any.whl"), whl.name
        with zipfile.ZipFile(whl) as z:
            sos = [n for n in z.namelist() if n.endswith(".abi3.so")]
            assert len(sos) == 1, z.namelist()
            record = json.loads(z.read(sos[0][: -len(".abi3.so")] + ".json"))
            assert record["size"] == z.getinfo(sos[0]).file_size
    for pure in ("puffer_core", "puffer_envs"):
        (whl,) = dist.glob(f"{pure}-*.whl")
        assert whl.name.endswith("-py3-none-any.whl"), whl.name


@pytest.mark.slow
def test_wheels_install_offline_and_step_with_no_compiler_and_a_read_only_home(dist, tmp_path):
    _check_wheel_tags(dist)
    python = _fresh_venv(sys.executable, tmp_path / "venv")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", "--find-links",
          str(dist), *[f"puffer-envs-{name}" for name in PLUGINS]])
    env, home = _no_compiler_env(tmp_path, python)
    assert shutil.which("gcc", path=env["PATH"]) is None and shutil.which("cc", path=env["PATH"]) is None
    out = _run([str(python), "-c", STEP, *PLUGINS], env=env, cwd=tmp_path)
    assert [line.split()[0] for line in out.splitlines()] == PLUGINS
    listed = _run([str(python.parent / "puffer-envs"), "list"], env=env, cwd=tmp_path)
    assert [line.split()[3] for line in listed.splitlines()[1:]] == ["prebuilt", "prebuilt"], listed
    assert list(home.rglob("*")) == [], "nothing written under HOME (no cache, no build)"


def _python312() -> str | None:
    """A working python3.12 (a pyenv shim on PATH may exist and still refuse to run)."""
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    candidates = [*map(str, pyenv), shutil.which("python3.12")]
    for python in filter(None, candidates):
        try:
            if subprocess.run([python, "-c", "import venv"], capture_output=True, timeout=30).returncode == 0:
                return python
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


PYTHON312 = _python312()


@pytest.mark.slow
@pytest.mark.skipif(PYTHON312 is None, reason="no Python 3.12 on this machine")
def test_the_same_abi3_wheels_run_on_python_3_12(dist, tmp_path):
    """cp311-abi3: the extension built under 3.11 loads under 3.12 (numpy and friends for 3.12 come from
    the package index; puffer's own packages only exist in dist/)."""
    python = _fresh_venv(PYTHON312, tmp_path / "venv312")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--find-links", str(dist),
          "-c", str(ROOT / "constraints.txt"), *[f"puffer-envs-{name}" for name in PLUGINS]])
    env, home = _no_compiler_env(tmp_path, python)
    out = _run([str(python), "-c", STEP, *PLUGINS], env=env, cwd=tmp_path)
    assert [line.split()[0] for line in out.splitlines()] == PLUGINS and ".abi3.so" in out
    assert list(home.rglob("*")) == []
