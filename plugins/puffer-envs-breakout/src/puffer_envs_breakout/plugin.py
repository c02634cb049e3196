"""Registers `breakout` with Puffer (entry point group `puffer`)."""

from __future__ import annotations

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl


@hookimpl
def puffer_envs():
    return [EnvSpec(
        name="breakout",
        make="puffer_envs_breakout:Breakout",
        default_kwargs={"num_envs": 256, "frameskip": 4},
        config=files("puffer_envs_breakout").joinpath("config.toml").read_text(),
        description="Atari-style Breakout: 18x6 bricks, 5 lives, speed-ups and paddle shrink; "
                    "Discrete(3) or continuous paddle",
    )]
