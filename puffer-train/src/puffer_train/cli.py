"""`puffer-train`: train, evaluate, list and rate registered envs (usage: USAGE; flags: puffer_core.flags)."""

from __future__ import annotations

import argparse
import os
import sys

import puffer_core
from puffer_core.errors import ConfigError, PufferError
from puffer_core.flags import Parser

from . import config as cfg

COMMANDS = ("train", "eval", "list", "elo")
USAGE = """puffer-train <env> [--config FILE.toml] [--resume CKPT] [--<section>.<option> VALUE ...]
       puffer-train eval <env> --checkpoint CKPT [--episodes N] [--render] [--deterministic]
       puffer-train list
       puffer-train elo <env> --checkpoints DIR [--games N] [--k K] [--stall-limit STEPS]
       puffer-train sweep <env> [--trials N ...] | puffer-train sweep show <sweep>   (puffer-train sweep --help)"""
DESCRIPTION = """commands:
  <env> | train <env>   train PPO on a registered env
  eval <env>            play a checkpoint and print episode statistics
  list                  registered envs
  elo <env>             rate checkpoints of a competitive env

Config layers, later wins: trainer defaults < the env's training TOML < --config FILE < flags.
TOML keys use underscores, flags dashes."""


def parser(env: str | None, argv: list[str]) -> Parser:
    """The options of every command; with an env, its training defaults are the ones shown."""
    p = Parser("puffer-train", USAGE, DESCRIPTION)
    p.add_argument("words", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--config", metavar="FILE.toml",
                   help="TOML file layered over the env's training config (sections [env] [vec] [train] [policy])")
    p.add_argument("--resume", metavar="CKPT", help="checkpoint to continue training from, exactly where it stopped")
    group = p.add_argument_group("eval")
    group.add_argument("--checkpoint", metavar="CKPT", help="checkpoint to play")
    group.add_argument("--episodes", type=int, default=10, metavar="N", help="episodes to play (default 10)")
    group.add_argument("--render", action="store_true", help="draw the env (render_mode='human')")
    group.add_argument("--frames", metavar="FILE.npz",
                       help="save rgb_array frames of env 0 to this .npz file instead of opening a window")
    group.add_argument("--deterministic", action="store_true", help="take the most likely action instead of sampling")
    group = p.add_argument_group("elo")
    group.add_argument("--checkpoints", metavar="DIR", help="folder of checkpoints to rate")
    group.add_argument("--games", type=int, default=20, metavar="N", help="games per pairing (default 20)")
    group.add_argument("--k", type=float, default=16.0, metavar="K", help="Elo K factor (default 16)")
    group.add_argument("--stall-limit", type=int, default=1000, metavar="STEPS",
                       help="steps after which an unfinished game counts as a draw (default 1000)")
    cfg.add_flags(p, env, argv)
    return p


def command_and_env(words: list[str]) -> tuple[str, str | None]:
    command = words.pop(0) if words and words[0] in COMMANDS else "train"
    env = words.pop(0) if words else None
    if words:
        raise ConfigError(f"unexpected argument(s) {' '.join(words)!r}; options start with --")
    return command, env


def run(argv: list[str]) -> int:
    if argv[:1] == ["sweep"]:  # hyperparameter search: its own flags, in puffer_train.sweep
        from .sweep import cli as sweep_cli

        return sweep_cli(argv[1:])
    # The env's config types its --env flags, so find the env first (a parser without them finds the words).
    command, env = command_and_env(parser(None, argv).parse_known_args(argv)[0].words)
    p = parser(env, argv)
    args, flags = p.parse(argv)
    if command != "list" and env is None:
        p.print_help()
        return 2
    layers = [(flags, "command-line flags")] if flags else []

    if command == "list":
        envs = puffer_core.list_envs()
        if not envs:
            print("no envs installed: pip install a puffer-envs-<name> plugin")
        for name, spec in envs.items():
            print(f"{name:<24} {spec.distribution} {spec.version}  {spec.description}")
        return 0
    if command == "eval":
        from .evaluate import evaluate

        if args.checkpoint is None:
            raise ConfigError("eval needs --checkpoint PATH (a .pt file written by puffer-train)")

        def show(stats):
            print("  " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()), flush=True)

        stats = evaluate(env, args.checkpoint, episodes=args.episodes, render=args.render, frames=args.frames,
                         deterministic=args.deterministic, layers=layers, on_log=show)
        if not stats:
            print(f"{env}: no episode finished")
            return 1
        print(f"{env}: {stats['n']:.0f} episodes: " + ", ".join(f"{k} {v:.3f}" for k, v in stats.items() if k != "n"))
        return 0
    if command == "elo":
        from .elo import rate_checkpoints

        if args.checkpoints is None:
            raise ConfigError("elo needs --checkpoints DIR (a folder of .pt files written by puffer-train)")
        rate_checkpoints(env, args.checkpoints, games=args.games, k=args.k, stall_limit=args.stall_limit, layers=layers)
        return 0

    from .trainer import resolve_config, train

    config, _ = resolve_config(env, resume=args.resume, config_file=args.config, layers=layers)
    if config.train.world_size > 1 and "WORLD_SIZE" not in os.environ:  # not yet under torchrun: start it
        from .distributed import launch

        return launch(config.train.world_size, argv)
    result = train(env, config=args.config, resume=args.resume, layers=layers)
    return 130 if result.interrupted else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except PufferError as e:
        print(f"puffer-train: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # argparse's --help or usage error, already printed: its status
        return e.code
    except KeyboardInterrupt:
        print("puffer-train: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `puffer-train --help | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the interpreter flushes it at exit)
        return 0


if __name__ == "__main__":
    sys.exit(main())
