"""Registers `connect4` (agent vs scripted opponent) and `connect4-selfplay` (two agents) with Puffer."""

from importlib.resources import files

from puffer_core import EnvSpec, hookimpl

from . import Connect4


@hookimpl
def puffer_envs():
    return [
        EnvSpec.of(Connect4, "connect4"),
        # Both sides are agents (rows 0 and 1 of each env); `score` is row 0's outcome for Elo.
        EnvSpec.of(Connect4, "connect4-selfplay", default_kwargs={"two_player": 1, "agent_side": 3},
                   config=files(__package__).joinpath("selfplay.toml").read_text(),
                   description="Connect Four self-play: two agents per board, masks mark the side to move",
                   team_size=1, outcome_field="score"),
    ]
