"""`puffer-train`: train, evaluate, list and rate registered envs.

    puffer-train <env> [--config FILE.toml] [--resume CKPT] [--section.option VALUE ...]
    puffer-train eval <env> --checkpoint CKPT [--episodes N] [--render] [--deterministic]
    puffer-train list
    puffer-train elo <env> --checkpoints DIR [--games N] [--k K] [--stall-limit STEPS]
    puffer-train sweep <env> | sweep show <sweep>   (see puffer-train sweep --help)
"""

from __future__ import annotations

import math
import os
import sys

import puffer_core
from puffer_core.errors import ConfigError, PufferError

from . import config as cfg

COMMANDS = ("train", "eval", "list", "elo")
# Flags that are not config options: name -> (takes a value, help)
SPECIAL = {
    "--config": (True, "TOML file layered over the env's training config (sections [env] [vec] [train] [policy])"),
    "--resume": (True, "checkpoint to continue training from, exactly where it stopped"),
    "--checkpoint": (True, "eval: checkpoint to play"),
    "--episodes": (True, "eval: episodes to play (default 10)"),
    "--render": (False, "eval: draw the env (render_mode='human')"),
    "--frames": (True, "eval: save rgb_array frames of env 0 to this .npz file instead of opening a window"),
    "--deterministic": (False, "eval: take the most likely action instead of sampling"),
    "--checkpoints": (True, "elo: folder of checkpoints to rate"),
    "--games": (True, "elo: games per pairing (default 20)"),
    "--k": (True, "elo: Elo K factor (default 16)"),
    "--stall-limit": (True, "elo: steps after which an unfinished game counts as a draw (default 1000)"),
    "--help": (False, "show this help"),
}

USAGE = """usage:
  puffer-train <env> [--config FILE.toml] [--resume CKPT] [--<section>.<option> VALUE ...]
  puffer-train eval <env> --checkpoint CKPT [--episodes N] [--render] [--deterministic]
  puffer-train list
  puffer-train elo <env> --checkpoints DIR [--games N] [--k K] [--stall-limit STEPS]
  puffer-train sweep <env> [--trials N ...] | puffer-train sweep show <sweep>   (puffer-train sweep --help)

Config layers, later wins: trainer defaults < the env's training TOML < --config FILE < flags.
TOML keys use underscores, flags dashes. Any --env.<kwarg> VALUE is passed to the env constructor."""


def help_text(env: str | None = None) -> str:
    values = None
    if env is not None:
        try:
            values = cfg.build([(puffer_core.get_spec(env).training_config(), env)]).to_dict()
        except PufferError:
            values = None
    lines = [USAGE, "", "commands:", "  <env> | train <env>   train PPO on a registered env",
             "  eval <env>            play a checkpoint and print episode statistics",
             "  list                  registered envs", "  elo <env>             rate checkpoints of a competitive env",
             "", "options:"]
    lines += [f"  {flag:<22} {doc}" for flag, (_, doc) in SPECIAL.items()]
    current = None
    for flag, kind, default, doc in cfg.option_docs():
        section = flag[2:].split(".")[0]
        if section != current:
            lines += ["", f"[{section}]" + (f"  (defaults for {env})" if values else "")]
            current = section
        if values is not None:
            default = values[section][flag.split(".", 1)[1].replace("-", "_")]
        shown = "inf" if isinstance(default, float) and math.isinf(default) else repr(default)
        lines.append(f"  {flag:<32} {kind:<5} {shown:<12} {doc}")
    lines += ["", "[env]", f"  {'--env.<kwarg> VALUE':<44} any keyword argument of the env (e.g. --env.num-envs 512)"]
    if values and values["env"]:
        lines.append("  defaults for " + env + ": " + ", ".join(f"{k}={v!r}" for k, v in values["env"].items()))
    return "\n".join(lines)


