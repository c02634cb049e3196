"""The {{ cookiecutter.name }} env: the game is C ({{ cookiecutter.name }}.h), this is its Python class."""

import numpy as np
from gymnasium import spaces
from puffer_core import ConfigError
from puffer_envs import CEnv


class {{ cookiecutter.class_name }}(CEnv):
    # The docstring's first line is the env's description (`puffer-envs list` shows it).
    {{ cookiecutter._description_py }}

    header = "{{ cookiecutter.name }}.h"
    struct = "{{ cookiecutter.class_name }}"
    config = {"size": 8, "max_steps": 64}  # struct fields set from kwargs, with their defaults
    renderer = "{{ cookiecutter.package }}.render:{{ cookiecutter.class_name }}Renderer"
    keymap = {"UP": 1, "DOWN": 2, "LEFT": 3, "RIGHT": 4}  # puffer-envs play: nothing held = stay

    @classmethod
    def check_config(cls, config):
        if not 2 <= config["size"] <= 64:
            raise ConfigError(f"size must be between 2 and 64, got {config['size']}")
        if config["max_steps"] < 1:
            raise ConfigError(f"max_steps must be positive, got {config['max_steps']}")

    @classmethod
    def make_spaces(cls, config):
        size = config["size"]
        return spaces.Box(0, 1, (2 * size * size,), np.float32), spaces.Discrete(5)


__all__ = ["{{ cookiecutter.class_name }}"]
