"""Registers the sanity envs as `sanity-<name>`, each with its training config in configs/<name>.toml."""

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl

from .dict_env import DictCue
from .envs import Bandit, Continuous, Coop, Duel, Memory, MultiDiscreteCue

ENVS = {"bandit": Bandit, "memory": Memory, "continuous": Continuous, "coop": Coop,
        "multidiscrete": MultiDiscreteCue, "dict": DictCue, "duel": Duel}


@hookimpl
def puffer_envs():
    configs = files(__package__).joinpath("configs")
    return [EnvSpec.of(cls, f"sanity-{name}", config=configs.joinpath(f"{name}.toml").read_text())
            for name, cls in ENVS.items()]
