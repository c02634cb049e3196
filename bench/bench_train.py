"""Training speed: agent-steps/s of `puffer-train` and time until solved, beside Stable-Baselines3.

Rows (each measured once per bench run, in one process, one after another):
  - training agent-steps/s of `puffer-train cartpole` with the plugin's defaults, and with a
    throughput configuration (big batches, one epoch),
  - wall-clock seconds and agent steps until cartpole's mean episode return over the last 100
    finished episodes reaches 475 (`--train.target 475`, the same criterion as for SB3 below),
  - the same for `puffer-train pong` until the agent wins 90% of points (Log field win_fraction),
  - Stable-Baselines3 PPO on Gymnasium CartPole-v1 with rl-zoo's tuned hyperparameters: its
    agent-steps/s and seconds until the mean return of its last 100 episodes reaches 475.
  - the trainer side by side with PufferLib 3.0's (`puffer train puffer_cartpole --vec.backend Serial`,
    its shipped cartpole policy and defaults, run in its own interpreter as in bench_pufferlib.py), same
    work: cartpole, 4096 agents in one process, horizon/BPTT 64, minibatch 32768, one update epoch, a
    one-layer 128-wide encoder with (and without) a 128-unit LSTM. Whole epochs (rollout + update)
    alternated between the two, medians; the ratio rows pair the epochs measured back to back.
    Goal: >= 1.3x PufferLib with the LSTM.
`quick=True` caps every run so the module takes a few minutes.
"""

from __future__ import annotations

import tempfile
import time

from harness import Row, median, rate

CARTPOLE_TARGET = 475.0
PONG_TARGET = 0.9  # fraction of points won


def puffer_run(env: str, /, **sections):
    """puffer_train.train's TrainResult, or None when the env is not installed."""
    import puffer_core
    import puffer_train

    if env not in puffer_core.list_envs():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        train = {"data_dir": tmp, "dashboard": False, "eval_episodes": 0, **sections.pop("train", {})}
        return puffer_train.train(env, quiet=True, train=train, **sections)


# -- side by side with PufferLib 3.0's trainer ---------------------------------------------------------

VS_GROUP = "train SPS: vs PufferLib 3.0 (cartpole, 4096 agents, BPTT 64, minibatch 32k, 1 epoch)"
VS_AGENTS = 4096
VS_HORIZON = 64
VS_MINIBATCH = 32768
VS_GOAL = 1.3

# Runs in PufferLib's interpreter; bench_pufferlib.PufferLib sends "seconds lstm|mlp" and reads agent-steps/s
# of whole epochs (evaluate + train), its trainer kept warm between requests.
PUFFERLIB_TRAINER = """
import os, sys, warnings
import torch
torch.set_num_threads(1)  # like ours; at its default (2) on this shared 2-core machine it ran 5-7x slower
warnings.filterwarnings("ignore")
reply = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # its dashboard prints go to the stderr file, not into the protocol
sys.path.insert(0, sys.argv[3])
from harness import rate
from pufferlib import pufferl

flags = ["--vec.backend", "Serial", "--train.device", "cpu", "--env.num-envs", sys.argv[1],
         "--train.bptt-horizon", "HORIZON", "--train.minibatch-size", "MINIBATCH", "--train.update-epochs", "1"]
trainers = {}


def trainer(kind):
    if kind not in trainers:
        sys.argv = ["puffer", *flags, *(["--rnn-name", "None"] if kind == "mlp" else [])]
        args = pufferl.load_config("puffer_cartpole")
        if kind == "mlp":
            args["rnn_name"], args["train"]["use_rnn"] = None, False
        vecenv = pufferl.load_env("puffer_cartpole", args)
        t = pufferl.PuffeRL(dict(**args["train"], env="puffer_cartpole"), vecenv, pufferl.load_policy(args, vecenv))
        start = t.global_step
        t.evaluate(), t.train()  # warm-up epoch; also how many agent steps one epoch is
        trainers[kind] = (t, t.global_step - start)
    return trainers[kind]


print("ready", file=reply, flush=True)
for line in sys.stdin:
    seconds, kind = line.split()
    t, per_epoch = trainer(kind)
    print(rate(lambda: (t.evaluate(), t.train()), per_epoch, float(seconds), warmup=0), file=reply, flush=True)
""".replace("HORIZON", str(VS_HORIZON)).replace("MINIBATCH", str(VS_MINIBATCH))