def split_args(argv: list[str]) -> tuple[list[str], dict, list[tuple[str, str | None]]]:
    """(positional words, special flags, config flags [(flag, value or None)])."""
    words, special, config_flags = [], {}, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in ("-h", "--help"):
            special["--help"] = True
            continue
        if not arg.startswith("--"):
            words.append(arg)
            continue
        flag, eq, value = arg.partition("=")
        if not eq:
            value = None
            if i < len(argv) and not argv[i].startswith("--"):
                # Config bools may stand alone (--train.dashboard); everything else takes the next word.
                takes = SPECIAL[flag][0] if flag in SPECIAL else not _is_bool(flag)
                if takes or argv[i].lower() in ("true", "false", "yes", "no", "on", "off"):
                    value = argv[i]
                    i += 1
        if flag in SPECIAL:
            if SPECIAL[flag][0] and value is None:
                raise ConfigError(f"{flag} needs a value")
            special[flag] = True if value is None else value
        elif "." in flag:
            config_flags.append((flag, value))
        else:
            import difflib

            close = difflib.get_close_matches(flag, [*SPECIAL, *cfg.valid_flags()], n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ConfigError(f"unknown option {flag}.{hint} See puffer-train --help for every option.")
    return words, special, config_flags


def _is_bool(flag: str) -> bool:
    section, _, key = flag[2:].partition(".")
    if section not in cfg.SECTIONS:
        return False
    return cfg._field_types(section).get(key.replace("-", "_")) == "bool"


def _int(special: dict, name: str, default: int) -> int:
    value = special.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} needs an integer, got {value!r}") from None


def run(argv: list[str]) -> int:
    if argv[:1] == ["sweep"]:  # hyperparameter search: its own flags, in puffer_train.sweep
        from .sweep import cli as sweep_cli

        return sweep_cli(argv[1:])
    words, special, flags = split_args(argv)
    command = words[0] if words and words[0] in COMMANDS else "train"
    if words and words[0] in COMMANDS:
        words = words[1:]
    env = words[0] if words else None
    if special.get("--help") or (command != "list" and env is None):
        print(help_text(env))
        return 0 if special.get("--help") else 2
    if len(words) > 1:
        raise ConfigError(f"unexpected argument(s) {' '.join(words[1:])!r}; options start with --")
    layers = [(cfg.flags_to_layer(flags), "command-line flags")] if flags else []

    if command == "list":
        envs = puffer_core.list_envs()
        if not envs:
            print("no envs installed: pip install a puffer-envs-<name> plugin")
        for name, spec in envs.items():
            print(f"{name:<24} {spec.distribution} {spec.version}  {spec.description}")
        return 0
    if command == "eval":
        from .evaluate import evaluate

        if "--checkpoint" not in special:
            raise ConfigError("eval needs --checkpoint PATH (a .pt file written by puffer-train)")
        episodes = _int(special, "--episodes", 10)

        def show(stats):
            print("  " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()), flush=True)

        stats = evaluate(env, special["--checkpoint"], episodes=episodes, render=bool(special.get("--render")),
                         frames=special.get("--frames"), deterministic=bool(special.get("--deterministic")),
                         layers=layers, on_log=show)
        if not stats:
            print(f"{env}: no episode finished")
            return 1
        print(f"{env}: {stats['n']:.0f} episodes: " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items() if k != "n"))
        return 0
    if command == "elo":
        from .elo import rate_checkpoints

        if "--checkpoints" not in special:
            raise ConfigError("elo needs --checkpoints DIR (a folder of .pt files written by puffer-train)")
        try:
            k = float(special.get("--k", 16))
        except ValueError:
            raise ConfigError(f"--k needs a number, got {special['--k']!r}") from None
        rate_checkpoints(env, special["--checkpoints"], games=_int(special, "--games", 20), k=k,
                         stall_limit=_int(special, "--stall-limit", 1000), layers=layers)
        return 0

    from .trainer import resolve_config, train

    config, _ = resolve_config(env, resume=special.get("--resume"), config_file=special.get("--config"), layers=layers)
    if config.train.world_size > 1 and "WORLD_SIZE" not in os.environ:  # not yet under torchrun: start it
        from .distributed import launch

        return launch(config.train.world_size, argv)
    result = train(env, config=special.get("--config"), resume=special.get("--resume"), layers=layers)
    return 130 if result.interrupted else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except PufferError as e:
        print(f"puffer-train: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("puffer-train: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `puffer-train --help | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the interpreter flushes it at exit)
        return 0


if __name__ == "__main__":
    sys.exit(main())
