"""Play a checkpoint: episode statistics, optionally rendered."""

from __future__ import annotations

from pathlib import Path

import puffer_core
import torch

from . import checkpoint as ckpt
from . import config as cfg
from .policy import make_policy
from .trainer import make_vec, pick_device, run_episodes


def evaluate(env: str, checkpoint: str | Path, *, episodes: int = 10, render: bool = False,
             deterministic: bool = False, layers: list[tuple[dict, str]] | None = None, on_log=None,
             max_seconds: float = 600.0) -> dict:
    """Run the policy stored in `checkpoint` on `env` for `episodes` episodes; return their mean stats.

    The checkpoint's own config is used (layers, e.g. CLI flags, go over it). With `render`, one env
    object is made with render_mode="human" and drawn every step."""
    spec = puffer_core.get_spec(env)
    data = ckpt.load(checkpoint, env)
    config = cfg.build([(data["config"], f"checkpoint {checkpoint}"), *(layers or [])])
    device = pick_device(config.train.device)
    env_overrides = {}
    if render:
        config.vec = cfg.VecConfig()  # one env object in this process
        env_overrides["render_mode"] = "human"
        if "num_envs" in config.env:
            env_overrides["num_envs"] = 1
    try:
        vec = make_vec(spec, config, config.train.seed, env_overrides)
    except (TypeError, cfg.ConfigError) as e:
        if render and "render_mode" in str(e):
            raise cfg.ConfigError(f"env {env!r} does not take render_mode, so it cannot be rendered") from None
        raise
    try:
        agent = make_policy(spec, vec.single_observation_space, vec.single_action_space, config.policy).to(device)
        ckpt.load_weights(agent, data, checkpoint)
        with torch.no_grad():
            return run_episodes(vec, agent, device, episodes, seed=config.train.seed + 2_000_003,
                                deterministic=deterministic, render=render, max_steps=10**9,
                                max_seconds=max_seconds, on_log=on_log)
    finally:
        vec.close()
