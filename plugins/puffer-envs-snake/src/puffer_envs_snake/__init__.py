"""Multi-agent Snake as a Puffer C env: one shared world per env struct (rules in snake.h)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from puffer_core.errors import ConfigError
from puffer_envs import CEnv

__all__ = ["Snake"]

# Cell codes in the observation (snake.h).
EMPTY, FOOD, CORPSE, WALL, BODY, HEAD, OWN_BODY, OWN_HEAD = range(8)


class Snake(CEnv):
    """Multi-agent Snake: many snakes share one grid, eat food and corpses, see a local crop of cell codes.

    `num_snakes` snakes (agents) and `num_food` food on a `width` x `height` grid per env. Each agent
    sees a (2 * vision + 1)^2 uint8 crop of cell codes around its head and picks one of 4 directions.
    A snake's life is one episode; it respawns at once after dying.
    """

    header = "snake.h"
    struct = "Snake"
    config = {
        "width": 640,
        "height": 360,
        "num_snakes": 256,
        "num_food": 4096,
        "vision": 5,
        "max_snake_length": 200,
        "leave_corpse_on_death": 1,
        "reward_food": 0.1,
        "reward_corpse": 0.1,
        "reward_death": -1.0,
    }
    renderer = "puffer_envs_snake.render:SnakeRenderer"
    keymap = {"UP": 0, "DOWN": 1, "LEFT": 2, "RIGHT": 3, "W": 0, "S": 1, "A": 2, "D": 3}
    policy = "puffer_envs_snake.policy:Policy"

    @classmethod
    def check_config(cls, config):
        for key in ("width", "height", "num_snakes", "vision", "max_snake_length"):
            if config[key] < 1:
                raise ConfigError(f"snake config {key} must be at least 1, got {config[key]}")
        if config["num_food"] < 0:
            raise ConfigError(f"snake config num_food must be 0 or more, got {config['num_food']}")
        # A respawning snake needs a free (or corpse) cell even when every other snake is at full length
        # and all food is out: size the grid for that worst case.
        cells = config["width"] * config["height"]
        needed = config["num_snakes"] * config["max_snake_length"] + config["num_food"] + 1
        if cells < needed:
            raise ConfigError(f"snake grid {config['width']}x{config['height']} has {cells} cells, fewer than the "
                              f"{needed} that num_snakes * max_snake_length + num_food + 1 can occupy: enlarge the "
                              "grid or lower num_snakes, max_snake_length or num_food")
        if (config["height"] + 2 * config["vision"]) * (config["width"] + 2 * config["vision"]) >= 2**31:
            raise ConfigError("snake grid too large: (height + 2 * vision) * (width + 2 * vision) must fit a C int")

    @classmethod
    def make_spaces(cls, config):
        side = 2 * config["vision"] + 1
        return spaces.Box(0, OWN_HEAD, (side, side), np.uint8), spaces.Discrete(4)

    @classmethod
    def agents_per_env(cls, config):
        return config["num_snakes"]

    def keys_to_action(self, pressed: set[str]) -> int:
        """Keyboard play (`puffer-envs play snake`) steers snake 0; with no key held it keeps going."""
        for key, action in self.keymap.items():
            if key in pressed:
                return action
        return int(self.envs[0].direction[0])

