"""Atari 2600 games (ale-py) as Puffer envs: `puffer_core.make("atari:pong", num_envs=8)`."""

from .atari import Atari, AtariGame

__all__ = ["Atari", "AtariGame"]