class OursEpoch:
    """Our trainer's epoch (rollout into the buffer + PPO update) at the side-by-side settings, kept warm."""

    def __init__(self, recurrent: bool, bf16: bool = False):
        import puffer_core
        import torch
        from puffer_train import trainer as tr
        from puffer_train.acting import Actor, make_vec
        from puffer_train.experience import Experience
        from puffer_train.policy import make_policy

        config, _ = tr.resolve_config("cartpole", env={"num_envs": VS_AGENTS},
                                      train={"horizon": VS_HORIZON, "minibatch_size": VS_MINIBATCH,
                                             "update_epochs": 1, "dashboard": False, "tensorboard": False,
                                             "bf16": bf16},
                                      policy={"recurrent": recurrent, "num_layers": 1, "hidden_size": 128})
        self.tr, self.t = tr, config.train
        spec = puffer_core.get_spec("cartpole")
        self.vec = make_vec(spec, config, self.t.seed)
        self.agent = make_policy(spec, self.vec.single_observation_space, self.vec.single_action_space,
                                 config.policy)
        self.params = sum(p.numel() for p in self.agent.parameters())
        self.optimizer = tr.make_optimizer(self.agent, self.t)
        self.exp = Experience(self.vec.num_agents, self.vec.num_agents, VS_HORIZON,
                              self.vec.single_observation_space, self.vec.single_action_space,
                              torch.device("cpu"), self.agent.hidden_size if recurrent else None)
        self.actor = Actor(self.vec, self.agent, torch.device("cpu"), bf16=bf16)
        self.timers = {"env": 0.0, "forward": 0.0}
        self.vec.async_reset(self.t.seed)
        self.epoch()  # warm-up

    @property
    def steps(self) -> int:
        return self.exp.segments * self.exp.horizon

    def epoch(self) -> None:
        self.tr.rollout(self.actor, self.exp, self.timers)
        self.vec.log()
        self.tr.update(self.agent, self.optimizer, self.exp, self.t, 0.5)

    def close(self) -> None:
        self.vec.close()


def vs_pufferlib_rows(quick: bool) -> list[Row]:
    from bench_pufferlib import PufferLib, pufferlib_python

    # kind: (what, our options, PufferLib's kind). Theirs always float32 (its default precision).
    kinds = {"lstm": ("128-wide encoder + 128-unit LSTM", {"recurrent": True}, "lstm"),
             "lstm bf16": ("128-wide encoder + 128-unit LSTM, ours with --train.bf16",
                           {"recurrent": True, "bf16": True}, "lstm"),
             "mlp": ("128-wide encoder, no LSTM", {"recurrent": False}, "mlp")}
    names = {k: (f"puffer-train, {v[0]}", f"PufferLib 3.0 puffer train, {v[0]}") for k, v in kinds.items()}
    rounds, seconds = (1, 1.0) if quick else (3, 15.0)  # at least one whole epoch (262k steps) per run
    try:
        theirs = PufferLib(pufferlib_python(), VS_AGENTS, worker=PUFFERLIB_TRAINER)
    except Exception as e:  # no PufferLib here, or its trainer does not start
        note = f"skipped: {e}"
        return [Row(VS_GROUP, name, VS_AGENTS, 1, float("nan"), [], note) for k in kinds for name in names[k]] + [
            Row(VS_GROUP, f"{k}: ours / PufferLib", VS_AGENTS, 1, float("nan"), [], note) for k in kinds]
    runs = {(k, side): [] for k in kinds for side in ("ours", "theirs")}
    error, params = "", {}
    try:
        for kind, (_, options, their_kind) in kinds.items():
            ours = OursEpoch(**options)
            params[kind] = ours.params
            try:
                for _ in range(rounds):  # alternated, so drift hits both alike
                    runs[kind, "ours"].append(rate(ours.epoch, ours.steps, seconds, warmup=0))
                    runs[kind, "theirs"].append(theirs.measure(their_kind, seconds))
            finally:
                ours.close()
    except (RuntimeError, ValueError, OSError) as e:
        error = f"failed: {e}"
    finally:
        theirs.close()
    out = []
    for kind in kinds:
        for name, side in zip(names[kind], ("ours", "theirs")):
            values = runs[kind, side]
            note = f"{params.get(kind, 0):,} parameters, torch threads 1" if side == "ours" else (
                "its defaults (Muon), torch threads 1")
            out.append(Row(VS_GROUP, name, VS_AGENTS, 1, median(values), values, error or note))
        ratios = [a / b for a, b in zip(runs[kind, "ours"], runs[kind, "theirs"])]
        goal = f" (goal >= {VS_GOAL:g}x)" if kind.startswith("lstm") else ""
        out.append(Row(VS_GROUP, f"{kind}: ours / PufferLib", VS_AGENTS, 1, median(ratios), ratios,
                       error or f"x, paired per round{goal}"))
    return out


