"""Emulation: Gymnasium and PettingZoo envs as PufferEnvs, and any PufferEnv as a Gymnasium VectorEnv.

    env = GymnasiumPufferEnv(lambda: gymnasium.make("CartPole-v1"))     # 1 agent
    env = PettingZooPufferEnv(lambda: my_parallel_env())                # one row per possible agent
    vec = VectorEnvAdapter(puffer_core.make("pong", num_envs=64))       # a gymnasium.vector.VectorEnv

Observations: each agent's becomes one buffer row of one dtype. A Box keeps its shape (float16/64 cast
to float32, integer and bool Boxes to the narrowest of uint8, int8, int16, int32 holding their bounds).
Discrete, MultiDiscrete, MultiBinary and Dict/Tuple nestings of these and Boxes are flattened into a
1-D row (Dict keys in the space's order), float32 if any part is a float Box, else the narrowest of
those integer dtypes holding every part's bounds. `unflatten(observations, original_space)` gives the
structure back as views (no copies; numpy arrays or torch tensors).

Actions: Discrete, MultiDiscrete, MultiBinary and Box (float32 in the buffer) are used as they are; a
Dict/Tuple of discrete parts becomes one MultiDiscrete, unflattened into the env's structure per step.

Auto-reset follows the buffer protocol: the step that ends an episode writes the new episode's first
observation. The auto-resets after `reset(seed=s)` pass no seed, so the env's RNG carries on as in a
plain Gymnasium loop. Returns and lengths go through `log()`; non-numeric info values are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from . import validate
from .buffers import action_bounds, row_shape
from .env import PufferEnv
from .errors import ConfigError, SpaceError, StateError
from .logs import LogAccumulator

# Integer buffer dtypes from narrowest to widest (puffer_core.buffers.OBS_DTYPES).
INT_DTYPES = (np.uint8, np.int8, np.int16, np.int32)
LEAF_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
DISCRETE_LEAVES = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


# -- flattening structured spaces ------------------------------------------------------------------

def leaves(space: spaces.Space, path: tuple = ()) -> list[tuple[tuple, spaces.Space]]:
    """(path of keys/indices, flat space) for every Box/Discrete/MultiDiscrete/MultiBinary in `space`."""
    if isinstance(space, LEAF_SPACES):
        return [(path, space)]
    if isinstance(space, spaces.Dict):
        return [leaf for key, sub in space.spaces.items() for leaf in leaves(sub, (*path, key))]
    if isinstance(space, spaces.Tuple):
        return [leaf for i, sub in enumerate(space.spaces) for leaf in leaves(sub, (*path, i))]
    where = "".join(f"[{k!r}]" for k in path) or "the space itself"
    raise SpaceError(f"cannot emulate {type(space).__name__} space at {where}: Puffer buffers hold Box, Discrete, "
                     "MultiDiscrete and MultiBinary spaces, nested in Dict and Tuple; wrap the env so it uses those")


def _leaf_bounds(space: spaces.Space) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive flat (low, high) of one leaf's values, as float64."""
    low, high = (space.low, space.high) if isinstance(space, spaces.Box) else action_bounds(space)
    return np.asarray(low, np.float64).ravel(), np.asarray(high, np.float64).ravel()


def _dtype_for(parts: list[spaces.Space], low: np.ndarray, high: np.ndarray) -> np.dtype:
    """float32 if any part is a float Box, else the narrowest integer buffer dtype holding [low, high]."""
    if any(isinstance(s, spaces.Box) and np.dtype(s.dtype).kind == "f" for s in parts):
        return np.dtype(np.float32)
    lo, hi = (low.min(), high.max()) if low.size else (0, 0)
    for dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dtype)
    return np.dtype(np.float32)


def flat_observation_space(space: spaces.Space) -> spaces.Box:
    """The Box one agent's observation row has (see the module docstring for the rules)."""
    parts = leaves(space)
    low, high = (np.concatenate(b) for b in zip(*(_leaf_bounds(s) for _, s in parts)))
    dtype = _dtype_for([s for _, s in parts], low, high)
    shape = tuple(space.shape) if isinstance(space, spaces.Box) else (low.size,)
    if dtype.kind == "f":
        big = np.finfo(np.float32).max  # bounds beyond float32's range become +-inf, not an overflow warning
        low, high = np.where(low < -big, -np.inf, low), np.where(high > big, np.inf, high)
    return spaces.Box(low.reshape(shape).astype(dtype), high.reshape(shape).astype(dtype), shape, dtype)


