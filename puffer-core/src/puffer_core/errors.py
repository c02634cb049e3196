"""Every error Puffer raises on bad input derives from PufferError, so callers can catch one type."""

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6, quote=repr) -> str:
    """" Did you mean 'x'?" for the option closest to `word`, or "" when none is close: the one
    suggestion every unknown-name error appends."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=cutoff)
    return f" Did you mean {quote(close[0])}?" if close else ""


class PufferError(Exception):
    """Base class for Puffer's user-facing errors."""


class EnvNotFoundError(PufferError, KeyError):
    """No installed plugin registered the requested environment name."""

    def __str__(self):  # KeyError would repr() the message; show it as written
        return str(self.args[0]) if self.args else ""


class PluginError(PufferError):
    """A plugin failed to import or two plugins claimed the same env name."""


class SpaceError(PufferError, TypeError):
    """A space the protocol cannot represent, or buffers that disagree with the spaces."""


class ActionError(PufferError, ValueError):
    """Actions with the wrong dtype, shape or values."""


class ConfigError(PufferError, ValueError):
    """An unknown or ill-typed configuration value."""


class WorkerError(PufferError, RuntimeError):
    """A vector worker died, hung or raised; the message names the worker and the cause."""


class StateError(PufferError, RuntimeError):
    """An env used in the wrong state: stepped before reset(), after close(), or after an interrupted call."""
