"""The six shared buffers of the native-env protocol: allocation from spaces and validation of given ones."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from gymnasium import spaces

from . import spaces as sp
from . import validate
from .errors import SpaceError

BUFFER_NAMES = ("observations", "actions", "rewards", "terminals", "truncations", "masks")


@dataclass
class Buffers:
    """One row per agent. Envs write observations/rewards/terminals/truncations/masks and read actions."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    truncations: np.ndarray
    masks: np.ndarray
    # Opt-in (None when off): the last observation of each episode that ended on this step, written only
    # in the rows whose terminal or truncation is set (the other rows hold stale values). Same shape and
    # dtype as observations.
    final_observations: np.ndarray | None = None

    def __getitem__(self, rows: slice) -> Buffers:
        """The buffers of a contiguous range of agents (views, never copies)."""
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("Buffers can only be sliced by a contiguous row range, e.g. buffers[4:8]")
        return Buffers(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[rows]
                          for f in fields(self)})

    @property
    def num_agents(self) -> int:
        return len(self.rewards)


def layout(observation_space: spaces.Space, action_space: spaces.Space, num_agents: int,
           final_observations: bool = False):
    """(name, shape, dtype) of each buffer for these spaces (and of final_observations when asked for)."""
    specs = [
        ("observations", (num_agents, *sp.observation_shape(observation_space)),
         sp.observation_dtype(observation_space)),
        ("actions", (num_agents, *sp.action_shape(action_space)), sp.action_dtype(action_space)),
        ("rewards", (num_agents,), np.dtype(np.float32)),
        ("terminals", (num_agents,), np.dtype(np.uint8)),
        ("truncations", (num_agents,), np.dtype(np.uint8)),
        ("masks", (num_agents,), np.dtype(np.uint8)),
    ]
    if final_observations:
        specs.append(("final_observations", *specs[0][1:]))
    return specs


def nbytes(observation_space, action_space, num_agents: int, final_observations: bool = False) -> int:
    """Bytes needed to hold all the buffers, each aligned to 64 bytes (one cache line)."""
    specs = layout(observation_space, action_space, num_agents, final_observations)
    return sum(_aligned(math.prod(shape) * dtype.itemsize) for _, shape, dtype in specs)


def _aligned(n: int) -> int:
    return (n + 63) // 64 * 64


def allocate(observation_space, action_space, num_agents: int, memory=None, zero: bool = True,
             final_observations: bool = False) -> Buffers:
    """Allocate zeroed buffers, in `memory` (any writable buffer of at least `nbytes(...)` bytes, e.g.
    shared memory) or on the heap. Masks start at 1: every agent is live until the env says otherwise.
    `zero=False` only maps the layout onto `memory` (a worker process attaching to buffers already set up).
    `final_observations=True` adds that buffer (see Buffers)."""
    specs = layout(observation_space, action_space, num_agents, final_observations)
    if memory is None:
        size = nbytes(observation_space, action_space, num_agents, final_observations) + 64
        validate.memory(size, f"the buffers of {num_agents:,} agents")  # before numpy tries (or overcommits)
        memory = np.zeros(size, np.uint8)
    raw = np.frombuffer(memory, np.uint8)
    offset = (-raw.ctypes.data) % 64
    arrays = {}
    for name, shape, dtype in specs:
        size = int(np.prod(shape)) * dtype.itemsize
        arrays[name] = raw[offset:offset + size].view(dtype).reshape(shape)
        offset += _aligned(size)
    bufs = Buffers(**arrays)
    if not zero:
        return bufs
    for name, _, _ in specs:
        getattr(bufs, name)[...] = 0
    bufs.masks[...] = 1
    return bufs


def check(buffers: Buffers, observation_space, action_space, num_agents: int) -> Buffers:
    """Check that caller-provided buffers match the spaces; return them unchanged."""
    final = getattr(buffers, "final_observations", None) is not None
    for name, shape, dtype in layout(observation_space, action_space, num_agents, final):
        arr = getattr(buffers, name)
        if not isinstance(arr, np.ndarray):
            raise SpaceError(f"buffer {name!r} is a {type(arr).__name__}, not a numpy array")
        if arr.shape != shape or arr.dtype != dtype:
            raise SpaceError(f"buffer {name!r} is {arr.dtype.name}{list(arr.shape)}; these spaces need "
                             f"{dtype.name}{list(shape)}")
        if not arr.flags.c_contiguous or not arr.flags.writeable:
            raise SpaceError(f"buffer {name!r} must be C-contiguous and writable (envs write it in place)")
    return buffers

