"""A small CNN for Snake, used by `puffer-train snake` (imported by the trainer only).

The crop holds cell codes (categories, not magnitudes), so they are one-hot encoded into one
channel per code before the convolutions.
"""

from __future__ import annotations

import torch
from puffer_train.policy import layer_init
from torch import nn

CODES = 8  # empty, food, corpse, wall, body, head, own body, own head (snake.h)


class Policy(nn.Module):
    def __init__(self, observation_space, action_space, hidden_size: int = 128, channels: int = 16):
        super().__init__()
        self.hidden_size = hidden_size
        side = observation_space.shape[0]
        # One strided 3x3 conv keeps the forward pass cheap for thousands of snakes on a CPU.
        body = nn.Sequential(layer_init(nn.Conv2d(CODES, channels, 3, stride=2 if side >= 7 else 1)), nn.ReLU(),
                             nn.Flatten())
        with torch.no_grad():
            flat = body(torch.zeros(1, CODES, side, side)).shape[1]
        self.encoder = nn.Sequential(body, layer_init(nn.Linear(flat, hidden_size)), nn.ReLU())
        self.actor = layer_init(nn.Linear(hidden_size, int(action_space.n)), std=0.01)
        self.value = layer_init(nn.Linear(hidden_size, 1), std=1.0)

    def encode_observations(self, observations: torch.Tensor) -> torch.Tensor:
        codes = observations.long().clamp(0, CODES - 1)
        onehot = nn.functional.one_hot(codes, CODES).permute(0, 3, 1, 2).float()
        return self.encoder(onehot)

    def decode_actions(self, hidden: torch.Tensor):
        return self.actor(hidden), self.value(hidden)
