"""The buffer protocol, action validation, the log ABI and the serial backend."""

import numpy as np
import puffer_core
import pytest
from gymnasium import spaces
from puffer_core import buffers as buf
from puffer_core.logs import LogAccumulator, summarize


def test_buffers_follow_dtype_rules():
    b = buf.allocate(spaces.Box(0, 255, (3, 5), np.uint8), spaces.MultiDiscrete([3, 4]), 7)
    assert b.observations.shape == (7, 3, 5) and b.observations.dtype == np.uint8
    assert b.actions.shape == (7, 2) and b.actions.dtype == np.int32
    assert b.rewards.dtype == np.float32 and b.terminals.dtype == np.uint8
    assert b.truncations.dtype == np.uint8 and b.masks.dtype == np.uint8 and b.masks.all()
    assert b.observations.ctypes.data % 64 == 0
    assert buf.allocate(spaces.Box(-1, 1, (2,)), spaces.Box(-1, 1, (3,)), 4).actions.dtype == np.float32


def test_buffer_slices_are_views():
    b = buf.allocate(spaces.Box(-1, 1, (2,)), spaces.Discrete(2), 8)
    b[2:4].rewards[:] = 5
    assert b.rewards.tolist() == [0, 0, 5, 5, 0, 0, 0, 0]


def test_rejects_float64_observation_space():
    with pytest.raises(puffer_core.SpaceError, match="float64"):
        buf.allocate(spaces.Box(-1, 1, (2,), np.float64), spaces.Discrete(2), 1)


def test_given_buffers_are_checked(numpy_cartpole):
    wrong = buf.allocate(spaces.Box(-1, 1, (5,)), spaces.Discrete(2), 3)
    with pytest.raises(puffer_core.SpaceError, match="observations"):
        numpy_cartpole.NumpyCartPole(num_envs=3, buffers=wrong)


@pytest.mark.parametrize("actions, message", [
    (np.zeros(4, np.float32), "dtype float32"),
    (np.zeros(5, np.int32), "shape"),
    (np.array([0, 1, 2, 0], np.int32), "outside"),
    (np.array([0, -1, 0, 0]), "outside"),
    (np.array([0, 0, 0, -128], np.int8), "outside"),  # negatives of every width, not only int64
    (np.array([0, 2**40, 0, 0], np.int64), "outside"),
    (np.array([0, 2**64 - 1, 0, 0], np.uint64), "outside"),
])
def test_bad_actions_are_clear_errors(numpy_cartpole, actions, message):
    env = numpy_cartpole.NumpyCartPole(num_envs=4)
    env.reset(seed=0)
    before = env.observations.copy()
    with pytest.raises(puffer_core.ActionError, match=message):
        env.step(actions)
    assert np.array_equal(env.observations, before), "a rejected step must not change the env"


def test_nan_box_action_is_rejected():
    from puffer_core.buffers import check_actions

    with pytest.raises(puffer_core.ActionError, match="NaN"):
        check_actions(np.array([[0.0], [np.nan]], np.float32), spaces.Box(-1, 1, (1,)), 2)


def test_log_abi_is_episode_weighted():
    # Worker A finished 1 episode of return 10, worker B 3 episodes of return 2 each:
    # the mean over episodes is (10 + 6) / 4 = 4, not the mean of means (10 + 2) / 2 = 6.
    a, b = LogAccumulator(("episode_return", "n")), LogAccumulator(("episode_return", "n"))
    a.add(1, episode_return=10.0)
    b.add(3, episode_return=[2.0, 2.0, 2.0])
    assert summarize(a.fields, a.pop() + b.pop()) == {"episode_return": 4.0, "n": 4.0}
    assert summarize(a.fields, a.pop()) == {}


def test_log_fields_must_end_with_n():
    with pytest.raises(ValueError, match="last field"):
        LogAccumulator(("n", "episode_return"))


def test_serial_backend_matches_single_envs(numpy_cartpole):
    vec = puffer_core.vector.make(numpy_cartpole.NumpyCartPole, num_env_objects=3, env_kwargs={"num_envs": 2}, seed=7)
    singles = [numpy_cartpole.NumpyCartPole(num_envs=2) for _ in range(3)]
    vec.reset()
    for i, env in enumerate(singles):
        env.reset(seed=7 + i)
    rng = np.random.default_rng(0)
    for _ in range(300):
        actions = rng.integers(0, 2, 6).astype(np.int32)
        vec.step(actions)
        for i, env in enumerate(singles):
            env.step(actions[2 * i:2 * i + 2])
        assert np.array_equal(vec.observations, np.concatenate([e.observations for e in singles]))
        assert np.array_equal(vec.terminals, np.concatenate([e.terminals for e in singles]))
    stats = vec.log()
    assert stats["n"] > 0 and 8 < stats["episode_length"] < 100


def test_unknown_backend_suggests(numpy_cartpole):
    with pytest.raises(puffer_core.ConfigError, match="multiprocessing"):
        puffer_core.vector.make(numpy_cartpole.NumpyCartPole, backend="multiprocesing")
