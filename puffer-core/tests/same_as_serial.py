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
    serial = puffer_core.vector.make("cartpole", num_envs=4, env_kwargs={"num_envs": 16}, seed=3)
    with puffer_core.vector.make("cartpole", backend=backend, num_envs=4, num_workers=num_workers,
                                 env_kwargs={"num_envs": 16}, seed=3) as vec:
        np.testing.assert_array_equal(vec.reset()[0], serial.reset()[0])
        rng = np.random.default_rng(0)
        for _ in range(steps):
            actions = rng.integers(0, 2, 64)
            assert_same_step(vec.step(actions), serial.step(actions))
        logs = vec.log()
        assert logs == serial.log() and logs["n"] > 50
