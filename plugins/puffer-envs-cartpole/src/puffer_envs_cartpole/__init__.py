"""CartPole in C with exactly Gymnasium CartPole-v1's dynamics (see cartpole.h)."""

import math

import numpy as np
from gymnasium import spaces
from puffer_envs import CEnv

X_THRESHOLD = 2.4
THETA_THRESHOLD = 12 * 2 * math.pi / 360


class CartPole(CEnv):
    """CartPole-v1 in C (Gymnasium's exact dynamics); continuous=1 for a Box action."""

    header = "cartpole.h"
    struct = "CartPole"
    config = {"continuous": 0, "max_steps": 500}
    renderer = "puffer_envs_cartpole.render:CartPoleRenderer"
    keymap = {"LEFT": 0, "RIGHT": 1, "A": 0, "D": 1}  # puffer-envs play cartpole (nothing held pushes left)

    @classmethod
    def make_spaces(cls, config):
        # Gymnasium's bounds: twice the termination thresholds, so a failing state is still inside.
        high = np.array([X_THRESHOLD * 2, np.inf, THETA_THRESHOLD * 2, np.inf], np.float32)
        obs = spaces.Box(-high, high, dtype=np.float32)
        if config["continuous"]:
            return obs, spaces.Box(-1.0, 1.0, (1,), np.float32)
        return obs, spaces.Discrete(2)


__all__ = ["CartPole"]
