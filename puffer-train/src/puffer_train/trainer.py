"""PPO for any registered Puffer env, readable top to bottom:

    resolve the config -> make the vector env and the policy -> loop { rollout into the segmented buffer ->
    update: GAE (+ optional V-trace clipping), several epochs of clipped PPO over whole-segment minibatches
    (optionally prioritized by |advantage|) -> log -> checkpoint } -> short final evaluation.

Acting on the envs (the Actor, evaluation episodes, device and env construction) lives in acting.py, the
episode window, TensorBoard and the dashboard in logger.py.

Exact resume: the envs are (re)seeded from train.seed and the epoch at the start of training and right
after every interval checkpoint, so a run resumed from a checkpoint sees the same env states, the same
RNG streams and the same weights as the run that wrote it.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import puffer_core
import torch
from puffer_core.errors import ConfigError, PufferError

from . import checkpoint as ckpt
from . import config as cfg
from . import distributed
from .acting import Actor, make_vec, pick_device, run_episodes, seed_everything
from .experience import Experience
from .logger import Logger, Timers
from .policy import as_float32, logprob_and_entropy, make_policy


class TrainingError(PufferError, RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message says where and what was kept."""


# -- configuration -----------------------------------------------------------------------------------

def resolve_config(env: str, /, *, resume: str | Path | None = None, config_file: str | Path | None = None,
                   layers: list[tuple[dict, str]] | None = None, **sections) -> tuple[cfg.Config, dict | None]:
    """Trainer defaults < the plugin's TOML < config_file < layers (e.g. CLI flags) < sections (API kwargs).
    When resuming, the checkpoint's stored config replaces the first two layers."""
    spec = puffer_core.get_spec(env)  # EnvNotFoundError names the installed envs and the closest one
    data = None
    if resume is not None:
        data = ckpt.load(resume, env)
        stack = [(data["config"], f"checkpoint {resume}")]
    else:
        stack = [(spec.training_config(), f"the training TOML of env {env!r}")]
    if config_file is not None:
        stack.append((cfg.load_toml(config_file), str(config_file)))
    stack += list(layers or [])
    for section, values in sections.items():
        if section not in cfg.ALL_SECTIONS:
            raise ConfigError(f"unknown keyword {section!r}; pass sections as dicts: "
                              f"{', '.join(f'{s}={{...}}' for s in cfg.ALL_SECTIONS)}")
        stack.append(({section: values}, f"keyword {section}="))
    return cfg.build(stack), data


# -- rollout ---------------------------------------------------------------------------------------

class NonFiniteBuffer(Exception):
    """An env wrote NaN or inf into its `buffer` ("observations" or "rewards") at agent rows `rows`."""

    def __init__(self, buffer: str, rows: np.ndarray):
        super().__init__(buffer, rows)
        self.buffer, self.rows = buffer, rows


def check_finite(obs, rewards, ids: np.ndarray) -> None:
    """NonFiniteBuffer if a batch's float observations or rewards hold NaN or inf. One vectorized pass over
    each buffer per batch (integer observations need none); the agents at fault (their rows in the vector
    env's buffers, `ids`) are looked for only then."""
    for buffer, values in (("observations", np.asarray(obs)), ("rewards", np.asarray(rewards))):
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise NonFiniteBuffer(buffer, ids[~np.isfinite(values.reshape(len(values), -1)).all(1)])


def _rows(seg: np.ndarray, step: np.ndarray):
    """Where a batch writes in the buffer: (slice of segments, step) when the batch is a run of consecutive
    segments all at the same step (the synchronous case: every agent owns one segment), else index tensors."""
    if len(seg) and seg[-1] - seg[0] == len(seg) - 1 and (np.diff(seg) == 1).all() and (step == step[0]).all():
        return slice(int(seg[0]), int(seg[-1]) + 1), int(step[0])
    return torch.from_numpy(seg), torch.from_numpy(step)


