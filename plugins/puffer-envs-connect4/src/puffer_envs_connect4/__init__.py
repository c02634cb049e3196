"""Connect Four on bitboards as a Puffer C env (rules in connect4.h)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from puffer_core.errors import ConfigError
from puffer_envs import CEnv

__all__ = ["Connect4"]


class Connect4(CEnv):
    """Connect Four vs a scripted opponent (0 random, 1 win/block, N negamax depth N).

    6 x 7 Connect Four. The agent plays a scripted opponent (`opponent`: 0 random, 1 win/block,
    N >= 2 negamax depth N), or with `two_player=1` both sides are agents (rows 0 and 1 of each env;
    `masks` marks the side to move). `agent_side`: 0 random starter, 1 agent (row 0) first,
    2 agent second, 3 alternate. An illegal move (full column) loses the game at once (reward -1)
    and counts in the Log's `illegal_moves`.
    """

    header = "connect4.h"
    struct = "Connect4"
    config = {"opponent": 1, "agent_side": 0, "two_player": 0}
    renderer = "puffer_envs_connect4.render:Connect4Renderer"
    keymap = {"ONE": 0, "TWO": 1, "THREE": 2, "FOUR": 3, "FIVE": 4, "SIX": 5, "SEVEN": 6}

    @classmethod
    def check_config(cls, config):
        if not 0 <= config["opponent"] <= 9:
            raise ConfigError(f"connect4 opponent must be 0 (random), 1 (win/block) or a negamax depth 2..9, "
                              f"got {config['opponent']}")
        if config["agent_side"] not in (0, 1, 2, 3):
            raise ConfigError(f"connect4 agent_side must be 0 (random), 1 (first), 2 (second) or 3 (alternate), "
                              f"got {config['agent_side']}")
        if config["two_player"] not in (0, 1):
            raise ConfigError(f"connect4 two_player must be 0 or 1, got {config['two_player']}")

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(0, 1, (2, 6, 7), np.uint8), spaces.Discrete(7)

    @classmethod
    def agents_per_env(cls, config):
        return 2 if config["two_player"] else 1

    def keys_to_action(self, pressed: set[str]):
        """Keyboard play: keys 1..7 drop a piece; None (no key) means wait for one."""
        for key, action in self.keymap.items():
            if key in pressed:
                return action
        return None