def flat_action_space(space: spaces.Space) -> spaces.Space:
    """Flat action spaces unchanged (Box as float32); Dict/Tuple of discrete parts as one MultiDiscrete."""
    if isinstance(space, spaces.Box):
        return spaces.Box(space.low, space.high, space.shape, np.float32)
    if isinstance(space, DISCRETE_LEAVES):
        return space
    parts = leaves(space)
    for path, leaf in parts:
        if not isinstance(leaf, DISCRETE_LEAVES):
            where = "".join(f"[{k!r}]" for k in path)
            raise SpaceError(f"action space part {where} is a {type(leaf).__name__}: structured (Dict/Tuple) action "
                             "spaces can only hold Discrete, MultiDiscrete and MultiBinary parts, which Puffer "
                             "flattens into one MultiDiscrete")
    low, high = (np.concatenate(b) for b in zip(*(_leaf_bounds(s) for _, s in parts)))
    return spaces.MultiDiscrete((high - low + 1).astype(np.int64), start=low.astype(np.int64))


def _offsets(space: spaces.Space) -> list[tuple[tuple, spaces.Space, int, int]]:
    """(path, leaf, start, stop) of every leaf's columns in the flat row."""
    out, start = [], 0
    for path, leaf in leaves(space):
        stop = start + max(int(np.prod(row_shape(leaf))), 1)
        out.append((path, leaf, start, stop))
        start = stop
    return out


def _build(space: spaces.Space, values: dict) -> object:
    """Nest leaf values (keyed by path) back into the dict/tuple structure of `space`."""
    def build(sub, path):
        if isinstance(sub, spaces.Dict):
            return {key: build(s, (*path, key)) for key, s in sub.spaces.items()}
        if isinstance(sub, spaces.Tuple):
            return tuple(build(s, (*path, i)) for i, s in enumerate(sub.spaces))
        return values[path]
    return build(space, ())


def unflatten(observations, original_space: spaces.Space):
    """Split a batch of flat observation rows, shaped (..., row_size) or (..., *box_shape), back into the
    structure of `original_space`: dicts and tuples of views shaped (..., *part_shape) in the buffer
    dtype (a Discrete part is shaped (...,)). A plain Box space returns the batch itself."""
    if isinstance(original_space, spaces.Box):
        return observations
    lead = tuple(observations.shape[:-1])
    values = {}
    for path, leaf, start, stop in _offsets(original_space):
        if isinstance(leaf, spaces.Discrete):
            values[path] = observations[..., start]
        else:
            values[path] = observations[..., start:stop].reshape(*lead, *row_shape(leaf))
    return _build(original_space, values)


class _ObsWriter:
    """Writes one agent's (possibly structured) observation into its flat buffer row, no allocation."""

    def __init__(self, space: spaces.Space, row: np.ndarray):
        if isinstance(space, spaces.Box):
            # The common case: one numpy assignment bound once, no Python method or branch per step.
            self.write = partial(row.__setitem__, Ellipsis)
            return
        # Everything else: a view of the row per leaf, shaped like the leaf.
        self.parts = [(path, row[start:stop].reshape(row_shape(leaf)))
                      for path, leaf, start, stop in _offsets(space)]

    def write(self, obs) -> None:
        for path, view in self.parts:
            value = obs
            for key in path:
                value = value[key]
            view[...] = value


def _action_reader(space: spaces.Space, row: np.ndarray) -> Callable[[], object]:
    """A function returning the env-native action from this agent's action buffer row."""
    if isinstance(space, spaces.Discrete):
        # A numpy integer, as action_space.sample() gives: Gymnasium's Discrete.contains checks one faster
        # than a Python int (which goes through np.iinfo and a cast).
        if np.can_cast(row.dtype, space.dtype):
            return partial(row.__getitem__, ())
        scalar = space.dtype.type  # a narrower Discrete dtype (int8...): values fit, the range was checked
        return lambda: scalar(row[()])
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
        dtype = space.dtype
        return lambda: row.astype(dtype)  # a fresh array: the env may keep it past our next write
    parts = _offsets(space)

    def read():
        values = {}
        for path, leaf, start, stop in parts:
            if isinstance(leaf, spaces.Discrete):
                values[path] = leaf.dtype.type(row[start])  # a numpy integer, as for a plain Discrete
            else:
                values[path] = row[start:stop].reshape(leaf.shape).astype(leaf.dtype)
        return _build(space, values)
    return read


