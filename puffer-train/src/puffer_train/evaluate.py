"""Play a checkpoint: episode statistics, optionally rendered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import puffer_core
import torch

from . import checkpoint as ckpt
from . import config as cfg
from .acting import make_vec, pick_device, run_episodes
from .files import write_atomically
from .policy import make_policy


def evaluate(env: str, checkpoint: str | Path, *, episodes: int = 10, render: bool = False,
             frames: str | Path | None = None, max_frames: int = 2000, deterministic: bool = False,
             layers: list[tuple[dict, str]] | None = None, on_log=None, max_seconds: float = 600.0) -> dict:
    """Run the policy stored in `checkpoint` on `env` for `episodes` episodes; return their mean stats.

    The checkpoint's own config is used (layers, e.g. CLI flags, go over it). With `render`, one env
    object is made with render_mode="human" and drawn every step. With `frames` (a .npz path), it is
    made with render_mode="rgb_array" instead and up to `max_frames` frames of env 0 are saved there
    as one uint8 array `frames` of shape (N, height, width, 3)."""
    spec = puffer_core.get_spec(env)
    data = ckpt.load(checkpoint, env)
    config = cfg.build([(data["config"], f"checkpoint {checkpoint}"), *(layers or [])])
    device = pick_device(config.train.device)
    env_overrides = {}
    mode = "rgb_array" if frames is not None else "human" if render else None
    if mode:
        config.vec = cfg.VecConfig()  # one env object in this process
        env_overrides["render_mode"] = mode
        if "num_envs" in config.env:
            env_overrides["num_envs"] = 1
    try:
        vec = make_vec(spec, config, config.train.seed, env_overrides)
    except (TypeError, cfg.ConfigError) as e:
        if mode and "render_mode" in str(e):
            raise cfg.ConfigError(f"env {env!r} does not take render_mode, so it cannot be rendered") from None
        raise
    kept = []

    def keep(frame):
        if frame is not None and len(kept) < max_frames:
            kept.append(np.asarray(frame, np.uint8))

    try:
        agent = make_policy(spec, vec.single_observation_space, vec.single_action_space, config.policy).to(device)
        ckpt.load_weights(agent, data, checkpoint)
        with torch.no_grad():
            stats = run_episodes(vec, agent, device, episodes, seed=config.train.seed + 2_000_003,
                                 deterministic=deterministic, render=mode is not None, max_steps=10**9,
                                 max_seconds=max_seconds, on_log=on_log, on_frame=keep if frames else None)
    finally:
        vec.close()
    if frames is not None:
        if not kept:
            raise cfg.ConfigError(f"env {env!r} returned no frames from render() in rgb_array mode")
        write_atomically(frames, lambda f: np.savez_compressed(f, frames=np.stack(kept)))
    return stats
