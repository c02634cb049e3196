"""Sanity envs with known optimal returns (see envs.py); registered by plugin.py."""

from .envs import Bandit, Continuous, Coop, Duel, Memory, MultiDiscreteCue

__all__ = ["Bandit", "Continuous", "Coop", "Duel", "Memory", "MultiDiscreteCue"]
