"""Atari-style Breakout as a Puffer C env (rules in breakout.h)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from puffer_envs import CEnv

__all__ = ["Breakout"]


class Breakout(CEnv):
    """Atari-style Breakout: 18x6 bricks, 5 lives, speed-ups and paddle shrink; Discrete(3) or continuous paddle.

    The bricks score 1,1,4,4,7,7 by row, as on the Atari. kwargs: frameskip (game ticks per step),
    continuous (1: Box(-1, 1, (1,)) paddle velocity instead of Discrete(3) noop/left/right), max_steps
    (truncation; 0 = never).
    """

    header = "breakout.h"
    struct = "Breakout"
    config = {"frameskip": 4, "continuous": 0, "max_steps": 27000}
    renderer = "puffer_envs_breakout.render:BreakoutRenderer"
    keymap = {"LEFT": 1, "RIGHT": 2, "A": 1, "D": 2}

    @classmethod
    def make_spaces(cls, config):
        obs = spaces.Box(-1.0, 1.0, (114,), np.float32)
        if config["continuous"]:
            return obs, spaces.Box(-1.0, 1.0, (1,), np.float32)
        return obs, spaces.Discrete(3)

    def keys_to_action(self, pressed: set[str]):
        """Keyboard play for both action spaces (LEFT/RIGHT or A/D)."""
        left = bool(pressed & {"LEFT", "A"})
        right = bool(pressed & {"RIGHT", "D"})
        if self.config["continuous"]:
            return np.array([float(right) - float(left)], np.float32)
        return 1 if left and not right else (2 if right and not left else 0)
