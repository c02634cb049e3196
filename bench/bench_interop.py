"""Interop: Stable-Baselines3 on Puffer's C cartpole (puffer_core.integrations.sb3) beside SB3 on
Gymnasium's CartPole-v1, and what opt-in final observations cost.

Rows:
  - SB3 PPO with rl-zoo's CartPole-v1 hyperparameters (8 envs x 32 steps, 20 epochs, seed 0) on
    `PufferVecEnv.make("cartpole", num_envs=8)` and on `make_vec_env("CartPole-v1", n_envs=8)`:
    training agent-steps/s and seconds until the mean return of SB3's last 100 episodes reaches 475
    (SB3's ep_info_buffer, filled from the adapter's Monitor-style `episode` infos). Both runs use one
    torch thread and are run one after the other, so machine drift hits them differently: compare
    with care.
  - C cartpole env stepping (4096 copies, one core) with final observations off and on, interleaved:
    off is the default and must match the `envs: cartpole` rows; on adds the copy at episode ends.
"""

from __future__ import annotations

import numpy as np
from bench_train import sb3_cartpole  # the rl-zoo PPO run, on any SB3 VecEnv
from harness import Row, interleaved, median


def sb3_rows(quick: bool) -> list[Row]:
    try:
        import gymnasium as gym
        import torch
        from puffer_core.integrations.sb3 import PufferVecEnv
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError as e:
        return [Row("interop: SB3 PPO cartpole", "stable-baselines3", 8, 1, float("nan"), [], f"not installed: {e}")]
    import puffer_core

    if "cartpole" not in puffer_core.list_envs():
        return []
    torch.set_num_threads(1)
    out = []
    makers = (("SB3 PPO on Puffer C cartpole (PufferVecEnv)", lambda: PufferVecEnv.make("cartpole", num_envs=8)),
              ("SB3 PPO on Gymnasium CartPole-v1 (DummyVecEnv)",
               lambda: make_vec_env(lambda: gym.make("CartPole-v1"), n_envs=8, seed=0)))
    for name, make in makers:
        result = sb3_cartpole(quick, max_seconds=120 if quick else 600, venv=make())
        out.append(Row("interop: SB3 PPO cartpole, training SPS", name, 8, 1, result["sps"], [result["sps"]],
                       f"{result['steps']:,} steps (rl-zoo: 8 envs x 32, 20 epochs, seed 0)"))
        seconds = result["target_time"] if result["target_time"] is not None else float("nan")
        note = ("NOT reached" if result["target_time"] is None else f"after {result['target_steps']:,} agent steps")
        out.append(Row("interop: SB3 PPO cartpole, seconds to mean return 475", name, 8, 1, seconds, [seconds],
                       f"unit: seconds; mean of SB3's last 100 episodes; 475 {note}"))
    return out


def final_obs_rows(quick: bool) -> list[Row]:
    import puffer_core

    if "cartpole" not in puffer_core.list_envs():
        return []
    agents = 4096
    candidates = {}
    for label, on in (("final_observations off (default)", False), ("final_observations on", True)):
        env = puffer_core.make("cartpole", num_envs=agents, final_observations=on)
        env.reset(seed=0)
        actions = np.random.default_rng(0).integers(0, 2, agents).astype(np.int32)
        env.actions[:] = actions
        candidates[label] = ((lambda env=env: env.step(env.actions)), agents)
    runs = interleaved(candidates, repeats=3 if quick else 7, seconds=0.5 if quick else 1.0)
    return [Row("interop: C cartpole env step, final observations", label, agents, 1, median(r), r,
                "random actions (episodes end every ~20 steps), one core")
            for label, r in runs.items()]


def rows(quick: bool) -> list[Row]:
    return final_obs_rows(quick) + sb3_rows(quick)


if __name__ == "__main__":
    import sys

    for row in rows("--quick" in sys.argv):
        print(row)
