"""The command-line convention `puffer-train` and `puffer-envs` share.

Options are `--<section>.<key-name> VALUE` (a TOML key with dashes for underscores); every value is read
as a TOML literal (4, 3e-4, inf, true, [1, 2], { a = 1 }), falling back to the text itself; `--env.<kwarg>`
sets an env keyword argument, typed by the defaults in the env class's `config` dict where it has one
(any other `--env.<kwarg>` is passed on as given, and the env reports keys it does not take). Bad usage
is argparse's error (usage, then `prog: error: ...`, exit status 2), naming the closest valid option.
"""

from __future__ import annotations

import argparse
import tomllib

from .errors import ConfigError, did_you_mean

KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a table"}
BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def parse_value(text: str, kind: type | None = None):
    """A flag value as a TOML literal, or the text itself when it is none (and always for `str` options);
    bool options also take yes/no/on/off."""
    if kind is str:
        return text
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    if kind is bool and isinstance(value, str):
        return BOOL_WORDS.get(value.lower(), value)
    return value


def check_kind(value, kind: type, name: str, source: str):
    """`value` as `kind` (an int is a number too, a bool is no number), or a ConfigError naming it and its source."""
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, (int, float) if kind is float else kind):
        raise ConfigError(f"{name} in {source} must be {KINDS[kind]}, got {value!r}")
    return float(value) if kind is float else value


def flag_name(dest: str) -> str:
    """"train.learning_rate" -> "--train.learning-rate"."""
    return "--" + dest.replace("_", "-")


class Rows(argparse.RawDescriptionHelpFormatter):
    """--help as one row per option: flag and type, then its doc and default, never wrapped."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=40)

    def _split_lines(self, text, width):
        return text.splitlines()


class Parser(argparse.ArgumentParser):
    """argparse with options grouped by section, whose values parse() returns as one {section: {key: value}} layer.

    --help is answered by parse(), not while parsing: a CLI may parse once for the env's name, then build
    the parser that knows that env's flags."""

    def __init__(self, prog: str, usage: str, description: str | None = None):
        super().__init__(prog=prog, usage=usage, description=description, formatter_class=Rows, add_help=False,
                         allow_abbrev=False)
        self.add_argument("-h", "--help", action="store_true", help="show this help")
        self.options = {}  # dest -> (kind, check(value, source) -> value) of each --section.key option

    def add_option(self, group, dest: str, kind: type | None = None, doc: str = "", default=None, check=None):
        """`--<dest with dashes>` into `group`; its value is parsed as `kind` and, when given, checked by
        `check(value, source)` (by default: of that kind)."""
        if kind is not None and check is None:
            check = lambda value, source: check_kind(value, kind, dest, source)  # noqa: E731
        self.options[dest] = (kind, check)
        shown = f" (default {default!r})" if default is not None else ""
        alone = {"nargs": "?", "const": "true"} if kind is bool else {}  # a bool flag alone means true
        group.add_argument(flag_name(dest), dest=dest, default=argparse.SUPPRESS, **alone,
                           metavar=kind.__name__.upper() if kind else "VALUE",
                           help=(doc + shown).strip().replace("%", "%%"))

    def add_env_options(self, argv: list[str], config: dict | None, defaults: dict | None = None, title="[env]"):
        """--env.<key> for each key of the env class's `config` (typed by its default) and of `defaults`
        (the values shown, e.g. a training TOML's [env]), plus any other --env.<kwarg> in argv."""
        config, defaults = config if isinstance(config, dict) else {}, defaults or {}
        group = self.add_argument_group(title, "keyword arguments of the env; any other --env.<kwarg> VALUE "
                                               "is passed to it too")
        for key in {**config, **defaults}:
            default = defaults.get(key, config.get(key))
            kind = type(config[key]) if key in config and type(config[key]) in KINDS else None
            self.add_option(group, f"env.{key}", kind, default=default)
        self.add_free_options(group, "env", argv)

    def add_free_options(self, group, section: str, argv: list[str]):
        """The --<section>.* flags in argv that no option names yet, as untyped options (values as TOML literals)."""
        for word in argv:
            flag = word.partition("=")[0]
            dest = flag[2:].replace("-", "_")
            if flag.startswith(f"--{section}.") and len(flag) > len(section) + 3 and dest not in self.options:
                self.add_option(group, dest)

    def parse(self, argv: list[str]) -> tuple[argparse.Namespace, dict]:
        """(namespace of the other options, the --section.key values given as {section: {key: value}});
        --help prints the help and exits."""
        args, extras = self.parse_known_args(argv)
        if args.help:
            self.print_help()
            self.exit()
        for word in extras:
            if word.startswith("-"):
                flag, options = word.partition("=")[0], [o for action in self._actions for o in action.option_strings]
                self.error(f"unknown option {flag}.{did_you_mean(flag, options, 0.5, str)} "
                           f"See {self.prog} --help for every option.")
        if extras:
            self.error(f"unexpected argument(s) {' '.join(extras)!r}; options start with --")
        layer = {}
        for dest, (kind, check) in self.options.items():
            if dest in vars(args):
                value = parse_value(vars(args).pop(dest), kind)
                section, key = dest.split(".", 1)
                layer.setdefault(section, {})[key] = check(value, f"flag {flag_name(dest)}") if check else value
        return args, layer
