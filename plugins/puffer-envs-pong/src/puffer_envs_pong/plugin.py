"""Registers `pong` with Puffer (entry point group `puffer`)."""

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl


@hookimpl
def puffer_envs():
    return [
        EnvSpec(
            name="pong",
            make="puffer_envs_pong:Pong",
            config=files("puffer_envs_pong").joinpath("config.toml").read_text(),
            description="Pong against a scripted opponent that tracks the ball (8 floats, 3 actions)",
        )
    ]
