"""The MOBA policy (imported by the trainer only): a small CNN over the one-hot 11x11 crop and an
MLP over the hero's 26 bytes, concatenated; one head per action dimension. Set `[policy]
recurrent = true` and the trainer puts an LSTM between encode_observations and decode_actions."""

from __future__ import annotations

import numpy as np
import torch
from puffer_train.policy import layer_init
from torch import nn

from . import CROP, ENTITY_TYPES, OBS_SIZE, SELF_FEATURES

SCALED_CHANNELS = 3  # health fraction, side, terrain class


class Policy(nn.Module):
    def __init__(self, observation_space, action_space, hidden_size: int = 128, cnn_channels: int = 32, **kwargs):
        super().__init__()
        size = int(np.prod(observation_space.shape))
        if size != OBS_SIZE:
            raise ValueError(f"the MOBA policy expects {OBS_SIZE}-byte observations, got {observation_space.shape}")
        self.hidden_size = hidden_size
        self.nvec = [int(n) for n in action_space.nvec]
        half = hidden_size // 2
        # Stride 2 first: the 11x11 crop is small and CPU convolutions dominate training time.
        self.cnn = nn.Sequential(
            layer_init(nn.Conv2d(ENTITY_TYPES + SCALED_CHANNELS, cnn_channels, 3, stride=2)), nn.ReLU(),  # 11 -> 5
            layer_init(nn.Conv2d(cnn_channels, cnn_channels, 3)), nn.ReLU(),                              # 5 -> 3
            nn.Flatten(),
            layer_init(nn.Linear(cnn_channels * 3 * 3, hidden_size - half)), nn.ReLU(),
        )
        self.mlp = nn.Sequential(layer_init(nn.Linear(SELF_FEATURES, half)), nn.ReLU())
        self.project = nn.Sequential(layer_init(nn.Linear(hidden_size, hidden_size)), nn.ReLU())
        self.actor = layer_init(nn.Linear(hidden_size, sum(self.nvec)), std=0.01)
        self.value = layer_init(nn.Linear(hidden_size, 1), std=1.0)
        self.register_buffer("type_ids", torch.arange(ENTITY_TYPES, dtype=torch.uint8).view(1, ENTITY_TYPES, 1),
                             persistent=False)

    def encode_observations(self, observations: torch.Tensor) -> torch.Tensor:
        obs = observations.reshape(observations.shape[0], -1)
        plane = CROP * CROP
        # Entity types are ids: one-hot them, channels first (a byte outside 0..10 gives all zeros).
        onehot = (obs[:, :plane].unsqueeze(1) == self.type_ids).float().view(-1, ENTITY_TYPES, CROP, CROP)
        scaled = obs[:, plane:4 * plane].float().view(-1, SCALED_CHANNELS, CROP, CROP) / 255.0
        crop = self.cnn(torch.cat([onehot, scaled], dim=1))
        hero = self.mlp(obs[:, 4 * plane:].float() / 255.0)
        return self.project(torch.cat([crop, hero], dim=1))

    def decode_actions(self, hidden: torch.Tensor):
        logits = list(torch.split(self.actor(hidden), self.nvec, dim=1))
        return logits, self.value(hidden)
