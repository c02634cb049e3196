"""What the threads and multiprocessing tests both check: a backend gives exactly serial's trajectories."""

import numpy as np
import puffer_core
import pytest


def assert_same_step(a, b):
    """Observations, rewards, terminals and truncations of two step() results are equal."""
    for x, y in zip(a[:4], b[:4]):
        np.testing.assert_array_equal(x, y)


def assert_c_cartpole_matches_serial(backend: str, num_workers: int, steps: int = 300) -> None:
    """The C cartpole plugin (4 env objects x 16 agents) through `backend`: serial's observations,
    rewards, terminals, truncations and episode logs."""
    pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")
    serial = puffer_core.vector.make("cartpole", num_env_objects=4, env_kwargs={"num_envs": 16}, seed=3)
    with puffer_core.vector.make("cartpole", backend=backend, num_env_objects=4, num_workers=num_workers,
                                 env_kwargs={"num_envs": 16}, seed=3) as vec:
        np.testing.assert_array_equal(vec.reset()[0], serial.reset()[0])
        rng = np.random.default_rng(0)
        for _ in range(steps):
            actions = rng.integers(0, 2, 64)
            assert_same_step(vec.step(actions), serial.step(actions))
        logs = vec.log()
        assert logs == serial.log() and logs["n"] > 50


def check_async_batches(vec, make_ref, seed: int, per_env: int, rounds: int = 16) -> tuple[bool, set]:
    """EnvPool-style batches of `vec` (env objects of `per_env` agents, async-reset with `seed`): every
    batch's rows equal a lone env per env object (`make_ref(num_envs=per_env)`, seeded seed + i) stepped
    with the same actions, whatever order the batches come back in. Returns (whether some batch was a
    gathered copy rather than a view of the buffers, the set of env-object batches seen)."""
    refs = [make_ref(num_envs=per_env) for _ in range(vec.num_env_objects)]
    for i, env in enumerate(refs):
        env.reset(seed + i)
    rngs = [np.random.default_rng(100 + i) for i in range(vec.num_env_objects)]
    gathered, batches = False, set()
    vec.async_reset(seed)
    for _ in range(rounds):
        obs, rewards, terminals, truncations, infos, ids, masks = vec.recv()
        np.testing.assert_array_equal(obs, vec.observations[ids])
        assert masks.all()
        envs = ids[::per_env] // per_env
        np.testing.assert_array_equal(ids, np.concatenate([np.arange(e * per_env, (e + 1) * per_env) for e in envs]))
        gathered |= not np.shares_memory(obs, vec.observations)
        batches.add(tuple(envs))
        actions = []
        for j, e in enumerate(envs):
            rows = slice(j * per_env, (j + 1) * per_env)
            np.testing.assert_array_equal(obs[rows], refs[e].observations)
            np.testing.assert_array_equal(rewards[rows], refs[e].rewards)
            np.testing.assert_array_equal(terminals[rows], refs[e].terminals)
            actions.append(rngs[e].integers(0, 2, per_env))
            refs[e].step(actions[-1])
        vec.send(np.concatenate(actions))
    return gathered, batches
