"""Installing as a user does, into a brand-new venv (no system site-packages), from source folders: each
C plugin's wheel is built in isolation against the SDK (its build requirement, found in a wheelhouse
through --find-links since no index has it) and carries its compiled env."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["puffer-core", "puffer-envs", "plugins/puffer-envs-cartpole", "plugins/puffer-envs-pong"]

SCRIPT = """
import numpy as np, puffer_core
env = puffer_core.make("cartpole", num_envs=4096)
env.reset(seed=0)
rng = np.random.default_rng(0)
for _ in range(200):
    env.step(rng.integers(0, 2, 4096).astype(np.int32))
stats = env.log()
assert 15 < stats["episode_length"] < 30 and stats["n"] > 10000, stats
pong = puffer_core.make("pong", num_envs=64)
pong.reset(seed=0)
pong.step(np.ones(64, np.int32))
print("ok", stats)
"""


@pytest.fixture(scope="module")
def sdk_wheels(tmp_path_factory):
    """puffer-core and puffer-envs wheels: what a C plugin's isolated build installs (as `nox` does)."""
    wheelhouse = tmp_path_factory.mktemp("sdk-wheels")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheelhouse),
                           str(ROOT / "puffer-core"), str(ROOT / "puffer-envs")], capture_output=True, text=True,
                          timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    return ["--find-links", str(wheelhouse)]


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_then_make_and_step(tmp_path, sdk_wheels):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    # The running pip installs into the new venv (--python): the venv sees nothing of ours.
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *sdk_wheels,
                              *[str(ROOT / p) for p in PACKAGES]], capture_output=True, text=True, timeout=280)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    env = {**os.environ, "PUFFER_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(python), "-c", SCRIPT], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=env)
    assert run.returncode == 0 and run.stdout.startswith("ok"), run.stdout + run.stderr
    listed = subprocess.run([str(venv / "bin" / "puffer-envs"), "list"], capture_output=True, text=True, env=env,
                            timeout=60)
    names = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert names == ["cartpole", "pong"], listed.stdout + listed.stderr


STEP_EVERY_ENV = """
import sys, numpy as np, puffer_core
names = sorted(puffer_core.list_envs())
assert names, "the plugin registered no env"
for name in names:
    env = puffer_core.make(name)
    env.reset(seed=0)
    for _ in range(8):
        actions = np.stack([env.single_action_space.sample() for _ in range(env.num_agents)])
        env.step(actions.astype(env.actions.dtype))
    assert np.isfinite(env.rewards).all(), name
    env.close()
print(" ".join(names))
"""


@pytest.mark.slow
def test_every_plugin_installs_alone_with_only_core_and_sdk(tmp_path, sdk_wheels):
    """Each plugin in a venv that holds puffer-core, puffer-envs and that plugin only: nothing it
    needs may come from another plugin."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python]

    def run(command, timeout):
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    env = {**os.environ, "PUFFER_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    run([*pip, "install", "-q", str(ROOT / "puffer-core"), str(ROOT / "puffer-envs")], 280)
    plugins = sorted(p for p in (ROOT / "plugins").glob("puffer-envs-*") if (p / "pyproject.toml").exists())
    assert len(plugins) >= 8
    for plugin in plugins:
        run([*pip, "install", "-q", *sdk_wheels, str(plugin)], 280)
        stepped = run([python, "-c", STEP_EVERY_ENV], 280).split()
        listed = [line.split()[0] for line in run([str(venv / "bin" / "puffer-envs"), "list"], 60).splitlines()[1:]]
        assert listed == stepped, f"{plugin.name}: list shows {listed}, the plugin registers {stepped}"
        run([*pip, "uninstall", "-y", "-q", plugin.name], 120)
