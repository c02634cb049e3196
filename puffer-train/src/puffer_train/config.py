"""Training configuration: the sections [vec], [train], [policy] as dataclasses, plus free-form [env].

Layers, later wins: these defaults < the plugin's TOML (EnvSpec.config) < `--config FILE.toml` < flags.
TOML keys use underscores; flags use dashes (`--train.learning-rate 3e-4`). Every option carries a
one-line doc in its field metadata, from which `puffer-train --help` and its flags are generated.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import puffer_core
import tomli_w
from puffer_core.errors import ConfigError, did_you_mean
from puffer_core.flags import Parser, check_kind, flag_name

# The ranges an option may name, each with its test and the words of its error.
RANGES = {">= 1": (lambda v: v >= 1, "be at least 1"), ">= 0": (lambda v: v >= 0, "be 0 or more"),
          "> 0": (lambda v: v > 0, "be positive"), "[0, 1]": (lambda v: 0 <= v <= 1, "lie in [0, 1]")}


def opt(default, doc: str, valid: str | None = None, inf_ok: bool = False):
    """A config field with its default, one-line help text and the range (of RANGES) its values must lie in.
    Float options must be finite numbers unless `inf_ok` (then +inf is allowed too, meaning "never" or
    "no clip"); NaN is never valid."""
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc, "valid": valid, "inf_ok": inf_ok})


@dataclass
class VecConfig:
    backend: str = opt("serial", "vector backend: serial, threads or multiprocessing")
    num_env_objects: int = opt(1, "env objects to run, each holding [env] num_envs envs", ">= 1")
    num_workers: int = opt(0, "worker threads or processes (0: the backend's default)", ">= 0")
    envs_per_batch: int = opt(0, "env objects per recv for async backends (0: all of them, synchronous)", ">= 0")


@dataclass
class TrainConfig:
    seed: int = opt(1, "seeds torch, numpy, python and the envs (env i gets seed + i)")
    device: str = opt("cpu", "torch device: cpu, cuda or cuda:N")
    total_timesteps: int = opt(2_000_000, "agent steps to train for", ">= 1")
    horizon: int = opt(32, "steps per experience segment (also the LSTM's backprop-through-time length)", ">= 1")
    batch_size: int = opt(0, "agent steps collected per update, a multiple of horizon (0: agents x horizon)", ">= 0")
    minibatch_size: int = opt(8192, "agent steps per gradient step (whole segments)", ">= 1")
    update_epochs: int = opt(2, "passes over each batch", ">= 1")
    learning_rate: float = opt(3e-4, "Adam learning rate", "> 0")
    anneal_lr: bool = opt(True, "decay the learning rate linearly to 0 over total_timesteps")
    adam_eps: float = opt(1e-5, "Adam epsilon", "> 0")
    optimizer: str = opt("adam", "adam, or muon: torch.optim.Muon on 2-D weight matrices and Adam on the rest")
    bf16: bool = opt(False, "bfloat16 autocast for the policy (CUDA, or a CPU with AMX/AVX-512 BF16); off: float32")
    gamma: float = opt(0.99, "discount factor", "[0, 1]")
    gae_lambda: float = opt(0.95, "GAE lambda", "[0, 1]")
    clip_coef: float = opt(0.2, "PPO policy ratio clip (inf: none)", "> 0", inf_ok=True)
    vf_coef: float = opt(0.5, "value loss weight", ">= 0")
    vf_clip_coef: float = opt(0.2, "value clip around the old value estimate (inf: none)", "> 0", inf_ok=True)
    ent_coef: float = opt(0.01, "entropy bonus weight", ">= 0")
    max_grad_norm: float = opt(0.5, "gradient norm clip (inf: none)", "> 0", inf_ok=True)
    norm_adv: bool = opt(True, "normalize advantages per minibatch")
    vtrace: bool = opt(False, "V-trace-style clipping of importance ratios when advantages are recomputed per epoch")
    vtrace_rho_clip: float = opt(1.0, "V-trace rho clip (clips the TD error's importance ratio)", "> 0", inf_ok=True)
    vtrace_c_clip: float = opt(1.0, "V-trace c clip (clips the trace's importance ratio)", "> 0", inf_ok=True)
    prio_alpha: float = opt(0.0, "prioritized segment sampling exponent on |advantage| (0: uniform)", ">= 0")
    prio_beta0: float = opt(0.2, "initial importance-weight exponent, annealed to 1 over training", "[0, 1]")
    world_size: int = opt(1, "data-parallel processes (ranks), each with its own envs; > 1 starts torchrun", ">= 1")
    torch_threads: int = opt(1, "torch CPU threads (0: one per core; more only pays for big models on idle cores)",
                             ">= 0")
    checkpoint_interval: int = opt(100, "save a checkpoint every N epochs (and at the end)", ">= 1")
    data_dir: str = opt("runs", "folder for run directories (checkpoints, TensorBoard, config)")
    run_name: str = opt("", "run directory name (empty: <env>_<date>_<time>)")
    dashboard: bool = opt(True, "live terminal dashboard (plain lines when off or not a terminal)")
    log_interval: float = opt(1.0, "seconds between dashboard refreshes or plain log lines", ">= 0")
    tensorboard: bool = opt(True, "write TensorBoard event files into the run directory")
    target: float = opt(math.inf, "stop early once target_metric's mean reaches this value (inf: never)",
                        inf_ok=True)
    target_metric: str = opt("episode_return", "episode statistic compared against target")
    target_episodes: int = opt(100, "episode statistics (dashboard, checkpoints, result, target) are "
                               "means over the most recent N finished episodes", ">= 1")
    eval_episodes: int = opt(100, "episodes in the final evaluation (0: skip it)", ">= 0")
    eval_deterministic: bool = opt(False, "final evaluation takes the most likely action instead of sampling")


@dataclass
class PolicyConfig:
    hidden_size: int = opt(128, "width of the encoder output, the LSTM and the heads", ">= 1")
    num_layers: int = opt(2, "hidden layers of the default MLP encoder", ">= 0")
    recurrent: bool = opt(False, "insert an LSTM between encode_observations and decode_actions")
    kwargs: dict = opt({}, "extra keyword arguments for the plugin's policy class")


OPTIMIZERS = ("adam", "muon")
SECTIONS = {"vec": VecConfig, "train": TrainConfig, "policy": PolicyConfig}
ALL_SECTIONS = ("env", *SECTIONS)
SWEEP_SECTION = "sweep"


@dataclass
class Config:
    env: dict[str, Any]
    vec: VecConfig
    train: TrainConfig
    policy: PolicyConfig

    def to_dict(self) -> dict:
        """Plain data (JSON/TOML-able); what checkpoints and the run directory store."""
        return {"env": dict(self.env), "vec": asdict(self.vec), "train": asdict(self.train),
                "policy": asdict(self.policy)}


def defaults() -> dict:
    return Config({}, VecConfig(), TrainConfig(), PolicyConfig()).to_dict()


def option_docs() -> list[tuple[str, type, Any, str]]:
    """(flag, type, default, doc) of every option, from which the flags and --help are made."""
    out = []
    for section, cls in SECTIONS.items():
        types = get_type_hints(cls)
        for f in fields(cls):
            default = f.default_factory() if f.default is MISSING else f.default
            out.append((flag_name(f"{section}.{f.name}"), types[f.name], default, f.metadata["doc"]))
    return out


# -- merging and checking layers -------------------------------------------------------------------

def merge(base: dict, layer: dict, source: str) -> dict:
    """`layer` over `base`, both {section: {key: value}}; unknown sections or keys are ConfigErrors."""
    out = {section: dict(values) for section, values in base.items()}
    for section, values in layer.items():
        if section == SWEEP_SECTION:
            continue  # the search space of `puffer-train sweep`, read by puffer_train.sweep, not a training option
        if section not in ALL_SECTIONS:
            raise ConfigError(f"unknown config section [{section}] in {source}.{did_you_mean(section, ALL_SECTIONS)} "
                              f"Sections: {', '.join(ALL_SECTIONS)}.")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] in {source} must be a table of key = value pairs, got {values!r}")
        for key, value in values.items():
            out.setdefault(section, {})[key] = value if section == "env" else _check(section, key, value, source)
    return out


def _check(section: str, key: str, value, source: str):
    options = {f.name: f for f in fields(SECTIONS[section])}
    if key not in options:
        raise ConfigError(f"unknown option {section}.{key} in {source}.{did_you_mean(key, options)} "
                          f"Options of [{section}]: {', '.join(options)}.")
    kind = get_type_hints(SECTIONS[section])[key]
    value = check_kind(value, kind, f"{section}.{key}", source)
    if kind is float:
        inf_ok = options[key].metadata["inf_ok"]
        if math.isnan(value) or (math.isinf(value) and not (inf_ok and value > 0)):
            allowed = "a finite number or inf" if inf_ok else "a finite number"
            raise ConfigError(f"{section}.{key} in {source} must be {allowed}, got {value}")
    return value


def load_toml(path: str | Path) -> dict:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from e


def build(layers: list[tuple[dict, str]]) -> Config:
    """Apply (layer, source-name) pairs over the defaults and return the checked Config."""
    merged = defaults()
    for layer, source in layers:
        merged = merge(merged, layer, source)
    return from_dict(merged)


def from_dict(data: dict) -> Config:
    merged = merge(defaults(), data, "the stored config")
    config = Config(dict(merged.get("env", {})), VecConfig(**merged["vec"]), TrainConfig(**merged["train"]),
                    PolicyConfig(**merged["policy"]))
    validate(config)
    return config


def validate(config: Config) -> None:
    """Value checks that types alone cannot express: each option's range, then how options relate."""
    for section in SECTIONS:
        values = getattr(config, section)
        for f in fields(values):
            value, valid = getattr(values, f.name), f.metadata.get("valid")
            if valid and not RANGES[valid][0](value):
                raise ConfigError(f"{section}.{f.name} must {RANGES[valid][1]}, got {value}")
    t = config.train
    if t.batch_size % t.horizon:
        raise ConfigError(f"train.batch_size ({t.batch_size}) must be a multiple of train.horizon ({t.horizon}): "
                          "experience is stored in whole segments")
    if t.optimizer not in OPTIMIZERS:
        raise ConfigError(f"train.optimizer {t.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")


