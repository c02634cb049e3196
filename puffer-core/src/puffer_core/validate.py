"""Checks of user-supplied arguments, shared by every env and backend, each O(1) and run in the caller
before anything is allocated or sent to a worker: a bad argument is a ConfigError naming it, and
leaves the env or backend as it was. Nothing is rounded, parsed or wrapped around.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import ConfigError

SEED_LIMIT = 2**63  # seeds are 0 .. SEED_LIMIT - 1: an int64 holds them, and the C envs' uint64 RNG seed too


def seed(value, name: str = "seed", count: int = 1) -> int | None:
    """`value` as a Python int (None stays None), if it and the `count - 1` seeds after it are valid: the
    seed rule of every env and backend is None or an integer (Python or numpy, not bool) in 0..2**63-1,
    and a vector env seeds env object i with seed + i."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name}={value!r} ({type(value).__name__}) is not a seed: pass an integer in "
                          f"0..2**63-1 (a Python or numpy int), or None for a random one")
    value = int(value)
    if not 0 <= value <= SEED_LIMIT - count:
        span = "" if count == 1 else (f" (this vector env seeds its {count} envs with {name} + 0 .. "
                                      f"{name} + {count - 1}, so at most 2**63-{count} here)")
        raise ConfigError(f"{name}={value} is out of range: seeds are integers in 0..2**63-1{span}")
    return value


def count(value, name: str, low: int = 1) -> int:
    """A positive (>= low) integer size such as num_envs, as a Python int; bools and floats are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def nearest_divisor(n: int, near: int, span: int = 4096) -> int:
    """The divisor of n closest to `near` among near - span .. near + span (1 if none): O(span), not O(n)."""
    for step in range(span + 1):
        for d in (near - step, near + step):
            if 1 <= d <= n and n % d == 0:
                return d
    return 1


def _size(nbytes: int) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"


def available_memory() -> int | None:
    """Bytes this process could still allocate: the kernel's MemAvailable plus free swap, capped by a cgroup
    (container) memory limit; physical memory where /proc is missing; None if unknown."""
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        kib = lambda key: int(info[key].split()[0]) * 1024
        free = kib("MemAvailable") + kib("SwapFree")
    except (OSError, KeyError, ValueError):
        try:
            free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            free = min(free, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return free


def memory(nbytes: int, what: str) -> None:
    """Refuse to allocate `nbytes` of `what` (a sentence naming the sizes that asked for it) if they cannot fit."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise ConfigError(f"{what} need {_size(nbytes)} of memory, but only {_size(free)} is available: "
                          "use fewer envs or agents")


def shared_memory(nbytes: int, what: str) -> None:
    """Like memory(), for a multiprocessing heap arena: a file in /dev/shm if it has room, else in the temp
    folder (multiprocessing.heap's rule), and never beyond memory."""
    memory(nbytes, what)
    if sys.platform != "linux":
        return
    folders = [folder for folder in ("/dev/shm", tempfile.gettempdir()) if os.path.isdir(folder)]
    free = max((shutil.disk_usage(folder).free for folder in folders), default=0)
    if nbytes > free:
        raise ConfigError(f"{what} need {_size(nbytes)} of shared memory, but /dev/shm and the temp folder have "
                          f"only {_size(free)} free: use fewer envs or agents (or backend='threads')")
