"""Registers `cartpole` with Puffer (entry point group `puffer`)."""

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl


@hookimpl
def puffer_envs():
    return [EnvSpec(
        name="cartpole",
        make="puffer_envs_cartpole:CartPole",
        default_kwargs={"num_envs": 256},
        config=files(__package__).joinpath("config.toml").read_text(),
        description="CartPole-v1 in C (Gymnasium's exact dynamics); continuous=1 for a Box action",
    )]
