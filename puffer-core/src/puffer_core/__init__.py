"""puffer_core: the native-env buffer protocol, log ABI, vectorization, emulation and plugin registry.

Importing it never imports torch or cffi.
"""

from . import vector
from .buffers import Buffers
from .env import PufferEnv
from .errors import (
    ActionError,
    ConfigError,
    EnvNotFoundError,
    PluginError,
    PufferError,
    SpaceError,
    StateError,
    WorkerError,
)
from .registry import EnvSpec, get_spec, hookimpl, list_envs, make, register

__version__ = "0.1.0"

__all__ = ["ActionError", "Buffers", "ConfigError", "EnvNotFoundError", "EnvSpec", "PluginError", "PufferEnv",
           "PufferError", "SpaceError", "StateError", "WorkerError", "get_spec", "hookimpl", "list_envs", "make",
           "register", "vector"]
