"""Plugin registry: the envs that installed distributions declare in the `puffer` entry-point group.

An entry point names an env class (`pong = "puffer_envs_pong:Pong"`), from which EnvSpec.of derives
the spec: the entry point's name, `config.toml` beside the class as the training config, the first
docstring line as the description, the class attributes `policy`, `team_size` and `outcome_field`,
and the distribution's version. `make(name)` is the class with its own defaults.

A plugin with several envs names a module with the pluggy hook `@hookimpl def puffer_envs()`, which
returns EnvSpecs. Each plugin's hook is called on its own (a subset hook caller), so one broken plugin
never hides the others: its error is reported when someone asks for a name it may have provided.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import pkgutil
import sys
import tomllib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib.resources import files
from typing import Any

import pluggy

from .errors import ConfigError, EnvNotFoundError, PluginError, did_you_mean

PROJECT = "puffer"
ENTRY_POINT_GROUP = "puffer"
HOOK = "puffer_envs"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    @hookspec
    def puffer_envs(self) -> list[EnvSpec]:
        """Return the EnvSpecs this plugin provides."""


@dataclass(frozen=True)
class EnvSpec:
    """What Puffer knows about one environment name."""

    name: str
    make: Callable[..., Any] | str  # env class or factory, or "module:attr" imported on first use
    # Kwargs that make this name this env (atari:<game>'s game, connect4-selfplay's two_player), over
    # the class's defaults. Not a place for env defaults (the class) or training sizes (config.toml).
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

    @classmethod
    def of(cls, env_class: Callable[..., Any], name: str, **fields) -> EnvSpec:
        """The spec an env class implies (see the module docstring); `fields` override any part."""
        doc = (env_class.__doc__ or "").strip()  # the class's own docstring: __doc__ is not inherited
        derived = {"make": env_class, "config": default_config(env_class), "description": doc.partition("\n")[0],
                   "policy": getattr(env_class, "policy", None), "team_size": getattr(env_class, "team_size", 0),
                   "outcome_field": getattr(env_class, "outcome_field", None)}
        return cls(name=name, **{**derived, **fields})

    def factory(self) -> Callable[..., Any]:
        return load_object(self.make) if isinstance(self.make, str) else self.make

    def training_config(self) -> dict:
        try:
            return tomllib.loads(self.config) if self.config else {}
        except tomllib.TOMLDecodeError as e:
            raise PluginError(f"env {self.name!r} from {self.distribution or 'an unknown distribution'} "
                              f"ships an invalid training TOML: {e}") from e


def default_config(env_class) -> str:
    """The text of `config.toml` in the package of `env_class`'s module ("" when it has none)."""
    module = sys.modules.get(env_class.__module__)
    package = module.__spec__.parent if module is not None and module.__spec__ is not None else ""
    if not package:
        return ""
    path = files(package).joinpath("config.toml")
    return path.read_text() if path.is_file() else ""


load_object = pkgutil.resolve_name  # "package.module:attr" -> the object, imported


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
                specs = self._specs_of(ep)
            except Exception as e:
                self.broken[dist] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}"
                continue
            for spec in specs:
                self.add(replace(spec, distribution=dist, version=spec.version or version))

    def _specs_of(self, ep: md.EntryPoint) -> list[EnvSpec]:
        target = ep.load()
        if not inspect.ismodule(target):
            if not callable(target):
                raise PluginError(f"entry point {ep.name} = {ep.value!r} names {target!r}, which is neither an env "
                                  "class nor a module with the puffer_envs() hook")
            return [EnvSpec.of(target, ep.name)]
        if self.manager.is_registered(target):  # a second entry point naming the same module
            return []
        self.manager.register(target, name=ep.value)
        if not any(caller.name == HOOK for caller in self.manager.get_hookcallers(target) or []):
            raise PluginError(f"entry point {ep.name} = {ep.value!r} names a module with no @puffer_core.hookimpl "
                              f"{HOOK}() function; point it at the env class ('module:Class') or add the hook")
        others = [plugin for plugin in self.manager.get_plugins() if plugin is not target]
        specs = [spec for result in self.manager.subset_hook_caller(HOOK, remove_plugins=others)()
                 for spec in result or []]
        for spec in specs:
            if not isinstance(spec, EnvSpec):
                raise PluginError(f"{HOOK}() in {target.__name__} returned {spec!r}, not an EnvSpec")
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
        msg = (f"no installed plugin registers an env named {name!r}.{did_you_mean(name, known)} "
               f"Installed: {', '.join(known) or 'none'}.")
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
    """Make the env registered as `name` (or `gym:<id>`): its class with the class's defaults, the name's
    default_kwargs (if any) and then `kwargs` over them."""
    spec = get_spec(name)
    return spec.factory()(**{**spec.default_kwargs, **kwargs})


def list_envs() -> dict[str, EnvSpec]:
    return dict(sorted(registry().specs.items()))
