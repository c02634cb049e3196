"""Every plugin follows one convention: its training config's [env] holds only what training changes,
and every in-repo C plugin has the layout and pyproject that `puffer-envs new` generates."""

import inspect
import re
import tomllib
from pathlib import Path

import puffer_core
import pytest
from puffer_envs import template

ROOT = Path(__file__).resolve().parents[2]
C_PLUGINS = sorted(p for p in (ROOT / "plugins").glob("puffer-envs-*") if any((p / "src").rglob("*.h")))
OTHER_PLUGINS = sorted(p for p in (ROOT / "plugins").glob("puffer-envs-*/") if p not in C_PLUGINS)
INSTALLED = sorted(name for name, spec in puffer_core.list_envs().items() if spec.distribution != "<in-process>")


def class_defaults(env_class) -> dict:
    """The kwargs a class takes with their defaults: its signature's, then its `config` dict (CEnv)."""
    params = inspect.signature(env_class).parameters.values()
    return {**{p.name: p.default for p in params if p.default is not p.empty}, **getattr(env_class, "config", {})}


def same(value, default) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    return value == default


@pytest.mark.parametrize("name", INSTALLED)
def test_the_training_config_env_section_holds_only_what_training_changes(name):
    """A default lives in the env class; [env] of config.toml (and a name's default_kwargs) may only
    change it. A repeated default would silently win over the class under puffer-train."""
    spec = puffer_core.get_spec(name)
    env_class = spec.factory()
    assert inspect.isclass(env_class), f"{name}: the spec's factory is not a class"
    defaults = class_defaults(env_class)
    assert "num_envs" not in spec.default_kwargs, f"{name}: the training size belongs in config.toml's [env]"
    for key in spec.default_kwargs:
        assert key in defaults, f"{name}: default_kwargs names {key!r}, which {env_class.__name__} does not take"
    effective = {**defaults, **spec.default_kwargs}
    for key, value in spec.training_config().get("env", {}).items():
        assert key in effective, f"{name}: config.toml [env] sets {key!r}, which {env_class.__name__} does not take"
        assert not same(value, effective[key]), (f"{name}: config.toml [env] repeats the default {key} = {value!r}; "
                                                 "remove it (the class is the one home of env defaults)")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return template.create("conventions", tmp_path_factory.mktemp("new"))


def files_of(plugin: Path, name: str) -> set[str]:
    """The plugin's files, relative, with its env name written as NAME (build outputs left out)."""
    skip = ("build", "__pycache__", ".egg-info", ".pytest_cache")
    return {str(p.relative_to(plugin)).replace(name, "NAME") for p in plugin.rglob("*")
            if p.is_file() and not any(part.endswith(skip) for part in p.relative_to(plugin).parts)}


def pyproject(plugin: Path) -> dict:
    return tomllib.loads((plugin / "pyproject.toml").read_text())


def check_entry_points(data: dict, package: str, has_hook: bool) -> None:
    """One env: the entry point names the class. Several: each names the package's plugin module (the hook)."""
    entry_points = data["project"]["entry-points"]
    assert list(entry_points) == ["puffer"]
    form = rf"{package}\.plugin" if has_hook else rf"{package}:[A-Z]\w*"
    for ep_name, value in entry_points["puffer"].items():
        assert re.fullmatch(form, value), f"entry point {ep_name} = {value!r} is not of the form {form}"


def test_the_template_is_the_convention(generated):
    """The template itself follows what the plugins are checked against (so the check can fail)."""
    assert files_of(generated, "conventions") == {
        "README.md", "pyproject.toml", "setup.py", "tests/test_NAME.py", "src/puffer_envs_NAME/__init__.py",
        "src/puffer_envs_NAME/NAME.h", "src/puffer_envs_NAME/config.toml", "src/puffer_envs_NAME/render.py"}
    check_entry_points(pyproject(generated), "puffer_envs_conventions", has_hook=False)


@pytest.mark.parametrize("plugin", C_PLUGINS, ids=lambda p: p.name)
def test_c_plugins_follow_the_template(plugin, generated):
    name = plugin.name.removeprefix("puffer-envs-")
    package = f"puffer_envs_{name}"
    own = files_of(plugin, name)
    missing = files_of(generated, "conventions") - own
    assert not missing, f"{plugin.name} lacks the template's {sorted(missing)}"
    has_hook = "src/puffer_envs_NAME/plugin.py" in own
    assert (plugin / "setup.py").read_text() == (generated / "setup.py").read_text()

    data, want = pyproject(plugin), pyproject(generated)
    assert data["build-system"] == want["build-system"]
    for key in ("version", "readme", "requires-python", "dependencies"):
        assert data["project"][key] == want["project"][key], key
    assert data["project"]["name"] == plugin.name
    assert set(data["project"]) <= set(want["project"]) | {"optional-dependencies"}
    check_entry_points(data, package, has_hook)
    registered = sum(spec.distribution == plugin.name for spec in puffer_core.list_envs().values())
    if registered:  # the plugin is installed
        assert (registered > 1) == has_hook, \
            "one env: point the entry point at the class; several: a plugin.py hook returning their EnvSpecs"
    setuptools, want_setuptools = data["tool"]["setuptools"], want["tool"]["setuptools"]
    assert setuptools["packages"] == want_setuptools["packages"]
    assert set(setuptools) == set(want_setuptools)
    patterns = setuptools["package-data"][package]
    assert set(want_setuptools["package-data"]["puffer_envs_conventions"]) <= set(patterns)


@pytest.mark.parametrize("plugin", OTHER_PLUGINS, ids=lambda p: p.name)
def test_python_plugins_share_the_pyproject_conventions(plugin, generated):
    data, want = pyproject(plugin), pyproject(generated)
    assert data["build-system"]["build-backend"] == want["build-system"]["build-backend"]
    assert data["build-system"]["requires"] == ["setuptools>=68"]  # no C: no cffi, no SDK to build with
    for key in ("version", "readme", "requires-python"):
        assert data["project"][key] == want["project"][key], key
    assert data["tool"]["setuptools"]["packages"] == want["tool"]["setuptools"]["packages"]
    check_entry_points(data, f"puffer_envs_{plugin.name.removeprefix('puffer-envs-')}",
                       has_hook=any((plugin / "src").glob("*/plugin.py")))
