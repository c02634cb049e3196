"""The segmented experience buffer: `[segments, horizon]` rows filled in place during the rollout.

Each agent writes its next step into its current segment. When that segment fills, the agent takes the
next free one. Collection stops when every segment is full. Training then reads whole segments as they
lie: no sort, no gather copy. Async vector backends hand back arbitrary batches of agents; the
bookkeeping below is per agent, so batches may arrive in any order and size.

Row t of a segment holds observation t, the action taken on it (with its log-prob and value), and the
reward/done flags that arrived *with* observation t (results of action t-1). GAE therefore uses
rewards[t+1] and starts[t+1] for row t, and the last row of each segment only bootstraps the value:
it gets no advantage of its own and is masked out of the losses.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from puffer_core import buffers as buf


def torch_dtype(np_dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, np_dtype)).dtype


class Claim(NamedTuple):
    """Where a batch of agents writes this step; positions index the batch's `ids`."""

    record: np.ndarray  # positions of the agents that record (the others found no free segment)
    segments: np.ndarray  # their segments
    steps: np.ndarray  # their rows in those segments
    new: np.ndarray  # positions of the agents that just started a segment


class Experience:
    def __init__(self, num_agents: int, segments: int, horizon: int, observation_space, action_space,
                 device: torch.device, lstm_size: int | None = None):
        S, T = segments, horizon
        self.segments, self.horizon, self.device = S, T, device
        obs_shape = buf.observation_shape(observation_space)
        self.obs = torch.zeros((S, T, *obs_shape), dtype=torch_dtype(buf.observation_dtype(observation_space)),
                               device=device)
        self.continuous = buf.action_bounds(action_space) is None
        self.actions = torch.zeros((S, T, *buf.action_shape(action_space)),
                                   dtype=torch.float32 if self.continuous else torch.int64, device=device)
        self.logprobs = torch.zeros((S, T), device=device)
        self.values = torch.zeros((S, T), device=device)
        self.rewards = torch.zeros((S, T), device=device)
        self.starts = torch.zeros((S, T), device=device)  # 1: this row's observation begins an episode
        self.masks = torch.zeros((S, T), device=device)  # the env's mask: 0 rows don't train
        self.ratio = torch.ones((S, T), device=device)  # latest importance ratio per row (V-trace)
        self.state = None
        if lstm_size:
            self.state = (torch.zeros(S, lstm_size, device=device), torch.zeros(S, lstm_size, device=device))
        # Per-agent bookkeeping (host side): the segment and step each agent writes next.
        self.segment_of = np.full(num_agents, -1, np.int64)
        self.step_of = np.zeros(num_agents, np.int64)
        self.claimed = 0  # segments handed out this rollout
        self.filled = 0  # segments completely written this rollout

    @property
    def full(self) -> bool:
        return self.filled >= self.segments

    def start_rollout(self) -> None:
        self.claimed = self.filled = 0

    def forget_agents(self) -> None:
        """After an env reset: no agent is part-way through a segment."""
        self.segment_of[:] = -1
        self.step_of[:] = 0
        self.claimed = self.filled = 0

    def claim(self, ids: np.ndarray) -> Claim:
        """Where the batch `ids` writes; agents left without a free segment don't record."""
        seg = self.segment_of[ids]
        new = np.flatnonzero(seg < 0)
        if len(new):
            new = new[: self.segments - self.claimed]
            seg[new] = np.arange(self.claimed, self.claimed + len(new))
            self.segment_of[ids[new]] = seg[new]
            self.claimed += len(new)
        record = np.flatnonzero(seg >= 0)
        return Claim(record, seg[record], self.step_of[ids[record]], new)

    def advance(self, ids: np.ndarray) -> None:
        """The agents `ids` (which recorded) move to their next row; full segments are released."""
        self.step_of[ids] += 1
        done = ids[self.step_of[ids] >= self.horizon]
        if len(done):
            self.segment_of[done] = -1
            self.step_of[done] = 0
            self.filled += len(done)

    def advantages(self, gamma: float, lam: float, rho_clip: float = float("inf"),
                   c_clip: float = float("inf")) -> torch.Tensor:
        """GAE over each segment, bootstrapped from the value at its last row. With importance ratios
        other than 1 (V-trace), the TD error is weighted by min(ratio, rho_clip) and the trace by
        min(ratio, c_clip); with ratio 1 this is plain GAE."""
        rho = self.ratio.clamp(max=rho_clip)
        c = self.ratio.clamp(max=c_clip)
        adv = torch.zeros_like(self.values)
        last = torch.zeros(self.segments, device=self.device)
        for t in reversed(range(self.horizon - 1)):
            nonterminal = 1.0 - self.starts[:, t + 1]
            delta = self.rewards[:, t + 1] + gamma * self.values[:, t + 1] * nonterminal - self.values[:, t]
            last = rho[:, t] * delta + gamma * lam * c[:, t] * nonterminal * last
            adv[:, t] = last
        return adv
