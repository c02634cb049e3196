"""`puffer-envs new`: the generated plugin installs, passes its own tests and shows up in the registry."""

import subprocess
import sys

import pytest
from puffer_core.errors import ConfigError
from puffer_envs import template


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_new_plugin_installs_passes_its_tests_and_is_listed(tmp_path):
    done = subprocess.run([sys.executable, "-m", "puffer_envs.cli", "new", "mygame", "-o", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    plugin = tmp_path / "puffer-envs-mygame"
    for part in ("pyproject.toml", "setup.py", "README.md", "src/puffer_envs_mygame/mygame.h",
                 "src/puffer_envs_mygame/__init__.py", "src/puffer_envs_mygame/config.toml",
                 "src/puffer_envs_mygame/render.py", "tests/test_mygame.py"):
        assert (plugin / part).is_file(), part
    assert "{{" not in (plugin / "src/puffer_envs_mygame/mygame.h").read_text()
    installed = pip("install", "--no-deps", "--no-build-isolation", "-q", str(plugin))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    try:
        tests = subprocess.run([sys.executable, "-m", "pytest", str(plugin / "tests"), "-q", "-p", "no:cacheprovider"],
                               capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
        assert " passed" in tests.stdout and "failed" not in tests.stdout
        listed = subprocess.run([sys.executable, "-m", "puffer_envs.cli", "list"], capture_output=True, text=True,
                                timeout=120)
        line = next(line for line in listed.stdout.splitlines() if line.startswith("mygame "))
        assert "puffer-envs-mygame" in line and "0.1.0" in line and "Reach the target" in line
    finally:
        pip("uninstall", "-y", "-q", "puffer-envs-mygame")


@pytest.mark.parametrize("name", ["MyGame", "my-game", "1game", "game_", "my__game", ""])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="must be lowercase letters"):
        template.create(name, tmp_path)
    assert not any(tmp_path.iterdir())


def test_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "puffer-envs-taken").mkdir()
    with pytest.raises(ConfigError, match="already exists"):
        template.create("taken", tmp_path)


def test_multiword_names_make_camel_case_classes(tmp_path):
    path = template.create("grid_world", tmp_path, description='A "quoted" grid')
    init = (path / "src/puffer_envs_grid_world/__init__.py").read_text()
    assert "class GridWorld(CEnv):" in init and 'struct = "GridWorld"' in init
    assert "typedef struct {" in (path / "src/puffer_envs_grid_world/grid_world.h").read_text()
    assert 'description = "A \\"quoted\\" grid"' in (path / "pyproject.toml").read_text()