@torch.inference_mode()
def rollout(actor: Actor, exp: Experience, timers: dict) -> None:
    """Fill every segment of `exp` in place."""
    device = actor.device
    exp.start_rollout()
    while not exp.full:
        t0 = time.perf_counter()
        obs, rewards, terminals, truncations, ids, masks, whole = actor.recv()
        check_finite(obs, rewards, ids)  # before the policy turns them into NaN logits
        t1 = time.perf_counter()
        # rewards, done flags and masks travel to the device together: one copy per step.
        flags = np.empty((3, len(ids)), np.float32)
        flags[0], flags[2] = rewards, masks
        np.maximum(terminals, truncations, out=flags[1], casting="unsafe")
        rewards_t, starts, masks_t = actor.to_device(flags, "flags")
        record, seg, step, new = exp.claim(ids)
        o, action, logprob, value, state = actor.act(obs, starts, ids, whole)
        if exp.state is not None and len(new):
            # The LSTM state each newly claimed segment starts from, used again when training on it.
            segs = torch.from_numpy(exp.segment_of[ids[new]]).to(device)
            pos = torch.from_numpy(new).to(device)
            exp.state[0][segs] = state[0][pos]
            exp.state[1][segs] = state[1][pos]
        if len(record):
            s, t = _rows(seg, step)
            if not isinstance(s, slice):
                s, t = s.to(device), t.to(device)
            rows = None if len(record) == len(ids) else torch.from_numpy(record).to(device)
            pick = lambda x: x if rows is None else x[rows]  # noqa: B023 (used in this iteration only)
            exp.obs[s, t] = pick(o)
            exp.actions[s, t] = pick(action).to(exp.actions.dtype)
            exp.logprobs[s, t] = pick(logprob)
            exp.values[s, t] = pick(value)
            exp.rewards[s, t] = pick(rewards_t)
            exp.starts[s, t] = pick(starts)
            exp.masks[s, t] = pick(masks_t)
            exp.advance(ids[record])
        t2 = time.perf_counter()
        actor.send(action, ids, whole)
        t3 = time.perf_counter()
        timers["env"] += (t1 - t0) + (t3 - t2)
        timers["forward"] += t2 - t1


# -- learning --------------------------------------------------------------------------------------