def numeric_info(info: dict) -> dict:
    """The numeric part of an info dict: numbers, bools and numeric arrays, nested dicts kept if non-empty."""
    out = {}
    for key, value in info.items():
        if (isinstance(value, (bool, int, float, np.number, np.bool_))
                or isinstance(value, np.ndarray) and value.dtype.kind in "biuf"):
            out[key] = value
        elif isinstance(value, dict):
            nested = numeric_info(value)
            if nested:
                out[key] = nested
    return out


NOT_RESET, CLOSED = "step() was called before reset(): call reset() first", "it was closed: make a new one"


def _make(env_creator, kind: str, check: Callable[[object], bool]):
    if check(env_creator):
        return env_creator
    if not callable(env_creator):
        raise ConfigError(f"env_creator must be a {kind} or a callable returning one; got {env_creator!r}")
    env = env_creator()
    if not check(env):
        raise ConfigError(f"env_creator returned {type(env).__name__}, not a {kind}")
    return env


class _Emulated(PufferEnv):
    """What both emulations share: the wrapped env and its flattened spaces, a writer and an action reader
    per agent row (bound once: the step is the hot path of every emulated env), and the state checks."""

    supports_final_observations = True

    def _wrap(self, env, observation_space, action_space, num_agents: int, buffers, final_observations: bool):
        self.env = env
        self.original_observation_space, self.original_action_space = observation_space, action_space
        self.single_observation_space = flat_observation_space(observation_space)
        self.single_action_space = flat_action_space(action_space)
        self.num_agents = num_agents
        self.render_mode = getattr(env, "render_mode", None)
        PufferEnv.__init__(self, buffers, final_observations)
        rows = range(num_agents)
        self._writers = [_ObsWriter(observation_space, self.observations[i, ...]).write for i in rows]
        self._final_writers = (None if self.final_observations is None else
                               [_ObsWriter(observation_space, self.final_observations[i, ...]).write for i in rows])
        self._actions = [_action_reader(action_space, self.actions[i, ...]) for i in rows]
        self.stats = LogAccumulator(self.log_fields)
        self._not_ready: str | None = NOT_RESET  # why step() cannot run now (None: it can)

    def _check_state(self, resetting: bool) -> None:
        """Refuse use in the wrong state (before reset, after close) here, so the wrapped env's own errors
        (gymnasium's ResetNeeded, or none at all after close) never reach the user."""
        if self._not_ready is CLOSED or (self._not_ready and not resetting):
            spec = getattr(self.env, "spec", None)
            name = getattr(spec, "id", None) or type(self.env).__name__
            raise StateError(f"{type(self).__name__} of {name}: {self._not_ready}")

    def render(self):
        return self.env.render()

    def close(self) -> None:
        self._not_ready = CLOSED
        self.env.close()


# -- Gymnasium -> PufferEnv ------------------------------------------------------------------------

