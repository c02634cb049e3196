"""The MOBA policy (imported by the trainer only): a small CNN over the one-hot 11x11 crop and an
MLP over the hero's 26 bytes, concatenated; one head per action dimension. Set `[policy]
recurrent = true` and the trainer puts an LSTM between encode_observations and decode_actions."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CROP = 11
ENTITY_TYPES = 11
SCALED_CHANNELS = 3  # health fraction, side, terrain class
SELF_FEATURES = 26


def layer_init(layer: nn.Module, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Module:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Policy(nn.Module):
    def __init__(self, observation_space, action_space, hidden_size: int = 128, cnn_channels: int = 32, **kwargs):
        super().__init__()
        size = int(np.prod(observation_space.shape))
        if size != CROP * CROP * 4 + SELF_FEATURES:
            raise ValueError(f"the MOBA policy expects 510-byte observations, got shape {observation_space.shape}")
        self.hidden_size = hidden_size
        self.nvec = [int(n) for n in action_space.nvec]
        half = hidden_size // 2
        self.cnn = nn.Sequential(
            layer_init(nn.Conv2d(ENTITY_TYPES + SCALED_CHANNELS, cnn_channels, 3)), nn.ReLU(),   # 11 -> 9
            layer_init(nn.Conv2d(cnn_channels, cnn_channels, 3, stride=2)), nn.ReLU(),          # 9 -> 4
            nn.Flatten(),
            layer_init(nn.Linear(cnn_channels * 4 * 4, hidden_size - half)), nn.ReLU(),
        )
        self.mlp = nn.Sequential(layer_init(nn.Linear(SELF_FEATURES, half)), nn.ReLU())
        self.project = nn.Sequential(layer_init(nn.Linear(hidden_size, hidden_size)), nn.ReLU())
        self.actor = layer_init(nn.Linear(hidden_size, sum(self.nvec)), std=0.01)
        self.value = layer_init(nn.Linear(hidden_size, 1), std=1.0)

    def encode_observations(self, observations: torch.Tensor) -> torch.Tensor:
        obs = observations.reshape(observations.shape[0], -1)
        plane = CROP * CROP
        # Entity types are ids: one-hot them (clamped, so a stray byte cannot index out of range).
        types = obs[:, :plane].long().clamp_(0, ENTITY_TYPES - 1)
        onehot = F.one_hot(types, ENTITY_TYPES).float().view(-1, CROP, CROP, ENTITY_TYPES).permute(0, 3, 1, 2)
        scaled = obs[:, plane:4 * plane].float().view(-1, SCALED_CHANNELS, CROP, CROP) / 255.0
        crop = self.cnn(torch.cat([onehot, scaled], dim=1))
        hero = self.mlp(obs[:, 4 * plane:].float() / 255.0)
        return self.project(torch.cat([crop, hero], dim=1))

    def decode_actions(self, hidden: torch.Tensor):
        logits = list(torch.split(self.actor(hidden), self.nvec, dim=1))
        return logits, self.value(hidden)

    def forward(self, observations: torch.Tensor):
        return self.decode_actions(self.encode_observations(observations))
