"""A policy for sanity-dict (imported by puffer-train only, through DictCue.policy): it unflattens the
emulated Dict row and one-hot encodes the cue instead of feeding its id as a magnitude."""

from __future__ import annotations

import torch
from puffer_core.emulation import unflatten
from torch import nn

from .dict_env import observation_space


class DictPolicy(nn.Module):
    def __init__(self, observation_space_, action_space, hidden_size: int = 32, cues: int = 4):
        super().__init__()
        self.hidden_size = hidden_size
        self.original = observation_space(cues)
        self.cues = cues
        self.encoder = nn.Sequential(nn.Linear(cues + 3, hidden_size), nn.ReLU())
        self.actor = nn.Linear(hidden_size, int(action_space.n))
        self.value = nn.Linear(hidden_size, 1)

    def encode_observations(self, observations: torch.Tensor) -> torch.Tensor:
        parts = unflatten(observations, self.original)
        cue = nn.functional.one_hot(parts["cue"].long().clamp(0, self.cues - 1), self.cues).float()
        return self.encoder(torch.cat([cue, parts["noise"].float()], 1))

    def decode_actions(self, hidden: torch.Tensor):
        return self.actor(hidden), self.value(hidden)
