"""PPO for any registered Puffer env, readable top to bottom:

    resolve the config -> make the vector env and the policy -> loop { rollout into the segmented buffer,
    GAE (+ optional V-trace clipping), several epochs of clipped PPO over whole-segment minibatches
    (optionally prioritized by |advantage|), log, checkpoint } -> short final evaluation.

Exact resume: the envs are (re)seeded from train.seed and the epoch at the start of training and right
after every interval checkpoint, so a run resumed from a checkpoint sees the same env states, the same
RNG streams and the same weights as the run that wrote it.
"""

from __future__ import annotations

import math
import os
import random
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import puffer_core
import torch
from puffer_core import spaces as sp
from puffer_core.errors import ConfigError, PufferError

from . import checkpoint as ckpt
from . import config as cfg
from . import distributed
from .dashboard import Dashboard, machine, time_split
from .experience import Experience
from .policy import evaluate as evaluate_actions
from .policy import make_policy, sample


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
    return puffer_core.vector.make(spec, backend=v.backend, num_envs=v.num_envs, num_workers=v.num_workers or None,
                                   batch_size=v.batch_size or None, seed=seed,
                                   env_kwargs={**config.env, **(env_overrides or {})})


# -- acting ----------------------------------------------------------------------------------------

class Actor:
    """Runs the policy on the batches a vector env hands back and sends the actions in place.

    Keeps the LSTM state of every agent between steps, zeroed where an episode begins."""

    def __init__(self, vec, agent, device: torch.device, bf16: bool = False):
        self.vec, self.agent, self.device, self.bf16 = vec, agent, device, bf16
        self.pinned: dict[str, torch.Tensor] = {}
        self.num_agents = vec.num_agents
        self.all_ids = np.arange(self.num_agents)
        space = vec.single_action_space
        self.bounds = None
        if sp.action_bounds(space) is None:
            self.bounds = (np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape))
            self.offset = 0
        else:
            self.offset = np.asarray(getattr(space, "start", 0))
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
        action, logprob = sample(_float(logits), deterministic)
        if self.state is not None:
            self.state[0][rows] = new_state[0].float()
            self.state[1][rows] = new_state[1].float()
        return o, action, logprob, value.float(), state

    def send(self, action: torch.Tensor, ids: np.ndarray, whole: bool) -> None:
        host = action.cpu().numpy()
        if self.bounds is not None:
            host = np.clip(host, *self.bounds)
        else:
            host = host + self.offset if np.any(self.offset) else host
        if whole:
            self.vec.actions[...] = host
        else:
            self.vec.actions[ids] = host
        self.vec.send(self.vec.actions)


def done_flags(terminals, truncations, device) -> torch.Tensor:
    return torch.from_numpy(np.maximum(np.asarray(terminals), np.asarray(truncations))).to(device).float()


class NonFiniteBuffer(Exception):
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


def _float(logits):
    """Logits in float32 whatever autocast computed them in (sampling and log-probs stay exact)."""
    if isinstance(logits, torch.Tensor):
        return logits.float()
    if isinstance(logits, list):
        return [lg.float() for lg in logits]
    return tuple(x.float() for x in logits)


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

def update(agent, optimizer, exp: Experience, t: cfg.TrainConfig, progress: float, epoch: int) -> dict:
    """Several epochs of clipped PPO over minibatches of whole segments. Returns mean losses."""
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
            logits, new_value = _float(logits), new_value.float()  # losses in float32
            actions = exp.actions[idx].reshape(len(idx) * T, *exp.actions.shape[2:])
            new_logprob, entropy = evaluate_actions(logits, actions)
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
                raise NonFiniteLoss(epoch)

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
    def __init__(self, epoch: int):
        super().__init__(epoch)
        self.epoch = epoch


# -- episode statistics ----------------------------------------------------------------------------