def add_flags(parser: Parser, env: str | None, argv: list[str]) -> None:
    """The --vec.* --train.* --policy.* flags, each value checked like a TOML one, and the --env.* flags;
    with an env, its training TOML's values are the defaults shown and its config types the --env flags."""
    values, env_config, title = defaults(), None, ""
    if env is not None:
        spec = puffer_core.get_spec(env)  # EnvNotFoundError names the installed envs and the closest one
        values = build([(spec.training_config(), f"the training TOML of env {env!r}")]).to_dict()
        env_config, title = getattr(spec.factory(), "config", None), f"  (defaults for {env})"
    groups = {section: parser.add_argument_group(f"[{section}]{title}") for section in SECTIONS}
    for flag, kind, _, doc in option_docs():
        section, key = flag[2:].replace("-", "_").split(".")
        parser.add_option(groups[section], f"{section}.{key}", kind, doc, values[section][key],
                          check=lambda value, source, section=section, key=key: _check(section, key, value, source))
    parser.add_env_options(argv, env_config, values["env"], title=f"[env]{title}")


def to_toml(data: dict) -> str:
    """Plain config data as TOML (what the run directory stores; `--config` reads it back)."""
    try:
        return tomli_w.dumps(data)
    except TypeError as e:
        raise ConfigError(f"cannot write the config as TOML: {e}") from None
