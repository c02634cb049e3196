import subprocess
import sys

import puffer_core
import pytest
from puffer_core import registry
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


# -- entry points, end to end: distributions written into a folder on sys.path ----------------------

TOY = '''
class Toy:
    """A toy env for the registry tests.

    The rest of the docstring is not the description."""

    policy = "toy_pkg.policy:Policy"
    team_size = 2
    outcome_field = "won"

    def __init__(self, num_envs=1, size=3):
        self.num_envs, self.size = num_envs, size
'''

MULTI = '''
from puffer_core import EnvSpec, hookimpl
from toy_pkg import Toy


@hookimpl
def puffer_envs():
    return [EnvSpec.of(Toy, "multi-a"), EnvSpec.of(Toy, "multi-b", default_kwargs={"size": 5}, team_size=0)]
'''

CRASH = '''
from puffer_core import hookimpl


@hookimpl
def puffer_envs():
    raise RuntimeError("boom")
'''


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """install(dist, entry_points, files): a distribution (dist-info with its entry points, plus its
    modules) in a folder on sys.path; each call's registry() scans the entry points afresh."""
    modules_before = set(sys.modules)

    def install(dist: str, entry_points: dict[str, str], files: dict[str, str]):
        info = tmp_path / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text("[puffer]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
        for path, text in files.items():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text)

    monkeypatch.syspath_prepend(str(tmp_path))
    yield install
    registry._registry = None
    for name in set(sys.modules) - modules_before:
        if name.startswith("toy_"):
            del sys.modules[name]


def test_a_class_entry_point_is_the_whole_spec(installed):
    installed("toy-env", {"toy": "toy_pkg:Toy"},
              {"toy_pkg/__init__.py": TOY, "toy_pkg/config.toml": "[env]\nnum_envs = 8\n"})
    spec = registry.refresh().get("toy")
    assert (spec.distribution, spec.version) == ("toy-env", "1.2.3")
    assert spec.description == "A toy env for the registry tests."
    assert (spec.policy, spec.team_size, spec.outcome_field) == ("toy_pkg.policy:Policy", 2, "won")
    assert spec.training_config() == {"env": {"num_envs": 8}}
    env = puffer_core.make("toy")  # the class with its own defaults; the training size is config.toml's
    assert (env.num_envs, env.size) == (1, 3)


def test_hooks_are_called_per_plugin_so_a_broken_one_hides_no_other(installed):
    installed("toy-env", {}, {"toy_pkg/__init__.py": TOY})  # config.toml left out: no training config
    installed("multi-env", {"multi": "toy_multi"}, {"toy_multi.py": MULTI})
    installed("crashing-env", {"crash": "toy_crash"}, {"toy_crash.py": CRASH})
    installed("hookless-env", {"hookless": "toy_hookless"}, {"toy_hookless.py": "X = 1\n"})
    installed("constant-env", {"constant": "toy_hookless:X"}, {})
    reg = registry.refresh()
    assert reg.manager.get_plugin("toy_multi") is not None  # registered with pluggy, called through it
    a, b = reg.get("multi-a"), reg.get("multi-b")
    assert a.distribution == b.distribution == "multi-env" and a.team_size == 2 and b.team_size == 0
    assert a.config == "" and puffer_core.make("multi-b").size == 5
    assert reg.broken["crashing-env"].startswith("RuntimeError: boom")
    assert "names a module with no @puffer_core.hookimpl puffer_envs() function" in reg.broken["hookless-env"]
    assert "neither an env class nor a module" in reg.broken["constant-env"]
    with pytest.raises(puffer_core.EnvNotFoundError, match=r"failed to load .*crashing-env \(RuntimeError: boom\)"):
        puffer_core.make("crash")


def test_two_distributions_with_one_name_are_both_named(installed):
    installed("twin-a", {"twin": "toy_pkg:Toy"}, {"toy_pkg/__init__.py": TOY})
    installed("twin-b", {"twin": "toy_pkg:Toy"}, {})
    with pytest.raises(puffer_core.PluginError, match=r"more than one distribution \(twin-(a, twin-b|b, twin-a)\)"):
        registry.refresh().get("twin")
