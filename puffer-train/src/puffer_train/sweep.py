"""`puffer-train sweep <env>`: cost-aware hyperparameter search on Optuna, and `puffer-train sweep show`.

Two objectives per trial: maximize the trainer's final-evaluation score (`train()`'s `score`, the mean over
`train.eval_episodes` episodes after training, never a noisy last point) and minimize its cost (agent steps
or wall-clock seconds of training; `train.total_timesteps` is itself in the space). The sampler is
Optuna's multi-objective TPE (MOTPE): it splits the trials it has seen by non-domination rank (ties by
hypervolume contribution) and samples where the good ones lie, so new trials land around the whole
Pareto front, cheap and expensive alike, like CARBS or PufferLib's Protein, with no hand-written model.
NSGA-II would need populations of ~50 over many generations; sweeps here have tens of trials.

How a sweep runs, in a folder `<root>/<name>/`:

- `study.db`: the Optuna study in SQLite (RDB storage). Several sweep processes may share it
  (`--resume` from a second shell joins a running sweep).
- Each trial trains in its own process (`puffer_train.sweep_trial`), `workers` at a time, with its own
  seed, under `trials/trial_NNNN/` (the trainer's run dir: config, checkpoints, TensorBoard events);
  one that runs past `trial_timeout` is killed.
- A trial that diverges (NaN), crashes, times out or gives a non-finite score is a failure: it is
  stored as PRUNED with the constraint `failed = 1` and its reason in the user attribute `failure`,
  never as a score. Optuna's constrained TPE ranks such trials below every feasible one, so the search
  moves away from them (a FAIL-state trial is invisible to TPE, so it would not).
- The sweep process records a heartbeat for each trial it runs. A trial whose sweep died (SIGKILL,
  power loss) stops heartbeating; the next sweep process on the study (`--resume`) marks it FAIL
  ("lost", not the config's fault, not counted) and re-queues its parameters and seed as a new trial.
  So a resumed sweep loses at most the trials that were in flight and counts none twice.
- Then `repeats` fresh-seed runs of the best configs near the front; the chosen config is the best on
  the mean over its seeds (with a `target`: the cheapest whose mean score reaches it). It is written
  as `best.toml` (accepted unchanged by `puffer-train <env> --config best.toml`), with `pareto.png`
  (score vs cost, every trial a point, failures marked) and `curves.png` (learning curves).

The search space is the plugin TOML's `[sweep]` section (settings, plus one table per config section
with one distribution per option), layered: plugin < `--sweep-config FILE` < `--sweep.*` flags <
keyword arguments. A plugin without parameter tables gets `default_space()`, the usual PPO knobs.

    [sweep]
    cost = "seconds"      # or "steps"
    trials = 30
    target = 500.0        # optional: choose the cheapest config whose mean score reaches this
    [sweep.train]
    learning_rate = { distribution = "log_uniform", min = 1e-3, max = 5e-2 }
    total_timesteps = { distribution = "int", min = 50_000, max = 500_000, log = true }
    update_epochs = { distribution = "int", min = 1, max = 8 }
    gamma = { distribution = "uniform", min = 0.95, max = 0.999 }
    [sweep.env]
    num_envs = { distribution = "choice", values = [32, 64, 128] }
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import get_type_hints

import puffer_core
from puffer_core.errors import ConfigError, PufferError, did_you_mean
from puffer_core.flags import Parser, check_kind, parse_value

from . import config as cfg
from .files import write_atomically

DISTRIBUTIONS = ("log_uniform", "uniform", "int", "choice")
DIST_KEYS = {"log_uniform": {"min", "max"}, "uniform": {"min", "max"}, "int": {"min", "max", "log", "step"},
             "choice": {"values"}}
COSTS = ("steps", "seconds")
# Run-bookkeeping options a sweep sets per trial; best.toml leaves them out (the user's run picks its own).
BOOKKEEPING = ("seed", "data_dir", "run_name", "dashboard")


class SweepError(PufferError, RuntimeError):
    """A sweep cannot start or go on (e.g. its folder already holds a study and --resume was not given)."""


@dataclass
class Settings:
    cost: str = cfg.opt("steps", "the second objective: agent steps or wall-clock seconds of training")
    trials: int = cfg.opt(20, "search trials (repeats and retries of lost trials come on top)")
    workers: int = cfg.opt(0, "trials at a time (0: as many as the machine's cores fit)")
    repeats: int = cfg.opt(2, "fresh-seed re-runs of each of the best configs (0: none)")
    repeat_points: int = cfg.opt(3, "how many configs near the front get those repeats")
    trial_timeout: float = cfg.opt(600.0, "seconds before a trial counts as hung and is killed")
    target: float = cfg.opt(math.inf, "choose the cheapest config whose mean score reaches this (inf: the best)",
                            inf_ok=True)
    seed: int = cfg.opt(1, "trial N trains with seed + N")
    heartbeat: int = cfg.opt(10, "seconds between liveness records; a trial silent for 3x is lost")

    def check(self, source: str) -> Settings:
        if self.cost not in COSTS:
            raise ConfigError(f"sweep.cost in {source} must be one of {', '.join(COSTS)}, got {self.cost!r}")
        for name in ("trials", "heartbeat", "repeat_points"):
            if getattr(self, name) < 1:
                raise ConfigError(f"sweep.{name} in {source} must be at least 1, got {getattr(self, name)}")
        for name in ("workers", "repeats"):
            if getattr(self, name) < 0:
                raise ConfigError(f"sweep.{name} in {source} must be 0 or more, got {getattr(self, name)}")
        if not self.trial_timeout > 0:
            raise ConfigError(f"sweep.trial_timeout in {source} must be a positive number of seconds")
        return self


SETTING_TYPES = get_type_hints(Settings)


# -- the [sweep] section -----------------------------------------------------------------------------

def parse_distribution(name: str, spec, source: str):
    """One `{distribution = ..., ...}` table as an Optuna distribution, checked against the config option."""
    import optuna.distributions as od

    where = f"sweep.{name} in {source}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a table such as {{ distribution = \"log_uniform\", min = 1e-4, "
                          f"max = 1e-2 }}, got {spec!r}")
    kind = str(spec.get("distribution", "")).replace("-", "_")
    if kind not in DISTRIBUTIONS:
        raise ConfigError(f"{where} has distribution {spec.get('distribution')!r}, which is not one of "
                          f"{', '.join(DISTRIBUTIONS)}.{did_you_mean(kind, DISTRIBUTIONS, cutoff=0.5)}")
    unknown = set(spec) - DIST_KEYS[kind] - {"distribution"}
    if unknown:
        raise ConfigError(f"{where}: a {kind} distribution takes {', '.join(sorted(DIST_KEYS[kind]))}, "
                          f"not {', '.join(sorted(unknown))}")
    if kind == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: a choice needs values = [a, b, ...] with at least one value")
        samples, dist = values, None
    else:
        missing = [k for k in ("min", "max") if k not in spec]
        if missing:
            raise ConfigError(f"{where}: a {kind} distribution needs min and max (missing {', '.join(missing)})")
        low, high = spec["min"], spec["max"]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if not numeric or not low < high:
            raise ConfigError(f"{where}: min and max must be numbers with min < max, got {low!r} and {high!r}")
        if kind == "log_uniform" and low <= 0:
            raise ConfigError(f"{where}: a log_uniform distribution needs min > 0, got {low!r}")
        if kind == "int":
            step, log = spec.get("step", 1), spec.get("log", False)
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, step)) or step < 1:
                raise ConfigError(f"{where}: an int distribution needs integer min, max and step >= 1, got "
                                  f"{low!r}, {high!r}, {step!r}")
            if not isinstance(log, bool) or (log and (low < 1 or step != 1)):
                raise ConfigError(f"{where}: log must be true or false; log = true needs min >= 1 and step 1")
            dist = od.IntDistribution(low, high, log=log, step=step)
            samples = [low, high]
        else:
            dist = od.FloatDistribution(float(low), float(high), log=kind == "log_uniform")
            samples = [float(low), float(high)]
    section, key = name.split(".", 1)
    if section != "env":
        for value in samples:  # the option exists and takes values of this type
            try:
                cfg._check(section, key, value, f"[sweep] of {source}")
            except ConfigError as e:
                if "must be" in str(e) and kind in ("uniform", "log_uniform"):
                    raise ConfigError(f"{e}: integer options take distribution = \"int\" or \"choice\"") from None
                raise
    return dist if dist is not None else od.CategoricalDistribution(samples)


def parse_sweep_table(table: dict, source: str) -> tuple[dict, dict]:
    """A `[sweep]` table -> (settings {name: value}, space {"section.key": distribution})."""
    if not isinstance(table, dict):
        raise ConfigError(f"[sweep] in {source} must be a table, got {table!r}")
    settings, space = {}, {}
    for key, value in table.items():
        if key in cfg.ALL_SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[sweep.{key}] in {source} must be a table of option = {{ distribution ... }}")
            for option, spec in value.items():
                space[f"{key}.{option}"] = parse_distribution(f"{key}.{option}", spec, source)
        elif key in SETTING_TYPES:
            settings[key] = _setting(key, value, source)
        else:
            hint = did_you_mean(key, [*SETTING_TYPES, *cfg.ALL_SECTIONS])
            raise ConfigError(f"unknown key sweep.{key} in {source}.{hint} [sweep] takes the settings "
                              f"{', '.join(SETTING_TYPES)} and the tables {', '.join(cfg.ALL_SECTIONS)}.")
    return settings, space


def _setting(key: str, value, source: str):
    return check_kind(value, SETTING_TYPES[key], f"sweep.{key}", source)


def default_space(base: cfg.Config) -> dict:
    """The PPO knobs, around the env's own training budget, for plugins whose [sweep] has no tables."""
    steps = base.train.total_timesteps
    table = {"train": {
        "learning_rate": {"distribution": "log_uniform", "min": 1e-4, "max": 3e-2},
        "total_timesteps": {"distribution": "int", "min": max(1, steps // 8), "max": 2 * steps, "log": True},
        "update_epochs": {"distribution": "int", "min": 1, "max": 8},
        "minibatch_size": {"distribution": "choice", "values": [512, 1024, 2048, 4096, 8192]},
        "gamma": {"distribution": "uniform", "min": 0.95, "max": 0.999},
        "gae_lambda": {"distribution": "uniform", "min": 0.8, "max": 0.99},
        "clip_coef": {"distribution": "uniform", "min": 0.1, "max": 0.3},
        "ent_coef": {"distribution": "log_uniform", "min": 1e-5, "max": 3e-2},
        "vf_coef": {"distribution": "uniform", "min": 0.25, "max": 1.0},
        "max_grad_norm": {"distribution": "uniform", "min": 0.3, "max": 2.0},
    }}
    return parse_sweep_table(table, "the default sweep space")[1]


def params_to_layer(params: dict) -> dict:
    """{"train.learning_rate": 0.01} -> {"train": {"learning_rate": 0.01}}."""
    layer: dict = {}
    for name, value in params.items():
        section, key = name.split(".", 1)
        layer.setdefault(section, {})[key] = value
    return layer


def _flatten(layer: dict) -> set[str]:
    return {f"{section}.{key}" for section, values in layer.items() if isinstance(values, dict) for key in values}


# -- the plan of a sweep (what its study stores, so a resumed sweep searches the same space) ---------

@dataclass
class Plan:
    env: str
    settings: Settings
    space: dict                        # "section.key" -> optuna distribution
    layers: list[tuple[dict, str]]     # config layers under the sampled values (config file, fixed flags)

    def to_json(self) -> str:
        from optuna.distributions import distribution_to_json

        return json.dumps({"env": self.env, "settings": asdict(self.settings), "layers": self.layers,
                           "space": {k: distribution_to_json(d) for k, d in self.space.items()}})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        from optuna.distributions import json_to_distribution

        data = json.loads(text)
        return cls(data["env"], Settings(**data["settings"]), {k: json_to_distribution(v) for k, v in
                                                               data["space"].items()},
                   [(layer, source) for layer, source in data["layers"]])


def make_plan(env: str, *, config: str | Path | None = None, sweep_config: str | Path | None = None,
              sweep_layers: list[tuple[dict, str]] | None = None, fixed: dict | None = None,
              settings: dict | None = None) -> Plan:
    """Plugin [sweep] < sweep_config's [sweep] < sweep_layers (flags) < settings; `fixed` config values
    (flags, API) leave the space. Everything is checked here, before a trial starts."""
    spec = puffer_core.get_spec(env)
    plugin = spec.training_config()
    tables = [(plugin.get(cfg.SWEEP_SECTION, {}), f"the training TOML of env {env!r}")]
    layers: list[tuple[dict, str]] = []
    if config is not None:
        layers.append((cfg.load_toml(config), str(config)))
    if sweep_config is not None:
        data = cfg.load_toml(sweep_config)
        if cfg.SWEEP_SECTION not in data:
            raise ConfigError(f"sweep config {sweep_config} has no [sweep] section: put the settings and the "
                              "[sweep.<section>] tables of distributions under it")
        tables.append((data.pop(cfg.SWEEP_SECTION), str(sweep_config)))
        if data:  # its other sections are fixed config values, like --config's
            layers.append((data, str(sweep_config)))
    tables += list(sweep_layers or [])
    if fixed:
        layers.append((fixed, "fixed values"))
    merged_settings, space, own_space = {}, {}, False
    for table, source in tables:
        s, p = parse_sweep_table(table, source)
        merged_settings.update(s)
        space.update(p)
        own_space = own_space or bool(p)
    for key, value in (settings or {}).items():
        if key not in SETTING_TYPES:
            raise ConfigError(f"unknown sweep setting {key!r}.{did_you_mean(key, SETTING_TYPES)} "
                              f"Settings: {', '.join(SETTING_TYPES)}.")
        if value is not None:
            merged_settings[key] = _setting(key, value, f"sweep setting {key}=")
    from .trainer import resolve_config

    base, _ = resolve_config(env, layers=layers)  # the layers under the space are valid on their own
    if not own_space:
        space = default_space(base)
    for name in _flatten(fixed or {}):
        space.pop(name, None)
    if not space:
        raise ConfigError(f"nothing to search for {env}: every parameter of the space is fixed")
    if base.train.eval_episodes < 1:
        raise ConfigError("a sweep scores each trial on its final evaluation: train.eval_episodes must be at least 1")
    return Plan(env, Settings(**merged_settings).check("the sweep settings"), space, layers)


def fitting_workers(plan: Plan) -> int:
    """Trials at a time that fit the machine: each trial uses its vector workers' cores and torch threads."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    from .trainer import resolve_config

    base, _ = resolve_config(plan.env, layers=plan.layers)
    per_trial = max(1, base.train.torch_threads or cores)
    if base.vec.backend != "serial":
        per_trial = max(per_trial, base.vec.num_workers or cores)
    return max(1, cores // per_trial)


# -- storage -----------------------------------------------------------------------------------------

def _optuna():
    """optuna, imported on first use (trial processes never need it), with its chatter turned down."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # This loop records the heartbeats of its trials itself (Sweep.heartbeat), without Study.optimize.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    return optuna


def storage_url(folder: Path, name: str = "study.db") -> str:
    return f"sqlite:///{(folder / name).resolve()}"


def open_storage(folder: Path, heartbeat: int, name: str = "study.db"):
    optuna = _optuna()
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    return RDBStorage(storage_url(folder, name), engine_kwargs={"connect_args": {"timeout": 60}},
                      heartbeat_interval=heartbeat, grace_period=3 * heartbeat,
                      heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3)), optuna


def create(folder: Path, plan: Plan):
    """A new study in `folder`, storing the plan so that every process joining it searches the same space."""
    folder.mkdir(parents=True, exist_ok=True)
    # Built under a private name, then linked into place: a process joining the sweep never opens a
    # half-created database (two processes creating Optuna's tables at once collide).
    tmp = f".study-{os.getpid()}.db"
    try:
        storage, optuna = open_storage(folder, plan.settings.heartbeat, tmp)
        study = optuna.create_study(study_name=folder.name, storage=storage, directions=["maximize", "minimize"])
        study.set_user_attr("plan", plan.to_json())
        storage.engine.dispose()
        try:
            os.link(folder / tmp, folder / "study.db")  # fails if another process created one meanwhile
        except FileExistsError:
            raise SweepError(f"{folder} already holds a sweep: pass --resume (resume=True) to join it") from None
    finally:
        (folder / tmp).unlink(missing_ok=True)
    return load(folder)[0]


def find_study(where: str | Path, root: str | Path = "sweeps") -> Path:
    """A sweep folder from its folder, its study.db or its name under `root`."""
    path = Path(where)
    for candidate in (path, path.parent if path.name == "study.db" else None, Path(root) / str(where)):
        if candidate is not None and (candidate / "study.db").is_file():
            return candidate
    raise SweepError(f"no sweep found at {where!r}: give a sweep folder (holding study.db), its study.db, "
                     f"or a sweep name under {root}/")


def load(folder: Path, heartbeat: int | None = None):
    """(study, plan) of an existing sweep folder."""
    optuna = _optuna()
    names = optuna.study.get_all_study_names(storage_url(folder))
    if not names:
        raise SweepError(f"{folder / 'study.db'} holds no study")
    plan_json = optuna.load_study(study_name=names[0], storage=storage_url(folder)).user_attrs.get("plan")
    if plan_json is None:
        raise SweepError(f"study {names[0]!r} in {folder} was not written by puffer-train sweep")
    plan = Plan.from_json(plan_json)
    storage, _ = open_storage(folder, heartbeat or plan.settings.heartbeat)
    return optuna.load_study(study_name=names[0], storage=storage), plan


# -- reading a study -----------------------------------------------------------------------------------

@dataclass
class Group:
    """One configuration: its first trial and the fresh-seed repeats of it."""
    root: int
    params: dict
    scores: list
    costs: list
    steps: list
    seconds: list
    failures: list
    trials: list

    @property
    def ok(self) -> bool:
        return bool(self.scores) and not self.failures

    @property
    def seeds(self) -> int:
        return len(self.scores) + len(self.failures)

    @property
    def score(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else -math.inf

    @property
    def cost(self) -> float:
        return sum(self.costs) / len(self.costs) if self.costs else math.inf


def is_failure(trial) -> bool:
    return trial.constraints.get("failed", 0) > 0


def is_repeat(trial) -> bool:
    return "repeat_of" in trial.user_attrs


def groups(study, plan: Plan) -> dict[int, Group]:
    import optuna

    out: dict[int, Group] = {}
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    for t in study.get_trials(deepcopy=False, states=done):
        root = t.user_attrs.get("repeat_of", t.number)
        g = out.setdefault(root, Group(root, dict(t.params), [], [], [], [], [], []))
        g.trials.append(t)
        if is_failure(t):
            g.failures.append(t.user_attrs.get("failure", "failed"))
        else:
            g.scores.append(t.values[0])
            g.costs.append(t.values[1])
            g.steps.append(t.user_attrs.get("steps"))
            g.seconds.append(t.user_attrs.get("seconds"))
    return out


def pareto_ranks(points: list[tuple[float, float]]) -> list[int]:
    """Non-domination rank (0 = the front) of (score to maximize, cost to minimize) points."""
    ranks = [-1] * len(points)
    left, rank = set(range(len(points))), 0
    while left:
        front = {i for i in left if not any(
            points[j][0] >= points[i][0] and points[j][1] <= points[i][1] and points[j] != points[i] for j in left)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


def front(found: dict[int, Group]) -> list[Group]:
    """The Pareto front of the configs that never failed, on their means over seeds, cheapest first."""
    good = [g for g in found.values() if g.ok]
    ranks = pareto_ranks([(g.score, g.cost) for g in good])
    return sorted((g for g, r in zip(good, ranks, strict=True) if r == 0), key=lambda g: g.cost)


def repeat_candidates(found: dict[int, Group], s: Settings) -> list[Group]:
    """The configs that get fresh-seed repeats: with a target, the cheapest that reached it; then the
    best-ranked by non-domination and score (the front's high end first)."""
    good = [g for g in found.values() if g.ok]
    ranks = dict(zip((g.root for g in good), pareto_ranks([(g.score, g.cost) for g in good]), strict=True))
    picked = sorted((g for g in good if g.score >= s.target), key=lambda g: g.cost)[:s.repeat_points]
    for g in sorted(good, key=lambda g: (ranks[g.root], -g.score)):
        if len(picked) >= s.repeat_points:
            break
        if g not in picked:
            picked.append(g)
    return picked


def choose(found: dict[int, Group], s: Settings) -> Group | None:
    """The reported config, on the mean over its seeds: among the configs with the most seeds that never
    failed, the cheapest reaching `target` when one does, else the best score (ties: the cheaper)."""
    good = [g for g in found.values() if g.ok]
    if not good:
        return None
    most = max(g.seeds for g in good)
    pool = [g for g in good if g.seeds == most]
    reached = [g for g in pool if g.score >= s.target]
    if reached:
        return min(reached, key=lambda g: g.cost)
    return max(pool, key=lambda g: (g.score, -g.cost))


# -- running trials ------------------------------------------------------------------------------------

@dataclass
class Running:
    trial: object  # optuna.Trial
    process: subprocess.Popen | None  # a local trial process, or
    folder: Path
    started: float
    log: object
    ref: object = None  # the ObjectRef of a trial running as a Ray task (sweep --ray)


def connect_ray(address: str):
    """The ray module, connected: to `address` ("auto", "host:port", "ray://..."), or a local Ray for
    "local" / ""; a process already connected stays on its cluster."""
    try:
        import ray
    except ImportError as e:
        raise ConfigError("sweep --ray needs Ray: pip install 'puffer-core[ray]'") from e
    if not ray.is_initialized():
        local = address in ("", "local")
        if local:
            from puffer_core.vector.ray import check_temp_dir

            check_temp_dir()
        ray.init(address=None if local else address, include_dashboard=False, log_to_driver=False)
    return ray


def ray_trial(spec: dict) -> dict:
    """One trial as a Ray task, on whichever node Ray picks: what sweep_trial.run returns, plus the node."""
    import ray

    from . import sweep_trial

    try:
        outcome = sweep_trial.run(spec)
    except Exception as e:  # a crash is the trial's result, recorded as a failure
        outcome = {"ok": False, "failure": f"crashed: {type(e).__name__}: {e}"}
    outcome["ray_node"] = ray.get_runtime_context().get_node_id()
    return outcome


class Sweep:
    """The loop of one sweep process: ask Optuna, start trial processes, heartbeat, tell the results."""

    def __init__(self, study, plan: Plan, folder: Path, workers: int, quiet: bool, ray_address: str | None = None):
        import optuna

        self.optuna, self.study, self.plan, self.folder = optuna, study, plan, folder
        # sweep --ray: trials are Ray tasks (1 CPU each) anywhere on the cluster; this process alone talks
        # to the study database, so the cluster's nodes need no access to it.
        self.ray = connect_ray(ray_address) if ray_address is not None else None
        self.remote_trial = self.ray.remote(num_cpus=1, max_retries=0)(ray_trial) if self.ray else None
        self.s = plan.settings
        self.workers, self.quiet = workers, quiet
        self.running: dict[int, Running] = {}
        self.storage = study._storage
        self.last_stale_check = self.last_heartbeat = 0.0
        self.started = time.monotonic()

    # What the study holds, across every process sharing it.
    def trials(self, *states):
        return self.study.get_trials(deepcopy=False, states=states or None)

    def search_count(self) -> int:
        """Search trials that are done, running or queued; lost (FAIL) ones are replaced by their retries."""
        st = self.optuna.trial.TrialState
        return sum(1 for t in self.trials(st.COMPLETE, st.PRUNED, st.RUNNING, st.WAITING) if not is_repeat(t))

    def next_trial(self):
        st = self.optuna.trial.TrialState
        if not self.trials(st.WAITING):
            if self.search_count() < self.s.trials:
                pass  # sample a new point
            elif not self.queue_repeats():
                return None
        trial = self.study.ask(self.plan.space)
        self.storage.record_heartbeat(trial._trial_id)  # from now on a dead sweep leaves it stale
        if "seed" not in trial.user_attrs:
            trial.set_user_attr("seed", self.s.seed + trial.number)
        return trial

    def queue_repeats(self) -> bool:
        """Once every search trial has finished: enqueue the missing fresh-seed repeats of the best configs."""
        st = self.optuna.trial.TrialState
        if self.s.repeats == 0 or any(not is_repeat(t) for t in self.trials(st.RUNNING, st.WAITING)):
            return False
        found = groups(self.study, self.plan)
        # The candidates are picked once, on the search trials alone, and stored: repeats change the
        # means, and re-picking after them would chase the noise round after round.
        searched = sum(1 for g in found.values() for t in g.trials if not is_repeat(t))
        picked = self.study.user_attrs.get("repeat_roots", {"searched": -1, "roots": []})
        roots = picked["roots"]
        if picked["searched"] != searched or len(roots) < self.s.repeat_points:
            # First time, or resumed with more trials or a larger --repeat-points.
            roots += [g.root for g in repeat_candidates(found, self.s) if g.root not in roots]
            self.study.set_user_attr("repeat_roots", {"searched": searched, "roots": roots})
        queued = 0
        pending = [t for t in self.trials(st.RUNNING, st.WAITING) if is_repeat(t)]
        for g in (found[r] for r in roots if r in found):
            have = g.seeds - 1 + sum(1 for t in pending if t.user_attrs["repeat_of"] == g.root)
            for _ in range(self.s.repeats - have):
                self.study.enqueue_trial(g.params, user_attrs={"repeat_of": g.root}, skip_if_exists=False)
                queued += 1
        return queued > 0 or bool(self.trials(st.WAITING))

    def launch(self, trial) -> None:
        name = f"trial_{trial.number:04d}"
        folder = self.folder / "trials" / name
        folder.mkdir(parents=True, exist_ok=True)
        forced = {"train": {"seed": trial.user_attrs["seed"], "data_dir": str((self.folder / "trials").resolve()),
                            "run_name": name, "dashboard": False}}
        spec = {"env": self.plan.env, "parent_pid": os.getpid(),
                "layers": [*self.plan.layers, (params_to_layer(trial.params), f"sweep trial {trial.number}"),
                           (forced, "the sweep")]}
        (folder / "spec.json").write_text(json.dumps(spec, indent=1))
        if self.ray is not None:
            ref = self.remote_trial.remote(spec)
            self.running[trial.number] = Running(trial, None, folder, time.monotonic(), None, ref)
        else:
            log = open(folder / "log.txt", "w")  # noqa: SIM115 (closed when the trial ends)
            process = subprocess.Popen([sys.executable, "-m", "puffer_train.sweep_trial", str(folder / "spec.json")],
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.running[trial.number] = Running(trial, process, folder, time.monotonic(), log)
        if not self.quiet:
            shown = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.params.items())
            kind = f"repeat of {trial.user_attrs['repeat_of']}" if is_repeat(trial) else "search"
            print(f"[sweep {self.plan.env}] trial {trial.number} started ({kind}, seed {trial.user_attrs['seed']}): "
                  f"{shown}", flush=True)

    def reap(self) -> None:
        for number, r in list(self.running.items()):
            elapsed = time.monotonic() - r.started
            if not self.finished(r):
                if elapsed <= self.s.trial_timeout:
                    continue
                self.kill(r)
                outcome = {"ok": False, "failure": f"timeout: still running after {self.s.trial_timeout:g} s"}
            else:
                outcome = self.outcome(r)
            del self.running[number]
            self.tell(r, outcome, elapsed)

    def finished(self, r: Running) -> bool:
        if r.ref is not None:
            return bool(self.ray.wait([r.ref], timeout=0)[0])
        return r.process.poll() is not None

    def outcome(self, r: Running) -> dict:
        if r.ref is not None:
            try:
                return self.ray.get(r.ref)
            except self.ray.exceptions.RayError as e:  # its worker or node died
                text = str(e).strip().splitlines()
                return {"ok": False, "failure": f"crashed: the Ray task died ({type(e).__name__}: "
                                                f"{text[0] if text else ''})"}
        r.log.close()
        path = r.folder / "result.json"
        if path.exists():
            return json.loads(path.read_text())
        return {"ok": False, "failure": f"crashed: the trial process exited with code {r.process.returncode} "
                                        f"(see {r.folder / 'log.txt'})"}

    def kill(self, r: Running) -> None:
        if r.ref is not None:
            self.ray.cancel(r.ref, force=True)
        else:
            kill_group(r.process)
            r.log.close()

    def tell(self, r: Running, outcome: dict, elapsed: float) -> None:
        trial, st = r.trial, self.optuna.trial.TrialState
        trial.set_user_attr("run_dir", str(r.folder.resolve()))
        if "ray_node" in outcome:
            trial.set_user_attr("ray_node", outcome["ray_node"])
        if outcome.get("curve"):
            (r.folder / "curve.json").write_text(json.dumps(outcome["curve"]))
        if outcome["ok"]:
            for key in ("score", "steps", "seconds", "sps", "target_reached"):
                trial.set_user_attr(key, outcome[key])
            trial.set_constraint("failed", 0.0)
            self.study.tell(trial, [outcome["score"], outcome[self.s.cost]])
        else:
            trial.set_user_attr("failure", outcome["failure"][:2000])
            trial.set_user_attr("seconds", elapsed)
            trial.set_constraint("failed", 1.0)
            self.study.tell(trial, state=st.PRUNED)
        if not self.quiet:
            print(self.line(trial, outcome), flush=True)

    def line(self, trial, outcome: dict) -> str:
        """The dashboard line of a finished trial: its result, progress, and the best so far."""
        found = groups(self.study, self.plan)
        searched = sum(1 for g in found.values() for t in g.trials if not is_repeat(t))
        if outcome["ok"]:
            result = f"score {outcome['score']:.4g}, {outcome['steps']:,} steps, {outcome['seconds']:.1f} s"
        else:
            result = "FAILED " + outcome["failure"].splitlines()[0][:120]
        best = choose(found, self.s)
        best_text = (f"best {best.score:.4g} at {_fmt_cost(best.cost, self.s.cost)} (trial {best.root}, "
                     f"{best.seeds} seed{'s' * (best.seeds > 1)})" if best else "no success yet")
        return (f"[sweep {self.plan.env}] trial {trial.number}: {result} | {searched}/{self.s.trials} searched, "
                f"{len(self.running)} running, {time.monotonic() - self.started:.0f} s | {best_text} | "
                f"front {len(front(found))}")

    def heartbeat(self) -> None:
        now = time.monotonic()
        if now - self.last_heartbeat >= max(1.0, self.s.heartbeat / 3):
            self.last_heartbeat = now
            for r in self.running.values():
                self.storage.record_heartbeat(r.trial._trial_id)
        if now - self.last_stale_check >= self.s.heartbeat:
            self.last_stale_check = now
            stale = [t.number for t in self.trials(self.optuna.trial.TrialState.RUNNING)
                     if t.number not in self.running]
            if stale:  # others' trials: lost ones become FAIL and are re-queued with the same params and seed
                self.optuna.storages.fail_stale_trials(self.study)

    def run(self) -> None:
        st = self.optuna.trial.TrialState
        try:
            while True:
                self.heartbeat()
                self.reap()
                while len(self.running) < self.workers:
                    trial = self.next_trial()
                    if trial is None:
                        break
                    self.launch(trial)
                if not self.running:
                    others = self.trials(st.RUNNING, st.WAITING)
                    if not others:
                        break
                    # Trials of another sweep process (or lost ones, until their heartbeat goes stale).
                time.sleep(0.2)
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Ctrl-C or an error: kill our trials and hand them back to the study, to be retried on --resume."""
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        for r in list(self.running.values()):
            self.kill(r)
            try:
                self.study.tell(r.trial, state=self.optuna.trial.TrialState.FAIL)
                lost = self.storage.get_trial(r.trial._trial_id)
                RetryHeartbeatStaleTrialCallback(max_retry=3)(self.study, lost)
            except Exception:  # noqa: BLE001 (a trial left RUNNING goes stale and is retried by the next sweep)
                pass
        self.running.clear()


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _fmt_cost(cost: float, kind: str) -> str:
    return f"{cost:.1f} s" if kind == "seconds" else f"{cost:,.0f} steps"


# -- the API ---------------------------------------------------------------------------------------

def sweep(env: str, /, *, name: str | None = None, root: str | Path = "sweeps", resume: bool = False,
          config: str | Path | None = None, sweep_config: str | Path | None = None,
          space: dict | None = None, fixed: dict | None = None, quiet: bool = False, ray: str | None = None,
          **settings) -> dict:
    """Cost-aware hyperparameter search on `env`; returns the chosen config and where everything went.

        puffer_train.sweep("cartpole", trials=20, cost="seconds", repeats=2)

    `space`: a `[sweep]`-style table ({"train": {"learning_rate": {"distribution": ...}}}) over the
    plugin's; `fixed`: config sections ({"train": {"gamma": 0.99}}) held fixed (they leave the space);
    `config`/`sweep_config`: TOML files as for the CLI; `ray`: run the trials as Ray tasks on the cluster
    at this address ("" or "local": a local Ray; "auto": the running one); `settings`: any of Settings'
    fields (trials, workers, cost, repeats, repeat_points, trial_timeout, target, seed, heartbeat). The sweep lives in
    `root/name` (name: the env's); `resume=True` continues (or joins) the sweep there, and keyword
    settings then replace the stored ones (e.g. more trials).
    Returns {"folder", "best" (params, score, cost, seeds, trial), "best_toml", "plots", "front", "trials"}.
    """
    optuna = _optuna()
    folder = Path(root) / (name or env.replace(":", "_").replace("/", "_"))
    if resume:
        if not (folder / "study.db").exists():
            raise SweepError(f"nothing to resume: {folder / 'study.db'} does not exist; start the sweep without "
                             "--resume")
        study, plan = load(folder)
        if plan.env != env:
            raise SweepError(f"the sweep in {folder} is of env {plan.env!r}, not {env!r}")
        overrides = {k: _setting(k, v, f"sweep setting {k}=") for k, v in settings.items() if v is not None}
        unknown = set(overrides) - set(SETTING_TYPES)
        if unknown:
            raise ConfigError(f"unknown sweep setting(s) {', '.join(sorted(unknown))}")
        plan.settings = Settings(**{**asdict(plan.settings), **overrides}).check("the sweep settings")
    else:
        if (folder / "study.db").exists():
            raise SweepError(f"{folder} already holds a sweep: pass --resume (resume=True) to continue it, or "
                             "--name NAME (name=) for a new one")
        plan = make_plan(env, config=config, sweep_config=sweep_config,
                         sweep_layers=[(space, "the --sweep.* flags (space=)")] if space else None, fixed=fixed,
                         settings=settings)
        study = create(folder, plan)
    workers = plan.settings.workers or fitting_workers(plan)
    s = plan.settings
    startup = min(10, max(3, s.trials // 3))
    study.sampler = optuna.samplers.TPESampler(
        multivariate=True, n_startup_trials=startup, constant_liar=workers > 1,
        seed=s.seed + len(study.get_trials(deepcopy=False)))  # a resumed sweep does not redraw old points
    if not quiet:
        print(f"[sweep {env}] {folder}: {s.trials} trials, cost = {s.cost}, {workers} at a time, "
              f"{s.repeats} repeats of the best {s.repeat_points}; {len(plan.space)} parameters: "
              f"{', '.join(plan.space)}", flush=True)
    Sweep(study, plan, folder, workers, quiet, ray_address=ray).run()
    return report(folder, study, plan, quiet=quiet)


def report(folder: Path, study, plan: Plan, quiet: bool = False) -> dict:
    """Write best.toml and the plots of a finished sweep; return the summary."""
    from . import sweep_plots

    found = groups(study, plan)
    best = choose(found, plan.settings)
    out = {"folder": str(folder), "best": None, "best_toml": None, "front": [], "plots": {},
           "trials": summary_counts(study)}
    out["front"] = [{"trial": g.root, "score": g.score, "cost": g.cost, "seeds": g.seeds, "params": g.params}
                    for g in front(found)]
    if best is not None:
        out["best"] = {"trial": best.root, "score": best.score, "min_score": min(best.scores), "cost": best.cost,
                       "seeds": best.seeds, "params": best.params,
                       "steps": _mean(best.steps), "seconds": _mean(best.seconds)}
        out["best_toml"] = str(write_best(folder, plan, best))
    out["plots"] = sweep_plots.write_all(folder, found, best, plan.settings, plan.env)
    if not quiet:
        print(table(found, plan, best, title=f"sweep {folder}"), flush=True)
        if best is None:
            print(f"[sweep {plan.env}] no trial succeeded: see the failures above and the trials' log.txt")
        else:
            print(f"[sweep {plan.env}] chosen: trial {best.root}, mean score {best.score:.4g} (min "
                  f"{min(best.scores):.4g}) over {best.seeds} seeds, mean cost "
                  f"{_fmt_cost(best.cost, plan.settings.cost)}\n  {out['best_toml']}\n  plots: "
                  + ", ".join(out["plots"].values()), flush=True)
    return out


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def summary_counts(study) -> dict:
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        state = "failed" if is_failure(t) else {"FAIL": "lost"}.get(t.state.name, t.state.name.lower())
        counts[state] = counts.get(state, 0) + 1
    return counts


def write_best(folder: Path, plan: Plan, best: Group) -> Path:
    """The chosen trial's whole training config, less run bookkeeping, as TOML for --config."""
    import tomllib

    import tomli_w

    trial = best.trials[0]
    stored = Path(trial.user_attrs["run_dir"]) / "config.toml"
    data = tomllib.loads(stored.read_text())
    for key in BOOKKEEPING:
        data["train"].pop(key, None)
    header = (f"# puffer-train sweep {plan.env}: trial {best.root}, mean score {best.score:.6g} (min "
              f"{min(best.scores):.6g}) over {best.seeds} seeds, mean cost {_fmt_cost(best.cost, plan.settings.cost)}\n"
              f"# swept: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in best.params.items()) + "\n"
              f"# use: puffer-train {plan.env} --config {folder / 'best.toml'}\n")
    return write_atomically(folder / "best.toml", header + tomli_w.dumps(data))


# -- `puffer-train sweep show` ------------------------------------------------------------------------

def table(found: dict[int, Group], plan: Plan, best: Group | None, title: str) -> str:
    """The configs as a rich table (front first, cheapest first; then the rest; then failures)."""
    from rich.console import Console
    from rich.table import Table

    on_front = {g.root for g in front(found)}
    unit = "s" if plan.settings.cost == "seconds" else "steps"
    t = Table(title=title, title_justify="left")
    for col in ("trial", "front", "seeds", "score mean", "score min", f"cost ({unit})", "steps", "seconds",
                *plan.space):
        t.add_column(col.split(".", 1)[-1], justify="right")
    t.add_column("status")
    order = sorted(found.values(), key=lambda g: (not g.ok, g.root not in on_front, g.cost, -g.score))
    for g in order:
        status = "chosen" if best is not None and g.root == best.root else ""
        if g.failures:
            status = ("failed: " if not g.scores else f"{len(g.failures)} failed: ") + g.failures[0][:60]
        t.add_row(str(g.root), "*" if g.root in on_front else "", str(g.seeds),
                  _fmt(g.score) if g.scores else "-", _fmt(min(g.scores)) if g.scores else "-",
                  _fmt_cost(g.cost, plan.settings.cost).split()[0] if g.costs else "-",
                  f"{_mean(g.steps):,.0f}" if g.scores else "-", f"{_mean(g.seconds):.1f}" if g.seconds else "-",
                  *(_fmt(g.params.get(k, "")) for k in plan.space), status)
    with open(os.devnull, "w") as sink:  # render at the table's natural width, whatever the terminal
        console = Console(width=1000, record=True, file=sink)
        console.print(t)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def show(where: str | Path, root: str | Path = "sweeps") -> str:
    folder = find_study(where, root)
    study, plan = load(folder)
    found = groups(study, plan)
    best = choose(found, plan.settings)
    counts = ", ".join(f"{v} {k}" for k, v in summary_counts(study).items())
    return table(found, plan, best, title=f"sweep {folder} ({plan.env}, cost = {plan.settings.cost}): {counts}")


# -- the CLI -----------------------------------------------------------------------------------------

USAGE = """puffer-train sweep <env> [--trials N, and the other settings] [--name NAME] [--dir ROOT] [--resume]
                          [--ray [auto | HOST:PORT | ray://HOST:PORT]] [--sweep-config FILE.toml] [--config FILE.toml]
                          [--sweep.<section>.<option> '{ distribution = "...", ... }'] [--<section>.<option> VALUE]
       puffer-train sweep show <sweep folder | study.db | name> [--dir ROOT]"""
DESCRIPTION = """Cost-aware search (Optuna multi-objective TPE): maximize the final evaluation score, minimize the cost.
The space is the env's TOML [sweep] section < --sweep-config < --sweep.* flags; a --<section>.<option>
flag fixes that option (it leaves the space). Results go to ROOT/NAME (default sweeps/<env>): study.db,
trials/ (run dirs with TensorBoard events), best.toml (for `puffer-train <env> --config`), pareto.png,
curves.png. --resume continues a stopped sweep, or joins one running from another shell.
--ray runs the trials as Ray tasks (1 CPU each) on a Ray cluster (address, or a local Ray when none is
given); this process alone keeps the study database."""


def parser(env: str | None, argv: list[str]) -> Parser:
    p = Parser("puffer-train sweep", USAGE, DESCRIPTION)
    p.add_argument("words", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--name", help="the sweep's folder name under ROOT (default: the env's name)")
    p.add_argument("--dir", default="sweeps", metavar="ROOT", help="folder of sweeps (default 'sweeps')")
    p.add_argument("--resume", action="store_true", help="continue the sweep in ROOT/NAME, or join it")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run the trials as Ray tasks: auto, HOST:PORT, ray://HOST:PORT (none: a local Ray)")
    p.add_argument("--sweep-config", metavar="FILE.toml", help="a [sweep] section replacing the env's, per option")
    p.add_argument("--config", metavar="FILE.toml", help="TOML file of fixed config values")
    group = p.add_argument_group("[sweep] settings")
    for f in fields(Settings):
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=argparse.SUPPRESS,
                           metavar=SETTING_TYPES[f.name].__name__.upper(),
                           type=lambda text, kind=SETTING_TYPES[f.name]: parse_value(text, kind),
                           help=f"{f.metadata['doc']} (default {f.default!r})")
    group = p.add_argument_group("[sweep.<section>]", "--sweep.<section>.<option> '{ distribution = ... }' "
                                                      "replaces that option's distribution")
    p.add_free_options(group, cfg.SWEEP_SECTION, argv)
    cfg.add_flags(p, env, argv)
    return p


def words_of(args) -> list[str]:
    """The positional words; `--ray pong` (with no address) leaves the env's name to them."""
    if args.ray not in (None, "", "auto", "local") and ":" not in args.ray:
        args.words.insert(0, args.ray)
        args.ray = ""
    return args.words


def cli(argv: list[str]) -> int:
    """`puffer-train sweep ...` (dispatched from puffer_train.cli)."""
    words = words_of(parser(None, argv).parse_known_args(argv)[0])  # the env types its --env flags
    p = parser(words[0] if len(words) == 1 else None, argv)
    args, flags = p.parse(argv)
    words = words_of(args)
    if words[:1] == ["show"]:
        if len(words) != 2:
            raise ConfigError("usage: puffer-train sweep show <sweep folder | study.db | name>")
        print(show(words[1], args.dir))
        return 0
    if len(words) != 1:
        p.print_help()
        return 2
    space: dict = {}
    for key, value in flags.pop(cfg.SWEEP_SECTION, {}).items():  # "train.learning_rate" -> nested tables
        *tables, option = key.split(".")
        target = space
        for table in tables:
            target = target.setdefault(table, {})
        target[option] = value
    settings = {f.name: getattr(args, f.name) for f in fields(Settings) if hasattr(args, f.name)}
    if args.resume and (space or flags or args.config or args.sweep_config):
        raise ConfigError("--resume continues the stored search space and config; only --trials, --workers, "
                          "--repeats and the other settings flags may change")
    result = sweep(words[0], name=args.name, root=args.dir, resume=args.resume, config=args.config,
                   sweep_config=args.sweep_config, space=space or None, fixed=flags or None, ray=args.ray,
                   **settings)
    return 0 if result["best"] is not None else 1
