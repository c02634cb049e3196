"""Pong in C: the agent's paddle (right) against a scripted paddle that tracks the ball."""

import numpy as np
from gymnasium import spaces
from puffer_envs import CEnv


class Pong(CEnv):
    """Pong against a scripted opponent that tracks the ball (8 floats, 3 actions).

    The opponent's paddle follows the ball at a limited speed. Observations: 8 floats (own paddle y,
    opponent paddle y, ball x, ball y, ball vx, ball vy in [-1, 1]; own score and opponent score as
    fractions of max_score). Actions: Discrete(3) = noop, up, down. Reward +1 per point won, -1 per
    point lost; terminal when a side reaches max_score, truncated after max_steps agent steps.
    """

    header = "pong.h"
    struct = "Pong"
    config = {
        "frameskip": 4,
        "width": 640.0,
        "height": 480.0,
        "paddle_width": 10.0,
        "paddle_height": 60.0,
        "ball_size": 10.0,
        "paddle_speed": 8.0,
        "opponent_speed": 5.0,
        "ball_speed": 8.0,
        "ball_speedup": 0.5,
        "ball_max_speed": 16.0,
        "bounce_speed": 10.0,
        "max_score": 21,
        "max_steps": 20_000,
    }
    renderer = "puffer_envs_pong.render:PongRenderer"
    # Human play (puffer-envs play pong): hold up/down (or W/S); nothing held is noop.
    keymap = {"UP": 1, "DOWN": 2, "W": 1, "S": 2}

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(-1.0, 1.0, (8,), np.float32), spaces.Discrete(3)


__all__ = ["Pong"]
