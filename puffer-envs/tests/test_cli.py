"""`puffer-envs list / build / play` (new is in test_template.py)."""

import importlib.metadata as md
from pathlib import Path

import numpy as np
import puffer_core
import pytest
from gymnasium import spaces
from puffer_core import registry
from puffer_envs import CEnv, cli

HEADERS = Path(__file__).parent / "headers"


class Spin(CEnv):
    header = str(HEADERS / "spin.h")
    struct = "Spin"
    config = {"limit": 0}

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(-1, 1, (1,), np.float32), spaces.Discrete(2)


@pytest.fixture
def registered(monkeypatch):
    """An in-process env, plus a broken plugin entry point, on a fresh registry."""
    real = md.entry_points

    def entry_points(**kw):
        found = list(real(**kw))
        if kw.get("group") == registry.ENTRY_POINT_GROUP:
            found.append(md.EntryPoint("ghost", "no_such_module_for_puffer_tests.plugin", "puffer"))
        return found

    monkeypatch.setattr(registry.md, "entry_points", entry_points)
    registry.refresh()
    puffer_core.register(puffer_core.EnvSpec(name="cli-spin", make=Spin, description="spins", version="9.9"))
    yield
    monkeypatch.undo()
    registry._registry = None


def test_list_shows_envs_and_broken_plugins(registered, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PUFFER_CACHE_DIR", str(tmp_path))  # an empty cache: spin.h is not built yet
    assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split() == ["name", "version", "distribution", "extension", "description"]
    line = next(line for line in out.splitlines() if line.startswith("cli-spin"))
    assert line.split()[:5] == ["cli-spin", "9.9", "<in-process>", "compile-on-first-use", "spins"]
    assert "BROKEN: plugin no_such_module_for_puffer_tests.plugin failed to load: ModuleNotFoundError" in err
    Spin.build()
    assert cli.main(["list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("cli-spin"))
    assert line.split()[3] == "cache"


def test_list_shows_name_conflicts(registered, capsys):
    for dist in ("puffer-envs-a", "puffer-envs-b"):
        registry.registry().add(puffer_core.EnvSpec(name="twin", make=Spin, distribution=dist))
    assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    assert "CONFLICT: 'twin' is registered by puffer-envs-a, puffer-envs-b: uninstall all but one" in err
    assert "twin" not in out


def test_build_compiles_the_named_envs(registered, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PUFFER_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PUFFER_SANITIZE", "1")  # compiling needs no ASan runtime, only loading does
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    assert cli.main(["build", "cli-spin"]) == 0
    out = capsys.readouterr().out
    path = out.split(": ")[1].split(" (")[0]
    assert out.startswith("cli-spin: ") and path.startswith(str(tmp_path)) and path.endswith(".so")


def test_unknown_env_is_a_clear_error(registered, capsys):
    assert cli.main(["build", "cli-spn"]) == 2
    assert "Did you mean 'cli-spin'" in capsys.readouterr().err


def test_play_passes_its_arguments_through():
    args = cli.parser().parse_args(["play", "pong", "--fps", "3", "--env.frameskip", "1"])
    assert args.func is cli.cmd_play and args.play_args == ["pong", "--fps", "3", "--env.frameskip", "1"]


def test_play_help_reaches_play():
    assert cli.parser().parse_args(["play", "--help"]).play_args == ["--help"]