class GymnasiumPufferEnv(_Emulated):
    """One Gymnasium env as a PufferEnv with one agent (see the module docstring for the conversions).

    `env_creator` is a gymnasium.Env or a callable returning one. `env` is the Gymnasium env;
    `original_observation_space` / `original_action_space` are its spaces before flattening.
    """

    def __init__(self, env_creator, buffers=None, final_observations: bool = False):
        env = _make(env_creator, "gymnasium.Env", lambda e: isinstance(e, gymnasium.Env))
        self._wrap(env, env.observation_space, env.action_space, 1, buffers, final_observations)
        self._write, self._write_final = self._writers[0], self._final_writers and self._final_writers[0]
        self._action, self._env_step, self._env_reset = self._actions[0], env.step, env.reset
        self._return, self._length = 0.0, 0
        # Finished episodes summed in Python floats, moved into the LogAccumulator when the log is read.
        self._episodes, self._sum_return, self._sum_length = 0, 0.0, 0

    def _reset(self, seed):
        self._check_state(resetting=True)
        obs, info = self.env.reset(seed=seed)
        self._not_ready = None
        self._write(obs)
        self.rewards[0] = 0
        self.terminals[0] = 0
        self.truncations[0] = 0
        self.masks[0] = 1
        self.infos = numeric_info(info) if info else {}
        self._return, self._length = 0.0, 0

    def _step(self):
        if self._not_ready:
            self._check_state(resetting=False)
        obs, reward, terminated, truncated, info = self._env_step(self._action())
        self.rewards[0] = reward
        self.terminals[0] = terminated
        self.truncations[0] = truncated
        self._return += reward
        self._length += 1
        if info or self.infos:
            self.infos = numeric_info(info) if info else {}
        if terminated or truncated:
            self._episodes += 1
            self._sum_return += self._return
            self._sum_length += self._length
            self._return, self._length = 0.0, 0
            if self._write_final is not None:
                self._write_final(obs)
            obs, _ = self._env_reset()
        self._write(obs)

    def pop_log_sums(self) -> np.ndarray:
        if self._episodes:
            self.stats.add(self._episodes, episode_return=self._sum_return, episode_length=self._sum_length)
            self._episodes, self._sum_return, self._sum_length = 0, 0.0, 0
        return self.stats.pop()


def make_gymnasium(env_id: str, buffers=None, final_observations: bool = False, **kwargs) -> GymnasiumPufferEnv:
    """`gymnasium.make(env_id, **kwargs)` as a PufferEnv: what `puffer_core.make("gym:<id>")` calls."""
    def create():
        try:
            return gymnasium.make(env_id, **kwargs)
        except TypeError as e:
            if not kwargs:
                raise
            raise ConfigError(f"gymnasium.make({env_id!r}) rejected the kwargs {', '.join(map(repr, kwargs))}: "
                              f"{str(e).splitlines()[0]}") from e

    return GymnasiumPufferEnv(create, buffers=buffers, final_observations=final_observations)


# -- PettingZoo -> PufferEnv -----------------------------------------------------------------------

def _is_parallel_env(env) -> bool:
    return not isinstance(env, type) and all(
        hasattr(env, name) for name in ("possible_agents", "observation_space", "action_space", "step"))


class PettingZooPufferEnv(_Emulated):
    """A PettingZoo ParallelEnv as a PufferEnv with one row per `possible_agents` entry, in that order.

    A row's mask is 1 while its agent takes part in the episode (including the step on which it finishes);
    rows of agents that are gone (finished, dead, not spawned yet) are zeroed with mask 0 and their actions
    ignored. When no agent is left the env resets itself: that step still reports the final rewards and
    terminals, and writes the new episode's first observations. Every agent must share one observation
    space and one action space. `log()` averages over finished agent-episodes.
    """

    def __init__(self, env_creator, buffers=None, final_observations: bool = False):
        env = _make(env_creator, "PettingZoo ParallelEnv", _is_parallel_env)
        self.possible_agents = list(env.possible_agents)
        if not self.possible_agents:
            raise SpaceError("the PettingZoo env has no possible_agents; Puffer needs the full agent list up front")
        first = self.possible_agents[0]
        spaces_of = {"observation": env.observation_space, "action": env.action_space}
        for agent in self.possible_agents[1:]:
            for kind, space_of in spaces_of.items():
                if space_of(agent) != space_of(first):
                    raise SpaceError(f"agent {agent!r} has a different {kind} space than {first!r}; Puffer gives "
                                     "every agent one buffer row, so all agents must share their spaces (pad them)")
        self._wrap(env, env.observation_space(first), env.action_space(first), len(self.possible_agents), buffers,
                   final_observations)
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._returns = np.zeros(self.num_agents)
        self._lengths = np.zeros(self.num_agents, np.int64)

    def _write_new_episode(self, obs) -> None:
        for i, agent in enumerate(self.possible_agents):
            if agent in obs:
                self._writers[i](obs[agent])
                self.masks[i] = 1
            else:
                self.observations[i] = 0
        self._returns[:] = 0
        self._lengths[:] = 0

    def _reset(self, seed):
        self._check_state(resetting=True)
        obs, infos = self.env.reset(seed=seed)
        self._not_ready = None
        self.rewards[:] = 0
        self.terminals[:] = 0
        self.truncations[:] = 0
        self.masks[:] = 0
        self._write_new_episode(obs)
        self.infos = {}

    def _step(self):
        if self._not_ready:
            self._check_state(resetting=False)
        try:
            actions = {agent: self._actions[self._index[agent]]() for agent in self.env.agents}
        except KeyError as e:
            raise SpaceError(f"agent {e.args[0]!r} is live but not in the env's possible_agents "
                             f"{self.possible_agents}: Puffer gives each possible agent a fixed row") from None
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        for i, agent in enumerate(self.possible_agents):
            if agent in obs or agent in rewards:
                if agent in obs:
                    self._writers[i](obs[agent])
                reward = rewards.get(agent, 0.0)
                terminated, truncated = terminations.get(agent, False), truncations.get(agent, False)
                self.rewards[i] = reward
                self.terminals[i] = terminated
                self.truncations[i] = truncated
                self.masks[i] = 1
                self._returns[i] += reward
                self._lengths[i] += 1
                if terminated or truncated:
                    if self._final_writers is not None and agent in obs:
                        self._final_writers[i](obs[agent])
                    self.stats.add(1, episode_return=self._returns[i], episode_length=self._lengths[i])
                    self._returns[i] = 0
                    self._lengths[i] = 0
            elif self.masks[i] or self.rewards[i] or self.terminals[i] or self.truncations[i]:
                self.observations[i] = 0
                self.rewards[i] = 0
                self.terminals[i] = 0
                self.truncations[i] = 0
                self.masks[i] = 0
        self.infos = {agent: numeric_info(info) for agent, info in infos.items() if info} if infos else {}
        if not self.env.agents:
            obs, _ = self.env.reset()
            self._write_new_episode(obs)

    def pop_log_sums(self) -> np.ndarray:
        return self.stats.pop()


