"""The conformance kit: checks any Puffer env must pass, as a test base class and a pytest plugin.

    from puffer_envs.testing import Conformance

    class TestPongConformance(Conformance):
        env = "pong"                  # a registered name, or a factory taking (num_envs=..., buffers=..., **kw)
        kwargs = {"num_envs": 8}
        soak_steps = 100_000          # random-action agent-steps in the soak test

pytest collects the inherited test_* methods. Each calls one `check_*` function of this module,
which raises `ConformanceError` (an AssertionError) saying what is wrong; the functions can be
called directly too. The soak tests are marked `soak`: `nox -s asan` runs them again on a build with
AddressSanitizer and UBSan. As a pytest plugin (entry point `pytest11`) the kit registers the
`soak` and `slow` markers and the `make_puffer_env` fixture (makes envs, closes them after the test).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import ExitStack, closing

import numpy as np
import pytest

GUARD_ROWS = 3
SENTINELS = (0xA5, 0x5A)
STEP_BUFFERS = ("observations", "rewards", "terminals", "truncations", "masks")  # what a step writes
BUFFERS = ("observations", "actions", *STEP_BUFFERS[1:])


class ConformanceError(AssertionError):
    """An env broke the Puffer env contract; the message says how."""


# -- helpers -------------------------------------------------------------------------------------------
def _spec(env):
    """A registered name's EnvSpec; anything else as it is."""
    from puffer_core.registry import get_spec

    return get_spec(env) if isinstance(env, str) else env


def factory(env) -> Callable:
    """A callable making the env from a registered name, an EnvSpec or a factory."""
    from puffer_core.registry import EnvSpec

    spec = _spec(env)
    if isinstance(spec, EnvSpec):
        return lambda **kw: spec.factory()(**{**spec.default_kwargs, **kw})
    if callable(spec):
        return spec
    raise TypeError(f"env must be a registered name, an EnvSpec or a factory, got {spec!r}")


def env_class(env):
    """The class behind a name/spec/factory, if it is one (for its `config` defaults)."""
    from puffer_core.registry import EnvSpec

    env = _spec(env)
    env = env.factory() if isinstance(env, EnvSpec) else env
    return env if inspect.isclass(env) else None


def random_actions(space, num_agents: int, rng: np.random.Generator) -> np.ndarray:
    """Valid random actions for every agent, in the actions buffer's dtype."""
    from puffer_core import buffers as buf

    bounds = buf.action_bounds(space)  # None for Box
    if bounds is not None:
        return rng.integers(bounds[0], bounds[1] + 1, (num_agents, *buf.action_shape(space))).astype(np.int32)
    low = np.where(np.isfinite(space.low), space.low, -1.0)
    high = np.where(np.isfinite(space.high), space.high, 1.0)
    return rng.uniform(low, high, (num_agents, *space.shape)).astype(np.float32)


def garbage_actions(space, num_agents: int, step: int) -> np.ndarray:
    """Out-of-range action values (what a buggy policy might write straight into the buffer)."""
    from puffer_core import buffers as buf

    shape = (num_agents, *buf.action_shape(space))
    if buf.action_dtype(space).kind == "i":
        values = np.array([np.iinfo(np.int32).min, -1, 255, 1 << 16, np.iinfo(np.int32).max], np.int32)
    else:
        values = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30], np.float32)
    return np.resize(np.roll(values, step), shape)


def _play(env, steps: int, seed: int, action_seed: int | None = None, garbage: bool = False):
    """Reset with `seed` and yield 0, then `steps` times: step random actions (drawn with `action_seed`,
    default `seed`), or with `garbage` out-of-range ones, and yield the step's number."""
    rng = np.random.default_rng(seed if action_seed is None else action_seed)
    env.reset(seed=seed)
    yield 0
    for t in range(1, steps + 1):
        space, n = env.single_action_space, env.num_agents
        env.actions[...] = garbage_actions(space, n, t) if garbage else random_actions(space, n, rng)
        env.step(env.actions)
        yield t


def _space_bounds(space):
    """Inclusive (low, high) of valid observation values, broadcast to the observation shape."""
    from gymnasium import spaces
    from puffer_core import buffers as buf

    bounds = (space.low, space.high) if isinstance(space, spaces.Box) else buf.action_bounds(space)
    if bounds is not None:
        return bounds
    raise ConformanceError(f"observation space {space} is not a flat space")


