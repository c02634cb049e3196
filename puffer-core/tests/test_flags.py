"""The command-line convention shared by puffer-train and puffer-envs (puffer_core.flags)."""

import math

import pytest
from puffer_core.errors import ConfigError
from puffer_core.flags import Parser, check_kind, parse_value


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("4", None, 4), ("3e-4", None, 3e-4), ("true", None, True), ("[1, 2]", None, [1, 2]),
    ("{ a = 1 }", None, {"a": 1}), ('"4"', None, "4"), ("pong", None, "pong"), ("cuda:0", None, "cuda:0"),
    ("4", str, "4"), ("true", str, "true"), ("yes", bool, True), ("OFF", bool, False), ("maybe", bool, "maybe"),
])
def test_values_are_toml_literals_or_the_text(text, kind, value):
    assert parse_value(text, kind) == value and type(parse_value(text, kind)) is type(value)


def test_inf_is_a_float():
    assert parse_value("inf") == math.inf and math.isnan(parse_value("nan"))


def test_kinds():
    assert check_kind(3, float, "x", "here") == 3.0 and type(check_kind(3, float, "x", "here")) is float
    assert check_kind(True, bool, "x", "here") is True
    for value, kind, words in [(True, int, "an integer"), (True, float, "a number"), (2.5, int, "an integer"),
                               (1, bool, "true or false"), (3, str, "a string")]:
        with pytest.raises(ConfigError, match=f"^env.x in flag --env.x must be {words}, got "):
            check_kind(value, kind, "env.x", "flag --env.x")


class Game:
    config = {"frameskip": 1, "speed": 0.5, "hard": False, "level": "one"}


def parser(argv, config=Game.config, defaults=None):
    p = Parser("prog", "prog <name> [--env.<kwarg> VALUE ...]")
    p.add_argument("name", nargs="?")
    p.add_argument("--fps", type=int)
    p.add_env_options(argv, config, defaults)
    return p


def parse(argv, **kwargs):
    args, layer = parser(argv, **kwargs).parse(argv)
    return args, layer.get("env", {})


def test_env_flags_are_typed_by_the_env_config():
    argv = ["pong", "--env.frameskip", "4", "--env.speed=2", "--env.hard", "--env.level", "2", "--fps", "3"]
    args, kwargs = parse(argv)
    assert (args.name, args.fps) == ("pong", 3)
    assert kwargs == {"frameskip": 4, "speed": 2.0, "hard": True, "level": "2"}
    assert type(kwargs["speed"]) is float
    assert parse(["--env.hard", "false", "pong"])[1] == {"hard": False}  # a bool may also take a value


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--env.frameskip", "2.5", "must be an integer, got 2.5"), ("--env.speed", "fast", "must be a number"),
    ("--env.hard", "maybe", "must be true or false"),
])
def test_ill_typed_env_flags_are_clear_errors(flag, value, words):
    with pytest.raises(ConfigError, match=f"{flag[2:]} in flag {flag} {words}"):
        parse(["pong", flag, value])


def test_other_env_flags_pass_through_as_toml_literals():
    args, kwargs = parse(["--env.num-envs", "8", "pong", "--env.mode=x"], config=None)
    assert args.name == "pong" and kwargs == {"num_envs": 8, "mode": "x"}


def test_unknown_options_name_the_closest(capsys):
    with pytest.raises(SystemExit) as info:
        parse(["pong", "--fsp", "3"])
    assert info.value.code == 2
    assert "prog: error: unknown option --fsp. Did you mean --fps? See prog --help" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["pong", "extra"])
    assert "unexpected argument(s) 'extra'" in capsys.readouterr().err


def test_help_lists_the_env_flags_with_type_and_default(capsys):
    with pytest.raises(SystemExit) as info:
        parse(["pong", "--help"], defaults={"frameskip": 4, "num_envs": 64})
    assert info.value.code == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  --env.")}
    assert rows["--env.frameskip"].split()[1:] == ["INT", "(default", "4)"]  # the shown default beats the class's
    assert rows["--env.speed"].split()[1:] == ["FLOAT", "(default", "0.5)"]
    assert rows["--env.num-envs"].split()[1:] == ["VALUE", "(default", "64)"]  # not in config: any value
