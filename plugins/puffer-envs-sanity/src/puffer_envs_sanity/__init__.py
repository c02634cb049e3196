"""Sanity envs with known optimal returns (see envs.py); registered by plugin.py."""

from .envs import Bandit, Continuous, Coop, Memory, MultiDiscreteCue

__all__ = ["Bandit", "Continuous", "Coop", "Memory", "MultiDiscreteCue"]
