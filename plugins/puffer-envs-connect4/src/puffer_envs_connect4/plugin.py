"""Registers `connect4` (agent vs scripted opponent) and `connect4-selfplay` (two agents) with Puffer."""

from __future__ import annotations

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl


@hookimpl
def puffer_envs():
    config = files("puffer_envs_connect4").joinpath("config.toml").read_text()
    return [
        EnvSpec(
            name="connect4",
            make="puffer_envs_connect4:Connect4",
            default_kwargs={"num_envs": 256, "opponent": 1},
            config=config,
            policy="puffer_envs_connect4.policy:Policy",
            description="Connect Four vs a scripted opponent (0 random, 1 win/block, N negamax depth N)",
        ),
        # Both sides are agents (rows 0 and 1 of each env); `score` is row 0's outcome for Elo.
        EnvSpec(
            name="connect4-selfplay",
            make="puffer_envs_connect4:Connect4",
            default_kwargs={"num_envs": 128, "two_player": 1, "agent_side": 3},
            config=files("puffer_envs_connect4").joinpath("selfplay.toml").read_text(),
            policy="puffer_envs_connect4.policy:Policy",
            description="Connect Four self-play: two agents per board, masks mark the side to move",
            team_size=1,
            outcome_field="score",
        ),
    ]
