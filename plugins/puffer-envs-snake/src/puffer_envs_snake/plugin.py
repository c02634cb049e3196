"""Registers `snake` with Puffer (entry point group `puffer`)."""

from __future__ import annotations

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl


@hookimpl
def puffer_envs():
    return [EnvSpec(
        name="snake",
        make="puffer_envs_snake:Snake",
        default_kwargs={"num_envs": 4, "num_snakes": 256},
        config=files("puffer_envs_snake").joinpath("config.toml").read_text(),
        policy="puffer_envs_snake.policy:Policy",
        description="Multi-agent Snake: many snakes share one grid, eat food and corpses, "
                    "see a local crop of cell codes",
    )]
