"""Registers `moba` with Puffer (entry point group `puffer`)."""

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl


@hookimpl
def puffer_envs():
    return [
        EnvSpec(
            name="moba",
            make="puffer_envs_moba:Moba",
            config=files("puffer_envs_moba").joinpath("config.toml").read_text(),
            policy="puffer_envs_moba.policy:Policy",
            description="5v5 DOTA-style MOBA: lanes, towers, creeps, jungle, 5 hero roles with skills (self-play)",
            team_size=5,
            outcome_field="radiant_win",
        )
    ]