def sb3_cartpole(quick: bool, max_seconds: float, venv=None) -> dict:
    """rl-zoo's PPO hyperparameters for CartPole-v1, on `venv` (default: SB3's own vector env of 8 Gymnasium
    CartPole-v1); stops at mean return 475 over SB3's last episodes, or after max_seconds."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

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

    if venv is None:
        import gymnasium as gym
        from stable_baselines3.common.env_util import make_vec_env

        venv = make_vec_env(lambda: gym.make("CartPole-v1"), n_envs=8, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                ent_coef=0.0, learning_rate=lambda progress: progress * 0.001,
                clip_range=lambda progress: progress * 0.2, seed=0, device="cpu", verbose=0)
    callback = Target()
    start = time.perf_counter()
    model.learn(total_timesteps=100_000 if quick else 300_000, callback=callback)
    wall = time.perf_counter() - start
    venv.close()
    return {"sps": model.num_timesteps / wall, "steps": model.num_timesteps, "target_time": callback.time,
            "target_steps": callback.steps}


def _target_note(target_steps: int | None, steps: int, what: str) -> str:
    if target_steps is None:
        return f"{what} NOT reached in {steps:,} steps"
    return f"{what} after {target_steps:,} agent steps"


def rows(quick: bool) -> list[Row]:
    import torch

    torch.set_num_threads(1)
    out = []
    # cartpole, the plugin's defaults, stopped once solved: SPS and time to 475.
    cp = puffer_run("cartpole", train={"target": CARTPOLE_TARGET, "target_metric": "episode_return"})
    if cp is not None:
        out.append(Row("train SPS: cartpole", "puffer-train cartpole (plugin defaults)", cp.agents, 1, cp.sps,
                       [cp.sps], f"{cp.global_step:,} steps in {cp.wall_time:.1f} s"))
        seconds = cp.target_time if cp.target_reached else float("nan")
        out.append(Row("train: seconds to cartpole mean return 475", "puffer-train cartpole", cp.agents, 1, seconds,
                       [seconds], "unit: seconds; mean of its last 100 episodes; "
                       + _target_note(cp.target_steps, cp.global_step, "475")))
        # Throughput configuration: big batches, one pass over them.
        big = puffer_run("cartpole", env={"num_envs": 4096},
                         train={"total_timesteps": 1_000_000 if quick else 4_000_000, "horizon": 32,
                                "minibatch_size": 32768, "update_epochs": 1})
        out.append(Row("train SPS: cartpole", "puffer-train cartpole (4096 envs x 32, minibatch 32k, 1 epoch)",
                       big.agents, 1, big.sps, [big.sps], f"{big.global_step:,} steps in {big.wall_time:.1f} s"))

    out += vs_pufferlib_rows(quick)

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
                       [seconds], "unit: seconds; mean of its last 100 episodes; "
                       + _target_note(sb3["target_steps"], sb3["steps"], "475")))

    # pong: SPS, and time until 90% of points are won (capped in quick mode).
    pong = puffer_run("pong", train={"target": PONG_TARGET, "target_metric": "win_fraction",
                                            **({"total_timesteps": 3_000_000} if quick else {})})
    if pong is not None:
        out.append(Row("train SPS: pong", "puffer-train pong (plugin defaults)", pong.agents, 1, pong.sps,
                       [pong.sps], f"{pong.global_step:,} steps in {pong.wall_time:.1f} s"))
        seconds = pong.target_time if pong.target_reached else float("nan")
        out.append(Row("train: seconds to pong 90% of points", "puffer-train pong", pong.agents, 1, seconds,
                       [seconds],
                       "unit: seconds; " + _target_note(pong.target_steps, pong.global_step, "90% of points")
                       + (" (quick: capped at 3M steps)" if quick else "")))
    return out


if __name__ == "__main__":
    import sys

    for row in rows("--quick" in sys.argv):
        print(row)