def update(agent, optimizer, exp: Experience, t: cfg.TrainConfig, progress: float) -> dict:
    """Several epochs of clipped PPO over minibatches of whole segments. Returns mean losses; NonFiniteLoss
    if the loss turns NaN or infinite (before that step changes the weights)."""
    S, T = exp.segments, exp.horizon
    seg_per_mb = max(1, min(S, t.minibatch_size // T))
    num_mb = max(1, round(S / seg_per_mb))
    valid = exp.masks.clone()
    valid[:, -1] = 0  # the last row of a segment only bootstraps the value
    exp.ratio.fill_(1.0)
    beta = t.prio_beta0 + (1.0 - t.prio_beta0) * progress
    sums = {k: torch.zeros((), device=exp.device) for k in ("policy", "value", "entropy", "approx_kl", "clipfrac")}
    count = 0
    for update_epoch in range(t.update_epochs):
        if update_epoch == 0 or t.vtrace:
            clip = (t.vtrace_rho_clip, t.vtrace_c_clip) if t.vtrace else (math.inf, math.inf)
            adv = exp.advantages(t.gamma, t.gae_lambda, *clip)
            returns = adv + exp.values
        if t.prio_alpha > 0:
            # Prioritized segment sampling by |advantage|, with importance weights annealed to 1.
            priority = ((adv.abs() * valid).sum(1) + 1e-8).pow(t.prio_alpha).cpu()
            prob = priority / priority.sum()
            batches = torch.multinomial(prob, num_mb * seg_per_mb, replacement=True).view(num_mb, seg_per_mb)
            weights = (S * prob).pow(-beta)
            weights = weights / weights.max()
        else:
            batches = torch.randperm(S).chunk(num_mb)
        for idx_cpu in batches:
            idx = idx_cpu.to(exp.device)
            state = None if exp.state is None else (exp.state[0][idx], exp.state[1][idx])
            with torch.autocast(exp.device.type, dtype=torch.bfloat16, enabled=t.bf16):
                logits, new_value = agent.sequence(exp.obs[idx], exp.starts[idx], state)
            logits, new_value = as_float32(logits), new_value.float()  # losses in float32
            actions = exp.actions[idx].reshape(len(idx) * T, *exp.actions.shape[2:])
            new_logprob, entropy = logprob_and_entropy(logits, actions)
            logratio = new_logprob - exp.logprobs[idx].reshape(-1)
            ratio = logratio.exp()

            w = valid[idx].reshape(-1)
            wsum = w.sum().clamp(min=1.0)
            mb_adv = adv[idx].reshape(-1)
            if t.norm_adv:
                mean = (mb_adv * w).sum() / wsum
                std = (((mb_adv - mean) ** 2 * w).sum() / wsum).sqrt()
                mb_adv = (mb_adv - mean) / (std + 1e-8)
            if t.prio_alpha > 0:
                mb_adv = mb_adv * weights[idx_cpu].to(exp.device).repeat_interleave(T)

            pg_loss = (torch.max(-mb_adv * ratio, -mb_adv * ratio.clamp(1 - t.clip_coef, 1 + t.clip_coef)) * w).sum()
            old_value = exp.values[idx].reshape(-1)
            ret = returns[idx].reshape(-1)
            clipped = old_value + (new_value - old_value).clamp(-t.vf_clip_coef, t.vf_clip_coef)
            v_loss = 0.5 * (torch.max((new_value - ret) ** 2, (clipped - ret) ** 2) * w).sum()
            ent = (entropy * w).sum()
            loss = (pg_loss - t.ent_coef * ent + t.vf_coef * v_loss) / wsum
            if not torch.isfinite(loss):
                raise NonFiniteLoss

            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(agent.parameters(), t.max_grad_norm)
            optimizer.step()

            with torch.no_grad():
                exp.ratio[idx] = ratio.detach().view(len(idx), T)
                sums["policy"] += pg_loss / wsum
                sums["value"] += v_loss / wsum
                sums["entropy"] += ent / wsum
                sums["approx_kl"] += (((ratio - 1) - logratio) * w).sum() / wsum
                sums["clipfrac"] += (((ratio - 1).abs() > t.clip_coef).float() * w).sum() / wsum
            count += 1
    out = {k: float(v) / count for k, v in sums.items()}
    with torch.no_grad():
        y, pred = returns[valid > 0], exp.values[valid > 0]
        var = y.var() if y.numel() > 1 else torch.tensor(float("nan"))
        out["explained_var"] = float(1 - (y - pred).var() / var) if var > 0 else float("nan")
    return out


class MuonAdam:
    """torch.optim.Muon on the 2-D weight matrices, Adam on everything else (biases, convolutions,
    log-std), stepped together. Muon's learning rate is matched to AdamW's update size, so one
    train.learning_rate serves both."""

    def __init__(self, params, lr: float, eps: float):
        params = [p for p in params if p.requires_grad]
        matrices = [p for p in params if p.ndim == 2]
        rest = [p for p in params if p.ndim != 2]
        self.parts = {"muon": torch.optim.Muon(matrices, lr=lr, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")}
        if rest:
            self.parts["adam"] = torch.optim.Adam(rest, lr=lr, eps=eps)

    @property
    def param_groups(self) -> list[dict]:
        return [group for part in self.parts.values() for group in part.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts.values():
            part.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for part in self.parts.values():
            part.step()

    def state_dict(self) -> dict:
        return {name: part.state_dict() for name, part in self.parts.items()}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != set(self.parts):
            raise ValueError(f"optimizer state has parts {sorted(state)}, this optimizer {sorted(self.parts)}")
        for name, part in self.parts.items():
            part.load_state_dict(state[name])


def make_optimizer(agent, t: cfg.TrainConfig):
    if t.optimizer == "muon":
        return MuonAdam(agent.parameters(), lr=t.learning_rate, eps=t.adam_eps)
    return torch.optim.Adam(agent.parameters(), lr=t.learning_rate, eps=t.adam_eps)


class NonFiniteLoss(Exception):
    """The PPO loss became NaN or infinite (the trainer says in which epoch and what was kept)."""


# -- the training run ------------------------------------------------------------------------------

@contextmanager
def stop_on_sigint():
    """First Ctrl-C or SIGTERM (what schedulers and `docker stop` send): finish the current epoch, save and
    stop. Second: interrupt at once; the with block ends there with the flag set (the trainer still writes
    the final checkpoint)."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"\n{name}: stopping after this epoch and saving a checkpoint (again to stop now)", flush=True)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    except KeyboardInterrupt:
        flag["stop"] = True
    finally:
        for sig, old in previous.items():
            if old is not None:  # None: a handler not installed from Python, which cannot be put back
                signal.signal(sig, old)


def _run_dir(config: cfg.Config, env: str, resume_path: Path | None) -> Path:
    if resume_path is not None and resume_path.parent.name == "checkpoints":
        return resume_path.parent.parent  # continue the run the checkpoint came from
    name = config.train.run_name or f"{env.replace(':', '_').replace('/', '_')}_{time.strftime('%Y%m%d_%H%M%S')}"
    path = Path(config.train.data_dir) / name
    suffix = 1
    while path.exists() and not config.train.run_name:  # two runs started in the same second
        suffix += 1
        path = path.with_name(f"{name}_{suffix}")
    return path


@dataclass
class TrainResult:
    """What `train` returns: the final score, where the run and its last checkpoint are, how long it took."""

    env: str
    score: float  # the final evaluation's `score` (else `episode_return`); from `train` when no evaluation ran
    eval: dict[str, float]  # the final evaluation's per-episode means; {} when skipped or interrupted
    train: dict[str, float]  # per-episode means of the most recent train.target_episodes training episodes
    losses: dict[str, float]  # the last update's mean losses
    checkpoint: Path  # the final checkpoint
    run_dir: Path
    agents: int  # agent rows per rank
    world_size: int  # ranks of a data-parallel run (1 without torchrun)
    epochs: int
    global_step: int  # agent steps over all ranks
    wall_time: float  # seconds of the training loop (the final evaluation not included)
    sps: float  # agent steps per second of this run (a resumed run counts from where it resumed)
    timers: dict[str, float]  # cumulative seconds per part of the loop: env, forward, update, other
    interrupted: bool  # stopped by Ctrl-C or SIGTERM
    target_time: float | None  # seconds until train.target was reached; None if it was not
    target_steps: int | None
    config: cfg.Config  # the resolved config the run trained with

    @property
    def target_reached(self) -> bool:
        return self.target_time is not None

    def summary(self) -> str:
        t = self.config.train
        lines = [f"finished {self.env}: {self.global_step:,} agent steps in {self.wall_time:.1f} s "
                 f"({self.sps:,.0f} steps/s)"]
        if self.interrupted:
            lines.append(f"interrupted: no final evaluation; resume with --resume {self.checkpoint}")
        elif self.eval:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in self.eval.items() if k != "n")
            lines.append(f"final evaluation over {self.eval.get('n', 0):.0f} episodes: {shown}")
        elif self.train:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in self.train.items() if k != "n")
            lines.append(f"last training episodes: {shown}")
        if t.target != math.inf:
            if self.target_reached:
                lines.append(f"target {t.target_metric} >= {t.target} (mean of the last {t.target_episodes} "
                             f"episodes) reached after {self.target_time:.1f} s, {self.target_steps:,} steps")
            else:
                lines.append(f"target {t.target_metric} >= {t.target} NOT reached")
        lines.append(f"checkpoint: {self.checkpoint}")
        return "\n".join(lines)


def train(env: str, /, *, config: str | Path | None = None, resume: str | Path | None = None, callback=None,
          layers: list[tuple[dict, str]] | None = None, quiet: bool = False, **sections) -> TrainResult:
    """Train PPO on a registered env and return a TrainResult (score, checkpoint, run_dir, statistics).

        puffer_train.train("cartpole", train={"total_timesteps": 500_000}, vec={"num_env_objects": 2})

    `config`: a TOML file layered over the plugin's config; sections (`env`, `vec`, `train`, `policy`)
    as dicts override both. `resume`: a checkpoint to continue exactly. `callback(info)` runs after every
    epoch with a dict of progress, that epoch's episode statistics, losses, the agent being trained and
    this process's rank; returning True stops training.
    Under torchrun (train.world_size > 1) every rank calls this; see distributed.py.
    """
    config_obj, data = resolve_config(env, resume=resume, config_file=config, layers=layers, **sections)
    spec = puffer_core.get_spec(env)
    t = config_obj.train
    device = pick_device(t.device)
    group = distributed.join(t.world_size, device)  # a world of one unless launched by torchrun
    device = group.device(device)
    torch.set_num_threads(t.torch_threads or os.cpu_count() or 1)
    seed_everything(t.seed + group.rank)

    vec = make_vec(spec, config_obj, t.seed)
    try:
        result = _train(env, spec, config_obj, vec, device, data, Path(resume) if resume else None, callback,
                        quiet or not group.main, group)
    finally:
        vec.close()
    if not quiet and group.main:
        print(result.summary(), flush=True)
    return result


def _restore(data: dict, path: Path, agent, optimizer, group: distributed.Group, device) -> tuple[int, int]:
    """A checkpoint's weights, optimizer state and this rank's RNG states; the (epoch, global_step) it was at."""
    ckpt.load_weights(agent, data, path)
    optimizer.load_state_dict(data["optimizer"])
    rank_rngs = data.get("rank_rngs") or [data["rng"]]
    if len(rank_rngs) != group.world_size:
        raise ConfigError(f"checkpoint {path} was written by a run of {len(rank_rngs)} process(es); "
                          f"resume it with train.world_size = {len(rank_rngs)} to continue it exactly")
    ckpt.set_rng_state(rank_rngs[group.rank], device)
    return int(data["epoch"]), int(data["global_step"])


def _train(env, spec, config: cfg.Config, vec, device, data, resume_path, callback, quiet,
           group: distributed.Group) -> TrainResult:
    t = config.train
    num_agents, horizon = vec.num_agents, t.horizon
    batch_size = t.batch_size or num_agents * horizon
    if batch_size < num_agents * horizon:
        raise ConfigError(f"train.batch_size ({batch_size}) is smaller than agents x horizon ({num_agents} x "
                          f"{horizon}): every agent needs a segment; raise it or set 0 (auto)")
    segments = batch_size // horizon
    steps_per_epoch = batch_size * group.world_size
    total_epochs = max(1, t.total_timesteps // steps_per_epoch)

    agent = make_policy(spec, vec.single_observation_space, vec.single_action_space, config.policy).to(device)
    optimizer = make_optimizer(agent, t)
    exp = Experience(num_agents, segments, horizon, vec.single_observation_space, vec.single_action_space,
                     device, agent.hidden_size if agent.recurrent else None)
    actor = Actor(vec, agent, device, bf16=t.bf16)
    epoch = global_step = 0
    if data is not None:
        epoch, global_step = _restore(data, resume_path, agent, optimizer, group, device)
    group.share_weights(agent)  # rank 0's weights everywhere; gradients averaged over ranks from now on

    run_dir = Path(group.gather(str(_run_dir(config, env, resume_path)))[0])  # rank 0's
    plain = config.to_dict()
    if group.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.toml").write_text(f"# puffer-train {env}\n" + cfg.to_toml(plain))
    if not quiet:
        ranks = f" on each of {group.world_size} ranks" if group.distributed else ""
        print(f"puffer-train {env}: {num_agents} agents, {segments} segments x {horizon} steps per update{ranks}, "
              f"{total_epochs} epochs, device {device}, run dir {run_dir}\n" + cfg.to_toml(plain), flush=True)
    last_ckpt = resume_path

    def save() -> Path:
        path = run_dir / "checkpoints" / f"model_{epoch:06d}.pt"
        rank_rngs = group.gather(ckpt.rng_state(device)) if group.distributed else None
        if group.main:  # the ranks' weights are identical: one file, with every rank's RNG states
            ckpt.save(path, env=env, config=plain, agent=agent, optimizer=optimizer, epoch=epoch,
                      global_step=global_step, device=device, stats=log.episodes, rank_rngs=rank_rngs)
        return path

    def stopped(problem: str, advice: str) -> TrainingError:
        kept = f"the last good checkpoint is {last_ckpt}" if last_ckpt else "no checkpoint was written yet"
        return TrainingError(f"{problem}; {kept}. {advice}")

    with Logger(env, run_dir, window_episodes=t.target_episodes, tensorboard=t.tensorboard and group.main,
                dashboard=t.dashboard, interval=t.log_interval, quiet=quiet) as log:
        losses, timers = {}, Timers()
        start, start_step = time.monotonic(), global_step
        target_time = target_steps = None
        needs_reset = True
        with stop_on_sigint() as sigint:
            while epoch < total_epochs:
                if needs_reset:
                    # Deterministic env states at (re)start and after checkpoints: exact resume.
                    vec.async_reset(t.seed + distributed.seed_offset(group.rank, group.world_size, epoch,
                                                                     getattr(vec, "num_env_objects", 1)))
                    actor.reset_state()
                    exp.forget_agents()
                    needs_reset = False

                # rollout -> update
                try:
                    rollout(actor, exp, timers)
                    global_step += steps_per_epoch
                    stats = group.merge_stats(vec.log(), vec.log_fields)
                    update_start = time.perf_counter()
                    progress = epoch / total_epochs
                    if t.anneal_lr:
                        for param_group in optimizer.param_groups:
                            param_group["lr"] = t.learning_rate * (1.0 - progress)
                    losses = update(agent, optimizer, exp, t, progress)
                    timers["update"] += time.perf_counter() - update_start
                except NonFiniteBuffer as e:
                    shown = ", ".join(map(str, e.rows[:8])) + (", ..." if len(e.rows) > 8 else "")
                    raise stopped(f"env {env!r} wrote NaN or infinite values into its {e.buffer} buffer (agent "
                                  f"rows {shown}) in epoch {epoch + 1} (step {global_step})",
                                  f"Fix the env's {e.buffer}: the policy cannot learn from them") from None
                except NonFiniteLoss:
                    raise stopped(f"the loss became NaN or infinite in epoch {epoch + 1} (step {global_step})",
                                  "Check the env's rewards and observations for NaN/inf, or lower "
                                  "train.learning_rate") from None
                epoch += 1

                # -> log
                elapsed = time.monotonic() - start
                sps = (global_step - start_step) / max(elapsed, 1e-9)
                log.epoch(step=global_step, epoch=f"{epoch}/{total_epochs}", elapsed=elapsed, sps=sps,
                          lr=optimizer.param_groups[0]["lr"], stats=stats, losses=losses, timers=timers)
                if target_time is None and log.window.mean_of(t.target_metric) >= t.target:
                    target_time, target_steps = elapsed, global_step
                stop = callback is not None and bool(callback({
                    "epoch": epoch, "global_step": global_step, "episodes": stats, "losses": losses, "sps": sps,
                    "elapsed": elapsed, "agent": agent, "rank": group.rank}))
                if group.any(stop or sigint["stop"] or target_time is not None):  # every rank stops together
                    break

                # -> checkpoint
                if epoch % t.checkpoint_interval == 0 and epoch < total_epochs:
                    last_ckpt = save()
                    needs_reset = True
        interrupted = sigint["stop"]
        final = save()
        wall = time.monotonic() - start

        evaluation = {}
        if t.eval_episodes and not interrupted:
            ev = run_episodes(vec, agent, device, t.eval_episodes, seed=t.seed + 1_000_003 + group.rank * 1_000_003,
                              deterministic=t.eval_deterministic)
            evaluation = group.merge_stats(ev, vec.log_fields)
        if group.distributed and not group.weights_agree(agent):
            raise TrainingError("the ranks of this data-parallel run ended with different weights, which "
                                "averaged gradients cannot produce: a bug, please report it")
        log.evaluation(global_step, evaluation)

    source = evaluation or log.episodes
    return TrainResult(
        env=env, score=source.get("score", source.get("episode_return", float("nan"))), eval=evaluation,
        train=log.episodes, losses=losses, checkpoint=final, run_dir=run_dir, agents=num_agents,
        world_size=group.world_size, epochs=epoch, global_step=global_step, wall_time=wall,
        sps=(global_step - start_step) / max(wall, 1e-9), timers=dict(timers), interrupted=interrupted,
        target_time=target_time, target_steps=target_steps, config=config)