# -- PufferEnv -> gymnasium.vector.VectorEnv -------------------------------------------------------

class VectorEnvAdapter(gymnasium.vector.VectorEnv):
    """Any PufferEnv (a native env, a vector backend, an emulated env) as a gymnasium.vector.VectorEnv
    with `num_envs = num_agents`.

    Auto-reset is Gymnasium's SAME_STEP mode; final observations (when the env keeps them) are in
    `infos["final_obs"]` / `infos["_final_obs"]` as SAME_STEP vector envs give them. `copy=True` (the
    default, as in SyncVectorEnv) returns copies, `copy=False` the live buffers. `reset(seed=s)` seeds
    row i with s + i (one int, not a list). Rows with mask 0 (dead agents) are zeros.
    """

    def __init__(self, env: PufferEnv, copy: bool = True):
        self.env = env
        self.copy = copy
        self.num_envs = env.num_agents
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = env.render_mode
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP,
                         "render_modes": [env.render_mode] if env.render_mode else []}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if isinstance(seed, (list, tuple, np.ndarray)):
            raise ConfigError(f"reset(seed=...) takes one int (agent row i is seeded with seed + i), got {seed!r}")
        seed = validate.seed(seed, count=getattr(self.env, "seeds_per_reset", 1))  # the rule of every Puffer env
        if options:
            raise ConfigError(f"Puffer envs take no reset options, got {options!r}")
        super().reset(seed=seed)
        obs, infos = self.env.reset(seed=seed)
        return (obs.copy() if self.copy else obs), dict(infos)

    def step(self, actions):
        obs, rewards, terminals, truncations, infos = self.env.step(actions)
        if self.copy:
            obs, rewards = obs.copy(), rewards.copy()
        terminals, truncations, infos = terminals.astype(bool), truncations.astype(bool), dict(infos)
        final = getattr(self.env, "final_observations", None)
        if final is not None:
            ended = terminals | truncations
            if ended.any():
                rows = np.full(self.num_envs, None, dtype=object)
                for i in np.flatnonzero(ended):
                    rows[i] = final[i].copy()
                infos["final_obs"], infos["_final_obs"] = rows, ended
        return obs, rewards, terminals, truncations, infos

    def render(self):
        return self.env.render()

    def close_extras(self, **kwargs) -> None:
        self.env.close()
