"""The six shared buffers of the native-env protocol: the dtype and shape rules that map Gymnasium spaces
onto them (DESIGN.md, "Buffers"), their allocation, validation of given ones, and the action check."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from gymnasium import spaces

from . import validate
from .errors import ActionError, SpaceError

OBS_DTYPES = (np.uint8, np.int8, np.int16, np.int32, np.float32)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def observation_dtype(space: spaces.Space) -> np.dtype:
    """The buffer dtype for one agent's observation (flat spaces only; emulation flattens the rest)."""
    if isinstance(space, spaces.Box):
        dtype = np.dtype(space.dtype)
        if dtype.type not in OBS_DTYPES:
            names = ", ".join(np.dtype(t).name for t in OBS_DTYPES)
            raise SpaceError(f"observation Box dtype {dtype.name} is not one of {names}; "
                             "cast it in the env (uint8 if a byte holds the value, else float32)")
        return dtype
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        return np.dtype(np.int32)
    if isinstance(space, spaces.MultiBinary):
        return np.dtype(np.uint8)
    raise SpaceError(f"observation space {space} is not flat (Box, Discrete, MultiDiscrete, MultiBinary); "
                     "wrap the env with puffer_core.emulation to flatten Dict and Tuple spaces")


def row_shape(space: spaces.Space) -> tuple[int, ...]:
    """One agent's row of a buffer: () for Discrete, else the space's shape (observations and actions alike)."""
    return () if isinstance(space, spaces.Discrete) else tuple(space.shape)


observation_shape = action_shape = row_shape


def action_dtype(space: spaces.Space) -> np.dtype:
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        return np.dtype(np.int32)
    if isinstance(space, spaces.Box):
        return np.dtype(np.float32)
    raise SpaceError(f"action space {space} is not Discrete, MultiDiscrete, MultiBinary or Box; "
                     "wrap the env with puffer_core.emulation to flatten structured action spaces")


def action_bounds(space: spaces.Space) -> tuple[np.ndarray, np.ndarray] | None:
    """Inclusive [low, high] of a Discrete, MultiDiscrete or MultiBinary space's values (valid integer
    actions), or None for Box (any finite float is accepted)."""
    if isinstance(space, spaces.Discrete):
        return np.asarray(space.start), np.asarray(space.start + space.n - 1)
    if isinstance(space, spaces.MultiDiscrete):
        return np.asarray(space.start), np.asarray(space.start + space.nvec - 1)
    if isinstance(space, spaces.MultiBinary):
        return np.zeros(space.shape, np.int64), np.ones(space.shape, np.int64)
    return None


def _discrete_in_range(arr: np.ndarray, space: spaces.Space) -> bool:
    """The common case in one pass: Discrete(n) from 0, integer actions. Seen as unsigned, negative values
    wrap to huge ones, so a single max finds anything outside 0..n-1 (the mask path then says which)."""
    if not (isinstance(space, spaces.Discrete) and space.start == 0 and arr.dtype.kind in "iu" and arr.size):
        return False
    return int(np.maximum.reduce(arr.view(f"u{arr.itemsize}"), axis=None)) < int(space.n)


def check_actions(actions, space: spaces.Space, num_agents: int) -> np.ndarray:
    """Validate a batch of actions for `num_agents` agents and return it as an array ready to copy.

    Integer spaces accept any integer dtype (values are range-checked before the cast to int32);
    Box accepts float arrays with finite values. Anything else is an ActionError saying what to send.
    """
    arr = np.asarray(actions)
    shape = (num_agents, *action_shape(space))
    if arr.shape != shape:
        # A Discrete action per agent may arrive as a column (num_agents, 1).
        if isinstance(space, spaces.Discrete) and arr.shape == (num_agents, 1):
            arr = arr.reshape(num_agents)
        else:
            raise ActionError(f"actions have shape {arr.shape}; expected {shape} "
                              f"(num_agents={num_agents}, action space {space})")
    if isinstance(space, spaces.Box):
        if arr.dtype.kind != "f":
            raise ActionError(f"actions have dtype {arr.dtype.name}; Box actions must be floats (send float32)")
        # The buffer is float32: a wider float must also fit float32, or the cast would turn it into inf.
        ok = np.isfinite(arr) if arr.itemsize <= 4 else np.abs(arr) <= FLOAT32_MAX
        if not ok.all():
            idx = tuple(np.argwhere(~ok)[0])
            value = arr[idx]
            what = "NaN or infinite" if not np.isfinite(value) else f"{value:g}, beyond float32's range (|x| <= 3.4e38)"
            raise ActionError(f"action for agent {idx[0]}{_component(idx)} is {what}; Box actions are float32 "
                              "in the buffer and must be finite")
        return arr
    if arr.dtype.kind not in "iub":
        raise ActionError(f"actions have dtype {arr.dtype.name}; {type(space).__name__} actions must be "
                          "integers (send int32)")
    if _discrete_in_range(arr, space):
        return arr
    low, high = action_bounds(space)
    bad = (arr < low) | (arr > high)
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        part = idx[1:]  # which component of a MultiDiscrete/MultiBinary action: report its own range
        lo, hi = np.broadcast_to(low, arr.shape[1:])[part], np.broadcast_to(high, arr.shape[1:])[part]
        raise ActionError(f"action {arr[idx]} for agent {idx[0]}{_component(idx)} is outside {space} "
                          f"(valid range {lo}..{hi})")
    return arr


def _component(idx: tuple) -> str:
    """' (component 2)' for the action index (agent, 2), '' for a scalar action (agent,)."""
    part = idx[1:]
    if not part:
        return ""
    return f" (component {int(part[0]) if len(part) == 1 else list(map(int, part))})"


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
        ("observations", (num_agents, *observation_shape(observation_space)),
         observation_dtype(observation_space)),
        ("actions", (num_agents, *action_shape(action_space)), action_dtype(action_space)),
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
        memory = np.zeros(size, np.uint8)  # zero already, and its pages untouched until used
    elif zero:
        np.frombuffer(memory, np.uint8)[...] = 0
    raw = np.frombuffer(memory, np.uint8)
    offset = (-raw.ctypes.data) % 64
    arrays = {}
    for name, shape, dtype in specs:
        size = int(np.prod(shape)) * dtype.itemsize
        arrays[name] = raw[offset:offset + size].view(dtype).reshape(shape)
        offset += _aligned(size)
    bufs = Buffers(**arrays)
    if zero:
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