class Window:
    """Episode statistics averaged over a logging window (weighted by episodes), not sampled."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.n = 0.0

    def add(self, stats: dict) -> None:
        n = stats.get("n", 0.0)
        if n <= 0:
            return
        for k, v in stats.items():
            if k != "n":
                self.sums[k] = self.sums.get(k, 0.0) + v * n
        self.n += n

    def mean(self) -> dict:
        if self.n <= 0:
            return {}
        out = {k: v / self.n for k, v in self.sums.items()}
        out["n"] = self.n
        return out


class Recent:
    """The mean of one statistic over the most recent `episodes` finished episodes (for train.target)."""

    def __init__(self, metric: str, episodes: int):
        self.metric, self.episodes = metric, episodes
        self.parts: list[tuple[float, float]] = []  # (mean, n) per epoch, oldest first

    def add(self, stats: dict) -> float:
        """Add an epoch's statistics; the current mean, or -inf until enough episodes finished."""
        if stats.get("n", 0) > 0 and self.metric in stats:
            self.parts.append((stats[self.metric], stats["n"]))
        while len(self.parts) > 1 and sum(n for _, n in self.parts[1:]) >= self.episodes:
            self.parts.pop(0)
        total = sum(n for _, n in self.parts)
        if total < self.episodes:
            return -math.inf
        return sum(m * n for m, n in self.parts) / total


def run_episodes(vec, agent, device, episodes: int, seed: int, deterministic: bool = False, render: bool = False,
                 max_steps: int = 10_000, max_seconds: float = 120.0, on_log=None, on_frame=None) -> dict:
    """Play until `episodes` episodes finished (or a step/time cap) and return their mean statistics.
    With `render`, vec.render() runs every step and `on_frame` (if given) receives what it returns."""
    agent.eval()
    actor = Actor(vec, agent, device)
    vec.async_reset(seed)
    vec.log()  # drop statistics of episodes from before the reset
    window = Window()
    start = time.monotonic()
    for step in range(max_steps):
        obs, rewards, terminals, truncations, ids, masks, whole = actor.recv()
        _, action, _, _, _ = actor.act(obs, done_flags(terminals, truncations, device), ids, whole, deterministic)
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


# -- the training run ------------------------------------------------------------------------------

@contextmanager
def stop_on_sigint():
    """First Ctrl-C or SIGTERM (what schedulers and `docker stop` send): finish the current epoch, save and
    stop. Second: interrupt at once (the final checkpoint is still written)."""
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


