import subprocess
import sys

import puffer_core
import pytest
from puffer_core.registry import EnvSpec, Registry


def test_in_process_registration(numpy_cartpole):
    puffer_core.register(numpy_cartpole.SPEC)
    env = puffer_core.make("numpy-cartpole", num_envs=3)
    assert env.num_agents == 3
    assert puffer_core.list_envs()["numpy-cartpole"].distribution == "<in-process>"


def test_unknown_name_lists_installed_and_closest(numpy_cartpole):
    puffer_core.register(numpy_cartpole.SPEC)
    with pytest.raises(puffer_core.EnvNotFoundError, match="Did you mean 'numpy-cartpole'") as e:
        puffer_core.make("numpy-cartpol")
    assert "Installed:" in str(e.value)


def test_gym_ids(numpy_cartpole):
    with pytest.raises(puffer_core.EnvNotFoundError, match="gym:CartPole-v1"):
        puffer_core.make("gym:CartPole-v9")


def test_conflicting_names_name_both_distributions():
    reg = Registry()
    reg.add(EnvSpec(name="pong", make=dict, distribution="puffer-envs-pong"))
    reg.add(EnvSpec(name="pong", make=dict, distribution="other-pong"))
    reg.add(EnvSpec(name="snake", make=dict, distribution="puffer-envs-snake"))
    with pytest.raises(puffer_core.PluginError, match="puffer-envs-pong, other-pong"):
        reg.get("pong")
    assert reg.get("snake").distribution == "puffer-envs-snake"


def test_importing_core_does_not_import_torch_or_cffi():
    code = "import sys, puffer_core, puffer_core.vector; print('torch' in sys.modules, 'cffi' in sys.modules)"
    assert subprocess.check_output([sys.executable, "-c", code], text=True).split() == ["False", "False"]