def _check_log_fields(env) -> None:
    from puffer_core import logs

    try:
        logs.check_fields(env.log_fields)
    except ValueError as e:
        raise ConformanceError(f"log_fields: {e}") from e


def check_step_outputs(env, where: str) -> None:
    """Observations inside their space, rewards finite, terminals and truncations 0/1."""
    obs = env.observations
    low, high = _space_bounds(env.single_observation_space)
    bad = ~((obs >= low) & (obs <= high))  # NaN is out of bounds too
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        lo, hi = (np.broadcast_to(bound, obs.shape[1:])[idx[1:]] for bound in (low, high))
        raise ConformanceError(f"{where}: observation {list(idx[1:])} of agent {idx[0]} is {obs[idx]}, outside the "
                               f"observation space's bounds [{lo}, {hi}] ({np.count_nonzero(bad)} values out of "
                               "bounds)")
    if not np.isfinite(env.rewards).all():
        agent = int(np.argwhere(~np.isfinite(env.rewards))[0][0])
        raise ConformanceError(f"{where}: reward of agent {agent} is {env.rewards[agent]}; rewards must be finite")
    for name in ("terminals", "truncations"):
        flags = getattr(env, name)
        if (flags > 1).any():
            agent = int(np.argwhere(flags > 1)[0][0])
            raise ConformanceError(f"{where}: {name}[{agent}] is {flags[agent]}; {name} must be 0 or 1 (uint8)")


# -- the checks ----------------------------------------------------------------------------------------
def check_spaces(make, kwargs) -> None:
    """Spaces are flat, buffers follow the dtype rules, agent counts agree, Log fields end with n."""
    from puffer_core import buffers as buf

    with closing(make(**kwargs)) as env:
        layout = buf.layout(env.single_observation_space, env.single_action_space, env.num_agents)
        for name, shape, dtype in layout:
            arr = getattr(env, name)
            if arr.shape != shape or arr.dtype != dtype:
                raise ConformanceError(f"buffer {name} is {arr.dtype}{list(arr.shape)} but the spaces need "
                                       f"{dtype}{list(shape)}")
        num_envs = kwargs.get("num_envs")
        per_env = getattr(env, "agents_per_env", None)
        if num_envs is not None and per_env is not None and env.num_agents != num_envs * per_env:
            raise ConformanceError(f"num_agents is {env.num_agents}, expected num_envs * agents_per_env = "
                                   f"{num_envs} * {per_env}")
        _check_log_fields(env)


