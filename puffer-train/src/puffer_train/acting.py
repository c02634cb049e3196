"""Running a policy on a vector env: the device, the envs, the actor that steps them, evaluation episodes.

Shared by training (trainer.py), `puffer-train eval` (evaluate.py) and `puffer-train elo` (elo.py).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import numpy as np
import puffer_core
import torch
from puffer_core import buffers as buf
from puffer_core.errors import ConfigError

from . import config as cfg
from .logger import EpisodeWindow
from .policy import as_float32, sample


def pick_device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"train.device {name!r} is not a torch device ({e}); use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is cuda but this torch build sees no CUDA GPU; use --train.device cpu")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_vec(spec, config: cfg.Config, seed: int, env_overrides: dict | None = None):
    v = config.vec
    return puffer_core.vector.make(spec, backend=v.backend, num_env_objects=v.num_env_objects,
                                   num_workers=v.num_workers or None, envs_per_batch=v.envs_per_batch or None,
                                   seed=seed,
                                   env_kwargs={**config.env, **(env_overrides or {})})


def action_converter(space) -> Callable[[np.ndarray], np.ndarray]:
    """How the policy's sampled actions (a host array) become the env's: Box samples clipped into the
    space (the Gaussian is unbounded), integer actions shifted by the space's `start` (heads count from 0)."""
    if buf.action_bounds(space) is None:
        low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
        return lambda actions: np.clip(actions, low, high)
    start = np.asarray(getattr(space, "start", 0))
    if not np.any(start):
        return lambda actions: actions
    return lambda actions: actions + start


def episode_starts(terminals, truncations, device) -> torch.Tensor:
    """1.0 for the agents whose observation begins a new episode (the previous one just ended)."""
    return torch.from_numpy(np.maximum(np.asarray(terminals), np.asarray(truncations))).to(device).float()


class Actor:
    """Runs the policy on the batches a vector env hands back and sends the actions in place.

    Keeps the LSTM state of every agent between steps, zeroed where an episode begins."""

    def __init__(self, vec, agent, device: torch.device, bf16: bool = False):
        self.vec, self.agent, self.device, self.bf16 = vec, agent, device, bf16
        self.pinned: dict[str, torch.Tensor] = {}
        self.num_agents = vec.num_agents
        self.all_ids = np.arange(self.num_agents)
        self.to_env_actions = action_converter(vec.single_action_space)
        self.reset_state()

    def reset_state(self) -> None:
        self.state = self.agent.initial_state(self.num_agents, self.device) if self.agent.recurrent else None

    def recv(self):
        obs, rewards, terminals, truncations, _infos, ids, masks = self.vec.recv()
        ids = np.asarray(ids, np.int64).reshape(-1)
        whole = len(ids) == self.num_agents and np.array_equal(ids, self.all_ids)
        return obs, rewards, terminals, truncations, ids, masks, whole

    def to_device(self, array, name: str) -> torch.Tensor:
        """A host array as a tensor on the device. On CUDA through a pinned staging buffer kept per name,
        copied without blocking; reusing it next step is safe because the action copy back (send) waits
        for everything queued before it."""
        host = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type != "cuda":
            return host
        staging = self.pinned.get(name)
        if staging is None or staging.shape != host.shape or staging.dtype != host.dtype:
            # A batch of another size (async backends): the caching host allocator keeps a replaced
            # buffer alive until the copies queued from it are done.
            staging = self.pinned[name] = torch.empty(host.shape, dtype=host.dtype, pin_memory=True)
        staging.copy_(host)
        return staging.to(self.device, non_blocking=True)

    @torch.inference_mode()
    def act(self, obs, starts: torch.Tensor, ids: np.ndarray, whole: bool, deterministic: bool = False):
        """(observations as a tensor, actions, log-probs, values, the LSTM state the batch started from)."""
        o = self.to_device(obs, "obs")
        state = None
        if self.state is not None:
            keep = (1.0 - starts).unsqueeze(1)  # zero the state where an episode begins
            rows = slice(None) if whole else self.to_device(ids, "ids")
            state = (self.state[0][rows] * keep, self.state[1][rows] * keep)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits, value, new_state = self.agent.step(o, state)
        action, logprob = sample(as_float32(logits), deterministic)
        if self.state is not None:
            self.state[0][rows] = new_state[0].float()
            self.state[1][rows] = new_state[1].float()
        return o, action, logprob, value.float(), state

    def send(self, action: torch.Tensor, ids: np.ndarray, whole: bool) -> None:
        host = self.to_env_actions(action.cpu().numpy())
        if whole:
            self.vec.actions[...] = host
        else:
            self.vec.actions[ids] = host
        self.vec.send(self.vec.actions)


def run_episodes(vec, agent, device, episodes: int, seed: int, deterministic: bool = False, render: bool = False,
                 max_steps: int = 10_000, max_seconds: float = 120.0, on_log=None, on_frame=None) -> dict:
    """Play until `episodes` episodes finished (or a step/time cap) and return their mean statistics.
    With `render`, vec.render() runs every step and `on_frame` (if given) receives what it returns."""
    agent.eval()
    actor = Actor(vec, agent, device)
    vec.async_reset(seed)
    vec.log()  # drop statistics of episodes from before the reset
    window = EpisodeWindow(math.inf)  # every episode counts
    start = time.monotonic()
    for step in range(max_steps):
        obs, rewards, terminals, truncations, ids, masks, whole = actor.recv()
        starts = episode_starts(terminals, truncations, device)
        _, action, _, _, _ = actor.act(obs, starts, ids, whole, deterministic)
        actor.send(action, ids, whole)
        if render:
            frame = vec.render()
            if on_frame is not None:
                on_frame(frame)
        if step % 8 == 7:
            stats = vec.log()
            window.add(stats)
            if stats and on_log is not None:
                on_log(window.mean())
            if window.n >= episodes or time.monotonic() - start > max_seconds:
                break
    window.add(vec.log())
    agent.train()
    return window.mean()