def train(env: str, /, *, config: str | Path | None = None, resume: str | Path | None = None, callback=None,
          layers: list[tuple[dict, str]] | None = None, quiet: bool = False, **sections) -> dict:
    """Train PPO on a registered env and return the final statistics.

        puffer_train.train("cartpole", train={"total_timesteps": 500_000}, vec={"num_envs": 2})

    `config`: a TOML file layered over the plugin's config; sections (`env`, `vec`, `train`, `policy`)
    as dicts override both. `resume`: a checkpoint to continue exactly. `callback(info)` runs after every
    epoch with a dict of progress, episode statistics, losses, the agent being trained and this process's
    rank; returning True stops training.
    Returns a dict with `score` (final evaluation), `eval`, `train` (last logging window), `checkpoint`,
    `run_dir`, `global_step`, `epochs`, `wall_time`, `sps` and the target fields.
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
        return _train(env, spec, config_obj, vec, device, data, Path(resume) if resume else None, callback,
                      quiet or not group.main, group)
    finally:
        vec.close()


def _train(env, spec, config_obj: cfg.Config, vec, device, data, resume_path, callback, quiet,
           group: distributed.Group) -> dict:
    t = config_obj.train
    num_agents, horizon = vec.num_agents, t.horizon
    batch_size = t.batch_size or num_agents * horizon
    if batch_size < num_agents * horizon:
        raise ConfigError(f"train.batch_size ({batch_size}) is smaller than agents x horizon ({num_agents} x "
                          f"{horizon}): every agent needs a segment; raise it or set 0 (auto)")
    segments = batch_size // horizon
    total_epochs = max(1, t.total_timesteps // (batch_size * group.world_size))

    agent = make_policy(spec, vec.single_observation_space, vec.single_action_space, config_obj.policy).to(device)
    optimizer = make_optimizer(agent, t)
    exp = Experience(num_agents, segments, horizon, vec.single_observation_space, vec.single_action_space,
                     device, agent.hidden_size if agent.recurrent else None)
    actor = Actor(vec, agent, device, bf16=t.bf16)

    epoch = global_step = 0
    if data is not None:
        ckpt.load_weights(agent, data, resume_path)
        optimizer.load_state_dict(data["optimizer"])
        epoch, global_step = int(data["epoch"]), int(data["global_step"])
        rank_rngs = data.get("rank_rngs") or [data["rng"]]
        if len(rank_rngs) != group.world_size:
            raise ConfigError(f"checkpoint {resume_path} was written by a run of {len(rank_rngs)} process(es); "
                              f"resume it with train.world_size = {len(rank_rngs)} to continue it exactly")
        ckpt.set_rng_state(rank_rngs[group.rank], device)
    group.share_weights(agent)  # rank 0's weights everywhere; gradients averaged over ranks from now on

    run_dir = Path(group.gather(str(_run_dir(config_obj, env, resume_path)))[0])  # rank 0's
    plain = config_obj.to_dict()
    if group.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.toml").write_text(f"# puffer-train {env}\n" + cfg.to_toml(plain))
    if not quiet:
        ranks = f" on each of {group.world_size} ranks" if group.distributed else ""
        print(f"puffer-train {env}: {num_agents} agents, {segments} segments x {horizon} steps per update{ranks}, "
              f"{total_epochs} epochs, device {device}, run dir {run_dir}\n" + cfg.to_toml(plain), flush=True)
    writer = None
    if t.tensorboard and group.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir))
    dashboard = Dashboard(f"{env}", live=t.dashboard and not quiet, interval=t.log_interval)
    ckpt_dir = run_dir / "checkpoints"
    last_ckpt = Path(resume_path) if resume_path else None

    def save(stats=None) -> Path:
        path = ckpt_dir / f"model_{epoch:06d}.pt"
        rank_rngs = group.gather(ckpt.rng_state(device)) if group.distributed else None
        if group.main:  # the ranks' weights are identical: one file, with every rank's RNG states
            ckpt.save(path, env=env, config=plain, agent=agent, optimizer=optimizer, epoch=epoch,
                      global_step=global_step, device=device, stats=stats, rank_rngs=rank_rngs)
        return path

    def stopped(problem: str, advice: str) -> TrainingError:
        if writer is not None:
            writer.close()  # what was logged so far stays readable
        kept = f"the last good checkpoint is {last_ckpt}" if last_ckpt else "no checkpoint was written yet"
        return TrainingError(f"{problem}; {kept}. {advice}")

    timers = {"env": 0.0, "forward": 0.0, "update": 0.0, "other": 0.0}  # cumulative seconds
    last_timers, mark = dict(timers), time.perf_counter()
    window, losses, last_stats = Window(), {}, {}
    recent = Recent(t.target_metric, t.target_episodes)
    start = time.monotonic()
    start_step = global_step
    target_time = target_steps = None
    needs_reset, interrupted = True, False
    log_time = time.monotonic()
    try:
        with stop_on_sigint() as sigint:
            while epoch < total_epochs:
                if needs_reset:
                    # Deterministic env states at (re)start and after checkpoints: exact resume.
                    vec.async_reset(t.seed + distributed.seed_offset(group.rank, group.world_size, epoch,
                                                                     getattr(vec, "num_envs", 1)))
                    actor.reset_state()
                    exp.forget_agents()
                    needs_reset = False

                try:
                    rollout(actor, exp, timers)
                except NonFiniteBuffer as e:
                    shown = ", ".join(map(str, e.rows[:8])) + (", ..." if len(e.rows) > 8 else "")
                    raise stopped(f"env {env!r} wrote NaN or infinite values into its {e.buffer} buffer (agent "
                                  f"rows {shown}) in epoch {epoch + 1} (step {global_step})",
                                  f"Fix the env's {e.buffer}: the policy cannot learn from them") from None
                global_step += batch_size * group.world_size
                stats = group.merge_stats(vec.log(), vec.log_fields)
                window.add(stats)

                t0 = time.perf_counter()
                progress = epoch / total_epochs
                if t.anneal_lr:
                    for param_group in optimizer.param_groups:
                        param_group["lr"] = t.learning_rate * (1.0 - progress)
                try:
                    losses = update(agent, optimizer, exp, t, progress, epoch + 1)
                except NonFiniteLoss as e:
                    raise stopped(f"the loss became NaN or infinite in epoch {e.epoch} (step {global_step})",
                                  "Check the env's rewards and observations for NaN/inf, or lower "
                                  "train.learning_rate") from None
                timers["update"] += time.perf_counter() - t0
                epoch += 1

                # This epoch's time split; "other" is everything else since the last one (logging, checkpoints).
                now = time.perf_counter()
                timers["other"] += max(0.0, now - mark - sum(timers[k] - last_timers[k] for k in timers))
                epoch_times = {k: timers[k] - last_timers[k] for k in timers}
                last_timers, mark = dict(timers), now
                elapsed = time.monotonic() - start
                sps = (global_step - start_step) / max(elapsed, 1e-9)
                if target_time is None and recent.add(stats) >= t.target:
                    target_time, target_steps = elapsed, global_step
                if writer is not None:
                    writer.add_scalar("perf/sps", sps, global_step)
                    writer.add_scalar("perf/lr", optimizer.param_groups[0]["lr"], global_step)
                    for k, v in stats.items():
                        writer.add_scalar(f"env/{k}", v, global_step)
                    for k, v in losses.items():
                        writer.add_scalar(f"loss/{k}", v, global_step)
                    for k, v in timers.items():
                        writer.add_scalar(f"time/{k}", v, global_step)

                snapshot_stats = window.mean() or last_stats
                snapshot = {
                    "progress": {"epoch": f"{epoch}/{total_epochs}", "agent steps": global_step, "sps": sps,
                                 "elapsed s": elapsed},
                    "episodes": snapshot_stats,
                    "losses": losses,
                    "time": {**time_split(epoch_times), **machine()},
                }
                if not quiet and dashboard.update(snapshot):
                    last_stats, window = snapshot_stats, Window()
                elif time.monotonic() - log_time > t.log_interval:
                    last_stats, window, log_time = snapshot_stats, Window(), time.monotonic()

                stop = False
                if callback is not None:
                    stop = bool(callback({"epoch": epoch, "global_step": global_step, "episodes": stats,
                                          "losses": losses, "sps": sps, "elapsed": elapsed, "agent": agent,
                                          "rank": group.rank}))
                interrupted = sigint["stop"]
                stop = group.any(stop or interrupted or target_time is not None)  # every rank stops together
                if epoch % t.checkpoint_interval == 0 and epoch < total_epochs and not stop:
                    last_ckpt = save(snapshot_stats)
                    needs_reset = True
                if stop:
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        dashboard.close()

    final = save(window.mean() or last_stats)
    wall = time.monotonic() - start
    result = {"env": env, "checkpoint": str(final), "run_dir": str(run_dir), "agents": num_agents,
              "global_step": global_step,
              "epochs": epoch, "wall_time": wall, "sps": (global_step - start_step) / max(wall, 1e-9),
              "train": window.mean() or last_stats, "losses": losses, "interrupted": interrupted,
              "target": t.target, "target_metric": t.target_metric, "target_episodes": t.target_episodes,
              "target_reached": target_time is not None,
              "target_time": target_time, "target_steps": target_steps, "timers": dict(timers)}
    result["eval"] = {}
    if t.eval_episodes and not interrupted:
        ev = run_episodes(vec, agent, device, t.eval_episodes, seed=t.seed + 1_000_003 + group.rank * 1_000_003,
                          deterministic=t.eval_deterministic)
        result["eval"] = group.merge_stats(ev, vec.log_fields)
    if group.distributed:
        result["world_size"] = group.world_size
        if not group.weights_agree(agent):
            raise TrainingError("the ranks of this data-parallel run ended with different weights, which "
                                "averaged gradients cannot produce: a bug, please report it")
    source = result["eval"] or result["train"]
    result["score"] = source.get("score", source.get("episode_return", float("nan")))
    if writer is not None:
        for k, v in result["eval"].items():
            writer.add_scalar(f"eval/{k}", v, global_step)
        writer.close()
    if not quiet:
        print(summary(result), flush=True)
    return result


def summary(result: dict) -> str:
    ev = result["eval"]
    lines = [f"finished {result['env']}: {result['global_step']:,} agent steps in {result['wall_time']:.1f} s "
             f"({result['sps']:,.0f} steps/s)"]
    if result["interrupted"]:
        lines.append("interrupted: no final evaluation; resume with --resume " + result["checkpoint"])
    elif ev:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in ev.items() if k != "n")
        lines.append(f"final evaluation over {ev.get('n', 0):.0f} episodes: {shown}")
    elif result["train"]:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in result["train"].items() if k != "n")
        lines.append(f"last training episodes: {shown}")
    if result["target"] != math.inf:
        if result["target_reached"]:
            lines.append(f"target {result['target_metric']} >= {result['target']} (mean of the last "
                         f"{result['target_episodes']} episodes) reached after {result['target_time']:.1f} s, "
                         f"{result['target_steps']:,} steps")
        else:
            lines.append(f"target {result['target_metric']} >= {result['target']} NOT reached")
    lines.append(f"checkpoint: {result['checkpoint']}")
    return "\n".join(lines)
