"""Plugin registry: pluggy hooks discovered through the `puffer` entry-point group.

A plugin distribution declares

    [project.entry-points.puffer]
    pong = "puffer_envs_pong.plugin"

and that module implements the hook:

    from puffer_core import EnvSpec, hookimpl

    @hookimpl
    def puffer_envs():
        return [EnvSpec(name="pong", make="puffer_envs_pong:Pong", description="...")]

Each plugin is loaded and called on its own, so one broken plugin never hides the others; its
error is reported when someone asks for a name it may have provided.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import tomllib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pluggy

from .errors import ConfigError, EnvNotFoundError, PluginError, did_you_mean

PROJECT = "puffer"
ENTRY_POINT_GROUP = "puffer"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    @hookspec
    def puffer_envs(self) -> list[EnvSpec]:
        """Return the EnvSpecs this plugin provides."""


@dataclass(frozen=True)
class EnvSpec:
    """What a plugin tells Puffer about one environment."""

    name: str
    make: Callable[..., Any] | str  # env class or factory, or "module:attr" imported on first use
    default_kwargs: dict = field(default_factory=dict)
    config: str = ""  # default training config, TOML text
    policy: str | None = None  # "module:Class", imported by the trainer only
    description: str = ""
    version: str = ""  # defaults to the distribution's version
    distribution: str = ""  # filled in by the registry
    # Competitive envs (Elo): agents per team in one game and the Log field with a game's outcome
    # for the first team (1 win, 0 loss, 0.5 draw).
    team_size: int = 0
    outcome_field: str | None = None

    def factory(self) -> Callable[..., Any]:
        return load_object(self.make) if isinstance(self.make, str) else self.make

    def training_config(self) -> dict:
        try:
            return tomllib.loads(self.config) if self.config else {}
        except tomllib.TOMLDecodeError as e:
            raise PluginError(f"env {self.name!r} from {self.distribution or 'an unknown distribution'} "
                              f"ships an invalid training TOML: {e}") from e


def load_object(path: str):
    """Import "package.module:attr"."""
    module, _, attr = path.partition(":")
    if not attr:
        raise ValueError(f"{path!r} is not of the form 'module:attr'")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    def __init__(self):
        self.specs: dict[str, EnvSpec] = {}
        self.conflicts: dict[str, list[str]] = {}  # name -> distributions that all claim it
        self.broken: dict[str, str] = {}  # distribution -> error text
        self.manager = pluggy.PluginManager(PROJECT)
        self.manager.add_hookspecs(HookSpecs)

    def load_entry_points(self) -> None:
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else ep.value
            version = ep.dist.version if ep.dist else ""
            try:
                module = ep.load()
                self.manager.register(module, name=f"{dist}:{ep.name}")
                specs = self._call(module)
            except Exception as e:
                self.broken[dist] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}"
                continue
            for spec in specs:
                self.add(replace(spec, distribution=dist, version=spec.version or version))

    @staticmethod
    def _call(module) -> list[EnvSpec]:
        impl = getattr(module, "puffer_envs", None)
        if impl is None:
            raise PluginError(f"module {module.__name__} implements no puffer_envs() hook")
        specs = list(impl() or [])
        for spec in specs:
            if not isinstance(spec, EnvSpec):
                raise PluginError(f"puffer_envs() in {module.__name__} returned {spec!r}, not an EnvSpec")
        return specs

    def add(self, spec: EnvSpec) -> None:
        if spec.name in self.conflicts:
            self.conflicts[spec.name].append(spec.distribution)
        elif spec.name in self.specs and self.specs[spec.name].distribution != spec.distribution:
            self.conflicts[spec.name] = [self.specs.pop(spec.name).distribution, spec.distribution]
        else:
            self.specs[spec.name] = spec

    def get(self, name: str) -> EnvSpec:
        if name in self.specs:
            return self.specs[name]
        if name in self.conflicts:
            dists = ", ".join(self.conflicts[name])
            raise PluginError(f"env {name!r} is registered by more than one distribution ({dists}); "
                              "uninstall all but one of them")
        known = sorted(self.specs)
        msg = f"no installed plugin registers an env named {name!r}."
        msg += did_you_mean(name, known)
        msg += f" Installed: {', '.join(known) or 'none'}."
        if self.broken:
            msg += " These plugins failed to load and might provide it: " + "; ".join(
                f"{dist} ({err.splitlines()[0]})" for dist, err in self.broken.items())
        msg += " Gymnasium ids work as 'gym:<id>' (e.g. gym:CartPole-v1)."
        raise EnvNotFoundError(msg)


_registry: Registry | None = None


def registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = Registry()
        _registry.load_entry_points()
    return _registry


def refresh() -> Registry:
    """Forget what was loaded and scan the entry points again (after installing a plugin)."""
    global _registry
    in_process = [s for s in (_registry.specs.values() if _registry else []) if s.distribution == "<in-process>"]
    _registry = None
    reg = registry()
    for spec in in_process:
        reg.add(spec)
    return reg


def register(spec: EnvSpec) -> EnvSpec:
    """Register an env from the running program (no entry point needed)."""
    spec = replace(spec, distribution="<in-process>")
    registry().add(spec)
    return spec


def get_spec(name: str) -> EnvSpec:
    if not isinstance(name, str):
        raise ConfigError(f"an env name is a string such as 'cartpole' or 'gym:CartPole-v1', got {name!r} "
                          f"({type(name).__name__}); puffer_core.list_envs() shows the installed ones")
    if name.startswith("gym:"):
        return _gym_spec(name)
    return registry().get(name)


def _gym_spec(name: str) -> EnvSpec:
    import gymnasium

    env_id = name[len("gym:"):]
    if env_id not in gymnasium.registry:
        hint = did_you_mean(env_id, gymnasium.registry, quote=lambda id_: f"'gym:{id_}'")
        raise EnvNotFoundError(f"Gymnasium has no env id {env_id!r}.{hint}")

    from functools import partial

    from .emulation import make_gymnasium

    # A partial of a top-level function, so process-based vector backends can pickle it.
    return EnvSpec(name=name, make=partial(make_gymnasium, env_id), description=f"Gymnasium {env_id} through emulation",
                   version=gymnasium.__version__, distribution="gymnasium")


def make(name: str, **kwargs):
    """Make the env registered as `name` (or `gym:<id>`), with kwargs over the plugin's defaults."""
    spec = get_spec(name)
    return spec.factory()(**{**spec.default_kwargs, **kwargs})


def list_envs() -> dict[str, EnvSpec]:
    return dict(sorted(registry().specs.items()))
