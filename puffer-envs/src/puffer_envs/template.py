"""`puffer-envs new <name>`: a complete env plugin package from the cookiecutter template.

The package it makes is a small but real game (walk to the target on a grid) in C, with the
Python class, entry point, renderer, training TOML and tests (the conformance kit plus the game's
rules): exactly the files an env author writes (README.md in the template lists them with their
jobs). It installs with no build step and passes its tests as generated.

User strings are data, never template code: cookiecutter renders every public context value as a
Jinja template, so the description reaches the template only through private (`_`-prefixed)
variables, which cookiecutter copies as they are, each one already escaped for the one file format
it lands in (TOML, Python, C comment, Markdown).
"""

from __future__ import annotations

import json
import keyword
import re
import string
import sys
import tempfile
from pathlib import Path

from puffer_core.errors import ConfigError

TEMPLATE_DIR = Path(__file__).parent / "template"
NAME = re.compile(r"[a-z][a-z0-9_]*")
DEFAULT_DESCRIPTION = "Reach the target on a grid (a Puffer env made with puffer-envs new)"

# The generated `<name>.h` sits in a folder the compiler searches first (-I), so a name that is also a
# system header included while building a plugin (the C standard headers, plus the glibc/POSIX ones
# that Python.h and puffer.h pull in) would shadow it. "puffer" would shadow the SDK's own puffer.h.
C_HEADERS = frozenset(
    "assert complex ctype errno fenv float inttypes iso646 limits locale math setjmp signal stdalign stdarg "
    "stdatomic stdbit stdbool stdckdint stddef stdint stdio stdlib stdnoreturn string tgmath threads time uchar "
    "wchar wctype alloca endian features pthread sched strings unistd".split())
C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "alignas alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual".split())


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def check_name(name: str) -> None:
    """A ConfigError saying why, for a name that cannot be an env plugin's Python package and C header."""
    if not NAME.fullmatch(name) or name.endswith("_") or "__" in name:
        raise ConfigError(f"env name {name!r} must be lowercase letters, digits and single underscores, starting "
                          "with a letter (it becomes a Python package name and a C identifier), e.g. 'mygame'")
    why = None
    languages = [lang for lang, words in (("Python", keyword.kwlist), ("C", C_KEYWORDS)) if name in words]
    if languages:
        why = f"is a {' and a '.join(languages)} keyword"
    elif name == "puffer":
        why = "would make a header puffer.h that hides the SDK's own puffer.h"
    elif name in C_HEADERS:
        why = f"would make a header {name}.h that hides the C library's <{name}.h> and breaks the build"
    elif name in sys.stdlib_module_names:
        why = f"is a module of Python's standard library ({name}), which the env's modules and tests would shadow"
    if why:
        raise ConfigError(f"env name {name!r} {why}; pick another name, e.g. {name + '_game'!r}")
    if class_name(name) in ("Log", "CEnv"):
        raise ConfigError(f"env name {name!r} would make a class named {class_name(name)}, which the SDK already uses")


def check_description(description: str) -> str:
    """The description as one line: whitespace runs (newlines included) become one space."""
    if not isinstance(description, str):
        raise ConfigError(f"the description must be a string, got {type(description).__name__}")
    line = " ".join(description.split())
    bad = sorted({c for c in line if not c.isprintable()})
    if bad:
        raise ConfigError(f"the description contains control characters {bad}; write it as plain text")
    if not line:
        raise ConfigError("the description is empty; leave out --description for the default one")
    return line


# -- one escaper per file format: each returns text that means exactly `text` in that format (for Python,
# repr: a string literal that is also a valid docstring) -------------------------------------------

def toml_string(text: str) -> str:
    """A TOML basic string literal (JSON's escapes are TOML's; TOML also forbids a raw DEL)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def c_comment(text: str) -> str:
    """Text for inside a /* */ comment (one line): nothing in it can end the comment or open a nested one."""
    return text.replace("*/", "* /").replace("/*", "/ *")


def markdown_text(text: str) -> str:
    """Markdown that renders as `text` itself: CommonMark lets every ASCII punctuation mark be
    backslash-escaped, which stops headings, links, emphasis, HTML and entities alike."""
    return "".join("\\" + c if c in string.punctuation else c for c in text)


def context(name: str, description: str | None) -> dict:
    text = DEFAULT_DESCRIPTION if description is None else check_description(description)
    return {"name": name, "class_name": class_name(name), "_description_toml": toml_string(text),
            "_description_py": repr(text), "_description_c": c_comment(text),
            "_description_md": markdown_text(text)}


def create(name: str, output: str | Path = ".", description: str | None = None) -> Path:
    """Render the template into `output`/puffer-envs-<name>/ and return that folder."""
    check_name(name)
    extra = context(name, description)
    output = Path(output)
    target = output / f"puffer-envs-{name}"
    if target.exists():
        raise ConfigError(f"{target} already exists: pick another name or output folder (-o DIR)")
    from cookiecutter.main import cookiecutter  # imported here: it is slow to import and only `new` needs it

    output.mkdir(parents=True, exist_ok=True)
    # cookiecutter's replay file and template cache go to a temporary folder, not the user's home.
    with tempfile.TemporaryDirectory(prefix="puffer-new-") as scratch:
        made = cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=extra, output_dir=str(output),
                            default_config={"replay_dir": scratch, "cookiecutters_dir": scratch})
    return Path(made)
