"""Training speed: agent-steps/s of `puffer-train` and time until solved, beside Stable-Baselines3.

Rows (each measured once per bench run, in one process, one after another):
  - training agent-steps/s of `puffer-train cartpole` with the plugin's defaults, and with a
    throughput configuration (big batches, one epoch),
  - wall-clock seconds and agent steps until cartpole's mean episode return over the last 100
    finished episodes reaches 475 (`--train.target 475`, the same criterion as for SB3 below),
  - the same for `puffer-train pong` until the agent wins 90% of points (Log field win_fraction),
  - Stable-Baselines3 PPO on Gymnasium CartPole-v1 with rl-zoo's tuned hyperparameters: its
    agent-steps/s and seconds until the mean return of its last 100 episodes reaches 475.
`quick=True` caps every run so the module takes a few minutes.
"""

from __future__ import annotations

import tempfile
import time

from harness import Row

CARTPOLE_TARGET = 475.0
PONG_TARGET = 0.9  # fraction of points won


def puffer_run(env: str, /, **sections) -> dict:
    import puffer_core
    import puffer_train

    if env not in puffer_core.list_envs():
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        train = {"data_dir": tmp, "dashboard": False, "eval_episodes": 0, **sections.pop("train", {})}
        return puffer_train.train(env, quiet=True, train=train, **sections)


def sb3_cartpole(quick: bool, max_seconds: float) -> dict:
    """rl-zoo's PPO hyperparameters for CartPole-v1; stops at mean return 475 or after max_seconds."""
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class Target(BaseCallback):
        def __init__(self):
            super().__init__()
            self.start = time.perf_counter()
            self.time = self.steps = None

        def _on_step(self) -> bool:
            buf = self.model.ep_info_buffer
            if self.time is None and len(buf) >= 20 and sum(e["r"] for e in buf) / len(buf) >= CARTPOLE_TARGET:
                self.time, self.steps = time.perf_counter() - self.start, self.num_timesteps
                return False
            return time.perf_counter() - self.start < max_seconds

    env = make_vec_env(lambda: gym.make("CartPole-v1"), n_envs=8, seed=0)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                learning_rate=lambda progress: progress * 0.001, clip_range=lambda progress: progress * 0.2,
                seed=0, device="cpu", verbose=0)
    callback = Target()
    start = time.perf_counter()
    model.learn(total_timesteps=100_000 if quick else 300_000, callback=callback)
    wall = time.perf_counter() - start
    env.close()
    return {"sps": model.num_timesteps / wall, "steps": model.num_timesteps, "target_time": callback.time,
            "target_steps": callback.steps}


def _target_note(result: dict, what: str) -> str:
    if result.get("target_time") is None:
        return f"{what} NOT reached in {result.get('global_step', result.get('steps', 0)):,} steps"
    return f"{what} after {result['target_steps']:,} agent steps"


def rows(quick: bool) -> list[Row]:
    import torch

    torch.set_num_threads(1)
    out = []
    # cartpole, the plugin's defaults, stopped once solved: SPS and time to 475.
    cp = puffer_run("cartpole", train={"target": CARTPOLE_TARGET, "target_metric": "episode_return"})
    if cp:
        agents = cp["agents"]
        out.append(Row("train SPS: cartpole", "puffer-train cartpole (plugin defaults)", agents, 1, cp["sps"],
                       [cp["sps"]], f"{cp['global_step']:,} steps in {cp['wall_time']:.1f} s"))
        seconds = cp["target_time"] if cp["target_reached"] else float("nan")
        out.append(Row("train: seconds to cartpole mean return 475", "puffer-train cartpole", agents, 1, seconds,
                       [seconds], "unit: seconds; mean of its last 100 episodes; " + _target_note(cp, "475")))
        # Throughput configuration: big batches, one pass over them.
        big = puffer_run("cartpole", env={"num_envs": 4096},
                         train={"total_timesteps": 1_000_000 if quick else 4_000_000, "horizon": 32,
                                "minibatch_size": 32768, "update_epochs": 1})
        out.append(Row("train SPS: cartpole", "puffer-train cartpole (4096 envs x 32, minibatch 32k, 1 epoch)",
                       big["agents"], 1, big["sps"], [big["sps"]],
                       f"{big['global_step']:,} steps in {big['wall_time']:.1f} s"))

    # Stable-Baselines3, rl-zoo hyperparameters, beside it in the same run.
    try:
        sb3 = sb3_cartpole(quick, max_seconds=120 if quick else 600)
    except ImportError as e:
        sb3 = None
        out.append(Row("train SPS: cartpole", "stable-baselines3 PPO (rl-zoo)", 8, 1, float("nan"), [],
                       f"not installed: {e}"))
    if sb3 is not None:
        out.append(Row("train SPS: cartpole", "stable-baselines3 PPO CartPole-v1 (rl-zoo: 8 envs x 32, 20 epochs)",
                       8, 1, sb3["sps"], [sb3["sps"]], f"{sb3['steps']:,} steps"))
        seconds = sb3["target_time"] if sb3["target_time"] is not None else float("nan")
        out.append(Row("train: seconds to cartpole mean return 475", "stable-baselines3 PPO (rl-zoo)", 8, 1, seconds,
                       [seconds], "unit: seconds; mean of its last 100 episodes; " + _target_note(sb3, "475")))

    # pong: SPS, and time until 90% of points are won (capped in quick mode).
    pong = puffer_run("pong", train={"target": PONG_TARGET, "target_metric": "win_fraction",
                                            **({"total_timesteps": 3_000_000} if quick else {})})
    if pong:
        out.append(Row("train SPS: pong", "puffer-train pong (plugin defaults)", pong["agents"], 1, pong["sps"],
                       [pong["sps"]],
                       f"{pong['global_step']:,} steps in {pong['wall_time']:.1f} s"))
        seconds = pong["target_time"] if pong["target_reached"] else float("nan")
        out.append(Row("train: seconds to pong 90% of points", "puffer-train pong", pong["agents"], 1, seconds,
                       [seconds],
                       "unit: seconds; " + _target_note(pong, "90% of points")
                       + (" (quick: capped at 3M steps)" if quick else "")))
    return out


if __name__ == "__main__":
    import sys

    for row in rows("--quick" in sys.argv):
        print(row)