def _rollout(env, steps: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    """Copies of the observations after reset, then of STEP_BUFFERS after each random-action step."""
    return [tuple(getattr(env, name).copy() for name in (STEP_BUFFERS if t else STEP_BUFFERS[:1]))
            for t in _play(env, steps, seed, action_seed=0)]


def check_determinism(make, kwargs, steps: int = 128, seed: int = 7) -> None:
    """Same seed and actions, two envs: identical buffers at every step and identical logs."""
    with closing(make(**kwargs)) as a, closing(make(**kwargs)) as b:
        first, second = _rollout(a, steps, seed), _rollout(b, steps, seed)
        for t, (x, y) in enumerate(zip(first, second)):
            for name, u, v in zip(STEP_BUFFERS, x, y):
                if u.tobytes() != v.tobytes():
                    agent = int(np.argwhere((u != v).reshape(len(u), -1).any(axis=1))[0][0])
                    when = "after reset" if t == 0 else f"at step {t}"
                    raise ConformanceError(f"not deterministic: two envs reset with seed={seed} and given the same "
                                           f"actions differ in {name} {when} (agent {agent}). Use only the env's "
                                           "own RNG (puffer_rand(&env->rng)), never rand() or uninitialized memory")
        log_a, log_b = a.pop_log_sums(), b.pop_log_sums()
        if log_a.tobytes() != log_b.tobytes():
            raise ConformanceError(f"not deterministic: same seed and actions, different Log sums {log_a} vs {log_b}")
        again = _rollout(a, 0, seed)[0][0]
        if again.tobytes() != first[0][0].tobytes():
            raise ConformanceError(f"reset(seed={seed}) a second time gives different observations than the first")


def check_seeds_differ(make, kwargs, steps: int = 64) -> None:
    """Different seeds give different trajectories (the seed reaches the env's RNG)."""
    with closing(make(**kwargs)) as a, closing(make(**kwargs)) as b:
        x, y = _rollout(a, steps, 1), _rollout(b, steps, 2)
        if all(u.tobytes() == v.tobytes() for fx, fy in zip(x, y) for u, v in zip(fx, fy)):
            raise ConformanceError(f"seeds 1 and 2 give identical trajectories over {steps} steps: the env ignores "
                                   "its seed (use env->rng, which puffer_vec_reset seeds)")


def check_rollout(make, kwargs, steps: int = 256, every: int = 1, seed: int = 3) -> None:
    """Random actions: observations inside their space, rewards finite, flags 0/1, Log sums finite."""
    with closing(make(**kwargs)) as env:
        for t in _play(env, steps, seed):
            if t % every == 0 or t == steps:
                check_step_outputs(env, f"step {t}" if t else "after reset")
        sums = env.pop_log_sums()
        if not np.isfinite(sums).all():
            raise ConformanceError(f"Log sums are not finite: {dict(zip(env.log_fields, sums))}")


def _guarded(make, kwargs):
    """The env built on rows [GUARD_ROWS, GUARD_ROWS + n) of a bigger allocation whose every byte starts
    as a sentinel; returns (env, big buffers, n)."""
    from puffer_core import buffers as buf

    with closing(make(**kwargs)) as probe:
        obs_space, act_space, n = probe.single_observation_space, probe.single_action_space, probe.num_agents
    big = buf.allocate(obs_space, act_space, n + 2 * GUARD_ROWS)
    for name in BUFFERS:
        getattr(big, name).view(np.uint8)[...] = SENTINELS[0]
    mine = big[GUARD_ROWS:GUARD_ROWS + n]
    mine.masks[...] = 1
    mine.actions[...] = 0
    env = make(**{**kwargs, "buffers": mine})
    return env, big, n


def _check_guards(big, n: int, when: str) -> None:
    for name in BUFFERS:
        arr = getattr(big, name)
        for side, rows in (("before", slice(0, GUARD_ROWS)), ("after", slice(GUARD_ROWS + n, None))):
            raw = arr[rows].view(np.uint8).reshape(-1)
            if (raw != SENTINELS[0]).any():
                first = int(np.argwhere(raw != SENTINELS[0])[0][0]) // arr.itemsize
                per_row = max(1, arr[0].size)
                row = first // per_row
                pos = f"{GUARD_ROWS - row} rows before its first row" if side == "before" else \
                    f"{row} rows after its last row (element {first % per_row} of that row)"
                raise ConformanceError(f"{when}: the env wrote {name} outside its own rows, {pos}. With "
                                       f"{n} agents its rows are 0..{n - 1}: check the C indexing and that the "
                                       "observation size in C equals the space's")


def check_no_writes_outside_rows(make, kwargs, steps: int = 64, seed: int = 5) -> None:
    """Built on a slice of bigger buffers, the env never touches the rows around its own."""
    env, big, n = _guarded(make, kwargs)
    with closing(env):
        _check_guards(big, n, "during construction")
        for t in _play(env, steps, seed):
            _check_guards(big, n, f"step {t}" if t else "reset()")


def check_garbage_actions(make, kwargs, steps: int = 64) -> None:
    """Out-of-range values written straight into the actions buffer (bypassing validation) must not make
    the env write outside its rows (run under ASan by `nox -s asan`, this also catches reads)."""
    env, big, n = _guarded(make, kwargs)
    with closing(env):
        for t in _play(env, steps, 0, garbage=True):
            if t:
                _check_guards(big, n, f"step {t} with out-of-range actions")


def check_observations_written(make, kwargs, seed: int = 11) -> None:
    """reset() writes every observation element of every agent (else the policy sees stale memory)."""
    with closing(make(**kwargs)) as env:
        untouched = None
        for sentinel in SENTINELS:
            env.observations.view(np.uint8)[...] = sentinel
            env.reset(seed=seed)
            raw = env.observations.view(np.uint8)
            same = (raw == sentinel).reshape(env.num_agents, -1, env.observations.itemsize).all(axis=2)
            untouched = same if untouched is None else untouched & same
        if untouched.any():
            agent = int(np.argwhere(untouched.any(axis=1))[0][0])
            elements = np.flatnonzero(untouched[agent])
            shown = ", ".join(map(str, elements[:8])) + (", ..." if len(elements) > 8 else "")
            raise ConformanceError(f"reset() never wrote observation elements [{shown}] of agent {agent} (of "
                                   f"{untouched.shape[1]} per agent): does the C code write fewer values than the "
                                   "observation space holds?")


def check_log_abi(make, kwargs, steps: int = 512, seed: int = 13) -> None:
    """Log fields end with n; sums are finite; n counts the episodes that ended; popping zeroes the Log."""
    with closing(make(**kwargs)) as env:
        _check_log_fields(env)
        played = _play(env, steps, seed)
        next(played)  # reset; what it logged does not count
        env.pop_log_sums()
        ended = sum(int(np.count_nonzero(env.terminals | env.truncations)) for _ in played)
        sums = env.pop_log_sums()
        if len(sums) != len(env.log_fields):
            raise ConformanceError(f"pop_log_sums() returned {len(sums)} values for {len(env.log_fields)} Log fields")
        if not np.isfinite(sums).all():
            raise ConformanceError(f"Log sums are not finite: {dict(zip(env.log_fields, sums))}")
        n = sums[-1]
        if getattr(env, "agents_per_env", 1) == 1 and n != ended:
            raise ConformanceError(f"Log n is {n:g} but {ended} episodes ended (terminal or truncated) in {steps} "
                                   "steps: add 1 to log.n exactly once per finished episode")
        if n > ended or (ended > 0) != (n > 0):
            raise ConformanceError(f"Log n is {n:g} but {ended} agent episodes ended")
        if env.pop_log_sums().any():
            raise ConformanceError("pop_log_sums() did not zero the Log: a second call returned non-zero sums")


def check_bad_kwargs(make, kwargs, env=None) -> None:
    """An unknown kwarg, and a wrong-typed value for each config field, raise ConfigError naming it."""
    from puffer_core.errors import ConfigError

    cases = [("definitely_not_a_kwarg", 1)]
    cases += [(key, 0.5 if isinstance(default, (int, np.integer)) else "not a number")  # bools are ints too
              for key, default in getattr(env_class(env), "config", {}).items()]
    for key, value in cases:
        try:
            made = make(**{**kwargs, key: value})
        except ConfigError as e:
            if key not in str(e):
                raise ConformanceError(f"the ConfigError for {key}={value!r} does not name {key!r}: {e}") from e
            continue
        except Exception as e:
            raise ConformanceError(f"{key}={value!r} raised {type(e).__name__} ({e}), expected puffer_core."
                                   "ConfigError with a message naming the kwarg") from e
        made.close()
        raise ConformanceError(f"making the env with {key}={value!r} raised no error: unknown or ill-typed kwargs "
                               "must raise puffer_core.ConfigError")


def check_bad_actions(make, kwargs) -> None:
    """Wrong dtype, wrong shape and out-of-range actions raise ActionError and leave the buffers alone."""
    from gymnasium import spaces
    from puffer_core import buffers as buf
    from puffer_core.errors import ActionError

    with closing(make(**kwargs)) as env:
        env.reset(seed=0)
        space, n = env.single_action_space, env.num_agents
        good = random_actions(space, n, np.random.default_rng(0))
        cases = {"wrong shape": np.concatenate([good, good[:1]])}
        if isinstance(space, spaces.Box):
            cases["wrong dtype (int for Box)"] = np.zeros(good.shape, np.int32)
            cases["NaN"] = np.full(good.shape, np.nan, np.float32)
        else:
            low, high = buf.action_bounds(space)
            cases["wrong dtype (float for integer actions)"] = good.astype(np.float32)
            cases["out of range (too high)"] = np.broadcast_to(high + 1, good.shape).astype(np.int64)
            cases["out of range (too low)"] = np.broadcast_to(low - 1, good.shape).astype(np.int64)
        before = env.observations.copy()
        for what, actions in cases.items():
            try:
                env.step(actions)
            except ActionError:
                pass
            except Exception as e:
                raise ConformanceError(f"actions with {what} raised {type(e).__name__} ({e}), expected puffer_core."
                                       "ActionError") from e
            else:
                raise ConformanceError(f"actions with {what} were accepted: env.step must raise ActionError")
            if env.observations.tobytes() != before.tobytes():
                raise ConformanceError(f"a rejected step (actions with {what}) still changed the observations")


def check_close(make, kwargs) -> None:
    """close() twice is fine; stepping a closed C env is a clear PufferError, not a crash."""
    from puffer_core.errors import PufferError

    env = make(**kwargs)
    env.reset(seed=0)
    env.close()
    env.close()
    if hasattr(env, "lib"):
        try:
            env.step(env.actions)
        except PufferError:
            return
        raise ConformanceError("step() on a closed env did not raise: it would run C code on freed state")


def check_final_observations(make, kwargs, steps: int = 128, seed: int = 19, longer: dict | None = None,
                             min_ends: int = 1) -> None:
    """With final observations on, every step's buffers equal those of the same env with them off; exactly the
    rows whose episode ended get a final observation, written whole (two envs prefilled with different
    sentinels agree on it) and inside the observation space; and the episode that ends is the one played.
    `longer`: kwargs under which the same episodes are truncated later (e.g. {"max_steps": 10_000}); then a row
    truncated in its first episode must hold exactly the longer env's observation of that step. At least
    `min_ends` agent episodes must end (and, with `longer`, one be truncated) for the check to mean anything."""
    with ExitStack() as stack:
        on = [stack.enter_context(closing(make(**{**kwargs, "final_observations": True}))) for _ in SENTINELS]
        off = stack.enter_context(closing(make(**kwargs)))
        long = stack.enter_context(closing(make(**{**kwargs, **longer}))) if longer else None
        envs = [*on, off] + ([long] if long else [])
        rng = np.random.default_rng(seed)
        for env in envs:
            env.reset(seed=seed)
        first = np.ones(off.num_agents, bool)  # rows still in their first episode
        ends = truncations = 0
        for t in range(1, steps + 1):
            actions = random_actions(off.single_action_space, off.num_agents, rng)
            for env, sentinel in zip(on, SENTINELS):
                env.final_observations.view(np.uint8)[...] = sentinel
            for env in envs:
                env.actions[...] = actions
                env.step(env.actions)
            for env in on:
                for name in STEP_BUFFERS:
                    if getattr(env, name).tobytes() != getattr(off, name).tobytes():
                        raise ConformanceError(f"step {t}: {name} differ with final observations on and off")
            ended = (off.terminals | off.truncations).astype(bool)
            ends += int(ended.sum())
            a, b = (env.final_observations.view(np.uint8).reshape(off.num_agents, -1) for env in on)
            if (a[~ended] != SENTINELS[0]).any() or (b[~ended] != SENTINELS[1]).any():
                agent = int(np.argwhere(~ended & ((a != SENTINELS[0]).any(1) | (b != SENTINELS[1]).any(1)))[0][0])
                raise ConformanceError(f"step {t}: final observation of agent {agent} written though its episode "
                                       "did not end")
            if (a[ended] != b[ended]).any():
                agent = int(np.argwhere(ended & (a != b).any(1))[0][0])
                raise ConformanceError(f"step {t}: the final observation of agent {agent} is not written whole")
            finals = on[0].final_observations[ended]
            low, high = _space_bounds(off.single_observation_space)
            if not ((finals >= low) & (finals <= high)).all():
                raise ConformanceError(f"step {t}: a final observation is outside the observation space")
            if long is not None:
                truncated = first & off.truncations.astype(bool)
                truncations += int(truncated.sum())
                if (on[0].final_observations[truncated] != long.observations[truncated]).any():
                    agent = int(np.argwhere(truncated)[0][0])
                    raise ConformanceError(f"step {t}: agent {agent} was truncated, but its final observation is "
                                           "not the observation the same episode shows when it goes on")
                first &= ~ended
                if (off.observations[first] != long.observations[first]).any():
                    raise ConformanceError(f"step {t}: the envs with {longer} play other episodes before any "
                                           "truncation: `longer` must only move the time limit")
        if ends < min_ends or (longer and min_ends and not truncations):
            raise ConformanceError(f"only {ends} episodes ({truncations} truncated) ended in {steps} steps: give the "
                                   "check more steps or shorter episodes")


def check_nan_action_means_zero(make, kwargs, steps: int = 32, seed: int = 23) -> None:
    """A NaN written straight into a continuous actions buffer acts as 0 (puffer.h): stepped with NaN and with
    0, two envs reset with the same seed stay identical."""
    with closing(make(**kwargs)) as nan, closing(make(**kwargs)) as zero:
        for env in (nan, zero):
            env.reset(seed=seed)
        nan.actions[...] = np.nan
        zero.actions[...] = 0.0
        for t in range(1, steps + 1):
            nan.step(nan.actions)
            zero.step(zero.actions)
            for name in STEP_BUFFERS:
                if getattr(nan, name).tobytes() != getattr(zero, name).tobytes():
                    raise ConformanceError(f"step {t}: {name} differ between NaN and 0 actions; a NaN in a continuous "
                                           "action must mean 0 (read actions with puffer_action, puffer.h)")


def check_soak(make, kwargs, agent_steps: int, seed: int = 17) -> None:
    """Many random-action steps, checking outputs every 16 steps and the Log at the end."""
    with closing(make(**kwargs)) as env:
        steps = max(1, -(-agent_steps // env.num_agents))
    check_rollout(make, kwargs, steps=steps, every=16, seed=seed)


# -- the test base class -------------------------------------------------------------------------------
class Conformance:
    """Subclass as `Test<Name>Conformance` and set `env`; pytest runs every check on it."""

    env = None
    kwargs: dict = {"num_envs": 8}
    soak_steps = 100_000
    steps = 256
    seeds_matter = True  # False for an env without any randomness (then different seeds may agree)
    longer_episodes: dict | None = None  # kwargs that only move the time limit later (check_final_observations)

    def _factory(self):
        if self.env is None:
            pytest.fail(f"{type(self).__name__} must set `env` (a registered name or a factory)")
        return factory(self.env)

    def test_spaces(self):
        check_spaces(self._factory(), self.kwargs)

    def test_determinism(self):
        check_determinism(self._factory(), self.kwargs, steps=min(self.steps, 128))

    def test_seeds_differ(self):
        if not self.seeds_matter:
            pytest.skip("seeds_matter = False")
        check_seeds_differ(self._factory(), self.kwargs)

    def test_observations_in_bounds(self):
        check_rollout(self._factory(), self.kwargs, steps=self.steps)

    def test_observations_written(self):
        check_observations_written(self._factory(), self.kwargs)

    def test_no_writes_outside_rows(self):
        check_no_writes_outside_rows(self._factory(), self.kwargs, steps=min(self.steps, 64))

    def test_log_abi(self):
        check_log_abi(self._factory(), self.kwargs, steps=self.steps * 2)

    def test_bad_kwargs(self):
        check_bad_kwargs(self._factory(), self.kwargs, env=self.env)

    def test_bad_actions(self):
        check_bad_actions(self._factory(), self.kwargs)

    def test_close(self):
        check_close(self._factory(), self.kwargs)

    def test_final_observations(self):
        from .cenv import CEnv

        cls = env_class(self.env)
        if not (inspect.isclass(cls) and issubclass(cls, CEnv)):
            pytest.skip("final observations are the SDK's for C envs; Python envs write their own")
        check_final_observations(self._factory(), self.kwargs, steps=self.steps, longer=self.longer_episodes,
                                 min_ends=0)

    @pytest.mark.soak
    def test_garbage_actions(self):
        check_garbage_actions(self._factory(), self.kwargs)

    @pytest.mark.soak
    def test_soak(self):
        check_soak(self._factory(), self.kwargs, self.soak_steps)


# -- the pytest plugin ---------------------------------------------------------------------------------
def pytest_configure(config):
    config.addinivalue_line("markers", "soak: long random-action runs, also run under the sanitizer build")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session")
def puffer_display():
    """An X display for rendering tests: the session's own when DISPLAY is set, else one Xvfb
    started for the whole test run (nox installs Xvfb). Skips only when Xvfb is missing."""
    import os

    pytest.importorskip("pyray")
    from . import render

    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    try:
        with render.virtual_display() as name:
            yield name
    except FileNotFoundError:
        pytest.skip("Xvfb is not installed (nox installs it: apt-get install xvfb)")


@pytest.fixture
def make_puffer_env():
    """`make_puffer_env("pong", num_envs=8)` (or a factory): the env, closed after the test."""
    with ExitStack() as made:
        yield lambda env, **kwargs: made.enter_context(closing(factory(env)(**kwargs)))
