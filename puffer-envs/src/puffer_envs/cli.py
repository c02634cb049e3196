"""`puffer-envs`: list installed envs, start a new env plugin, precompile C envs, play an env.

    puffer-envs list                      # name, version, distribution, extension (prebuilt or cache),
                                          # description (+ broken plugins)
    puffer-envs new mygame [-o DIR]       # a complete plugin package from the template
    puffer-envs build [names...]          # compile C envs into the cache now (e.g. in a Docker image)
    puffer-envs play pong [--fps N ...]   # play with the keyboard (raylib)
"""

from __future__ import annotations

import argparse
import sys
import time


def cmd_list(args) -> int:
    from puffer_core import registry

    reg = registry.registry()
    specs = sorted(reg.specs.values(), key=lambda s: s.name)
    rows = [(s.name, s.version, s.distribution, extension_source(s), s.description) for s in specs]
    if rows:
        head = ("name", "version", "distribution", "extension")
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
        for row in [(*head, "description"), *rows]:
            print("  ".join(f"{c:<{w}}" for c, w in zip(row, widths)) + f"  {row[-1]}")
    else:
        print("no env plugins installed (pip install puffer-envs-cartpole, or puffer-envs new <name>)")
    for name, dists in sorted(reg.conflicts.items()):
        print(f"CONFLICT: {name!r} is registered by {', '.join(dists)}: uninstall all but one", file=sys.stderr)
    for dist, error in sorted(reg.broken.items()):
        print(f"BROKEN: plugin {dist} failed to load: {error.splitlines()[0]}", file=sys.stderr)
    return 0


def extension_source(spec) -> str:
    """Where a C env's library comes from now: `prebuilt` (the wheel's extension matches the header),
    `cache` (compiled into the build cache) or `compile-on-first-use`; `-` for envs that are not C."""
    from . import build
    from .cenv import CEnv

    try:
        cls = spec.factory()
        if not (isinstance(cls, type) and issubclass(cls, CEnv)):
            return "-"
        where = build.locate(cls.header_path(), cls.struct)
    except Exception as e:  # listing must not fail on one env: say what is wrong instead
        return f"?:{type(e).__name__}"
    if where.prebuilt:
        return "prebuilt"
    return "cache" if where.path.exists() else "compile-on-first-use"


def cmd_new(args) -> int:
    from .template import create

    path = create(args.name, args.output, description=args.description)
    print(f"created {path}\nnext: pip install -e {path} && pytest {path / 'tests'} && puffer-train {args.name}")
    return 0


def cmd_build(args) -> int:
    import puffer_core

    from . import build
    from .cenv import CEnv

    names = args.names or list(puffer_core.list_envs())
    failures = 0
    for name in names:
        cls = puffer_core.get_spec(name).factory()
        if not (isinstance(cls, type) and issubclass(cls, CEnv)):
            print(f"{name}: not a C env, nothing to build")
            continue
        start = time.perf_counter()
        try:
            path = cls.build(load=False)
        except build.BuildError as e:
            failures += 1
            print(f"{name}: FAILED\n{e}", file=sys.stderr)
            continue
        print(f"{name}: {path} ({time.perf_counter() - start:.1f}s)")
    return 1 if failures else 0


def cmd_play(args) -> int:
    from .play import main as play_main  # imported lazily: it needs raylib

    return play_main(args.play_args)


def parser() -> argparse.ArgumentParser:
    from puffer_core.flags import Rows  # the help style of every Puffer command

    p = argparse.ArgumentParser(prog="puffer-envs", description="Puffer's C environment SDK", formatter_class=Rows)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="installed envs, broken plugins and name conflicts").set_defaults(func=cmd_list)
    new = sub.add_parser("new", help="create a new env plugin package from the template", formatter_class=Rows)
    new.add_argument("name", help="env name: lowercase letters, digits and underscores, e.g. mygame")
    new.add_argument("-o", "--output", default=".", help="folder to create puffer-envs-<name>/ in (default: .)")
    new.add_argument("--description", default=None, help="one-line description of the env")
    new.set_defaults(func=cmd_new)
    b = sub.add_parser("build", help="compile C envs into the build cache now", formatter_class=Rows)
    b.add_argument("names", nargs="*", help="env names (default: every installed env)")
    b.set_defaults(func=cmd_build)
    # play parses its own flags (typed by the env); "+" prefixes let even a leading --help through to it
    play = sub.add_parser("play", help="play an env with the keyboard: puffer-envs play <name> [--help]",
                          add_help=False, prefix_chars="+")
    play.add_argument("play_args", nargs=argparse.REMAINDER)
    play.set_defaults(func=cmd_play)
    return p


def main(argv: list[str] | None = None) -> int:
    from puffer_core.errors import PufferError

    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except PufferError as e:
        print(f"puffer-envs: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
