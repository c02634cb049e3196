"""`puffer-envs new`: user strings are data (never Jinja), escaped for every file format they land in;
names that would shadow a C header, a Python module or a keyword are refused."""

import ast
import importlib
import os
import subprocess
import sys
import tomllib

import pytest
from puffer_core import EnvSpec
from puffer_core.errors import ConfigError
from puffer_envs import template

# Each would print 49, loop, leak objects or run a shell command if the description were template code.
PAYLOADS = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{{ cookiecutter.__class__.__mro__ }}",
    "{{ lipsum.__globals__['os'].system('touch PWNED') }}",
    "{% raw %}{{ 7*7 }}{% endraw %}",
    "{#",
]
# Each breaks one file format if pasted in unescaped.
NASTY = 'back\\slash \\n "double" \'single\' """ \'\'\' */ /* # [link](x) <b>&amp;</b> `code` *em* ü ✓'


def files_of(path, name):
    pkg = path / "src" / f"puffer_envs_{name}"
    return {"pyproject": path / "pyproject.toml", "init": pkg / "__init__.py", "header": pkg / f"{name}.h",
            "readme": path / "README.md"}


def assert_literal_everywhere(path, name, text):
    """`text` is exactly what every generated file says, each read by that format's own parser."""
    f = files_of(path, name)
    assert tomllib.loads(f["pyproject"].read_text())["project"]["description"] == text
    env_class = next(n for n in ast.parse(f["init"].read_text()).body if isinstance(n, ast.ClassDef))
    assert ast.get_docstring(env_class, clean=False) == text  # the registry's description (EnvSpec.of)
    from markdown_it import MarkdownIt  # cookiecutter's own dependency (through rich)

    tokens = MarkdownIt("commonmark").parse(f["readme"].read_text())
    paragraph = tokens[tokens.index(next(t for t in tokens if t.type == "paragraph_open")) + 1]
    assert [c.type for c in paragraph.children] == ["text"] * len(paragraph.children), "markup was interpreted"
    assert "".join(c.content for c in paragraph.children) == text
    comment = f["header"].read_text().split("*/", 1)[0]
    assert comment.startswith(f"/* {template.class_name(name)}: ") and "/*" not in comment[2:]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_jinja_in_the_description_is_text(tmp_path, monkeypatch, payload):
    monkeypatch.chdir(tmp_path)  # where `touch PWNED` would land
    path = template.create("payload", tmp_path, description=payload)
    assert_literal_everywhere(path, "payload", payload)
    assert not (tmp_path / "PWNED").exists()


def test_every_format_escapes_its_specials_and_the_header_compiles(tmp_path, monkeypatch):
    """The nastiest description still gives parseable TOML, Python and Markdown, and a header that the
    SDK compiles into a working env (a real build, in this test's own cache)."""
    monkeypatch.setenv("PUFFER_CACHE_DIR", str(tmp_path / "cache"))
    path = template.create("nasty", tmp_path, description=NASTY)
    assert_literal_everywhere(path, "nasty", NASTY)
    monkeypatch.syspath_prepend(str(path / "src"))
    module = importlib.import_module("puffer_envs_nasty")
    try:
        assert EnvSpec.of(module.Nasty, "nasty").description == NASTY
        env = module.Nasty(num_envs=2)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (2, 128) and obs.sum() == 4  # agent and target planes, one cell each
        env.close()
    finally:
        for mod in [m for m in sys.modules if m.startswith("puffer_envs_nasty")]:
            del sys.modules[mod]


def test_newlines_and_tabs_become_one_line(tmp_path):
    path = template.create("lines", tmp_path, description="first line\\\nsecond\r\n\tthird  ")
    assert_literal_everywhere(path, "lines", "first line\\ second third")


@pytest.mark.parametrize("description", ["bell\x07", "nul\x00byte", "escape\x1b[31m", "   \n "])
def test_control_characters_and_blank_descriptions_are_refused(tmp_path, description):
    with pytest.raises(ConfigError, match="description"):
        template.create("ctrl", tmp_path, description=description)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("name", "why"), [
    ("math", "hides the C library's <math.h>"), ("time", "<time.h>"), ("string", "<string.h>"),
    ("stdio", "<stdio.h>"), ("stdint", "<stdint.h>"), ("features", "<features.h>"),
    ("puffer", "hides the SDK's own puffer.h"),
    ("int", "is a C keyword"), ("while", "is a Python and a C keyword"), ("typedef", "is a C keyword"),
    ("class", "is a Python keyword"), ("lambda", "is a Python keyword"),
    ("os", "standard library"), ("json", "standard library"), ("random", "standard library"),
])
def test_names_that_would_shadow_something_are_refused_with_the_reason(tmp_path, name, why):
    with pytest.raises(ConfigError, match="pick another name") as e:
        template.create(name, tmp_path)
    assert why in str(e.value) and f"{name}_game" in str(e.value)
    assert not any(tmp_path.iterdir())


def test_the_cli_makes_a_plugin_from_a_payload_and_leaves_nothing_in_home(tmp_path):
    """A real `puffer-envs new` process: the payload stays text, no command runs, and cookiecutter's
    replay file does not land in the user's home."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    payload = "{{ lipsum.__globals__['os'].system('touch PWNED') }}"
    done = subprocess.run([sys.executable, "-m", "puffer_envs.cli", "new", "cli_payload", "-o", str(tmp_path / "out"),
                           "--description", payload], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert_literal_everywhere(tmp_path / "out" / "puffer-envs-cli_payload", "cli_payload", payload)
    assert not list(tmp_path.rglob("PWNED")) and not any(home.iterdir())

    refused = subprocess.run([sys.executable, "-m", "puffer_envs.cli", "new", "math", "-o", str(tmp_path / "out")],
                             capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2
    assert refused.stderr.startswith("puffer-envs: error: env name 'math' would make a header math.h that hides")
    assert not (tmp_path / "out" / "puffer-envs-math").exists()
