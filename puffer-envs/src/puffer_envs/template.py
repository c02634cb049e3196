"""`puffer-envs new <name>`: a complete env plugin package from the cookiecutter template.

The package it makes is a small but real game (walk to the target on a grid) in C, with the
Python class, entry point, renderer, training TOML and tests (the conformance kit plus the game's
rules). It installs with no build step and passes its tests as generated.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from puffer_core.errors import ConfigError, PufferError

TEMPLATE_DIR = Path(__file__).parent / "template"
NAME = re.compile(r"[a-z][a-z0-9_]*")


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def create(name: str, output: str | Path = ".", description: str | None = None) -> Path:
    """Render the template into `output`/puffer-envs-<name>/ and return that folder."""
    if not NAME.fullmatch(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ConfigError(f"env name {name!r} must be lowercase letters, digits and single underscores, starting "
                          "with a letter (it becomes a Python package name and a C identifier), e.g. 'mygame'")
    cls = class_name(name)
    if cls in ("Log", "CEnv"):
        raise ConfigError(f"env name {name!r} would make a class named {cls}, which the SDK already uses")
    output = Path(output)
    target = output / f"puffer-envs-{name}"
    if target.exists():
        raise ConfigError(f"{target} already exists: pick another name or output folder (-o DIR)")
    try:
        from cookiecutter.main import cookiecutter
    except ImportError as e:
        raise PufferError("puffer-envs new needs cookiecutter: pip install 'puffer-envs[template]'") from e
    context = {"name": name, "class_name": cls}
    if description:
        context["description"] = description.replace('"', "'")
    output.mkdir(parents=True, exist_ok=True)
    made = cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=context, output_dir=str(output),
                        default_config=True)
    return Path(made)
