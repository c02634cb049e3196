"""The SDK's part of opt-in final observations: the optional `final_observations` struct member (puffer.h)."""

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from puffer_core import ConfigError
from puffer_envs import CEnv

cartpole = pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")


def test_the_member_is_null_when_off_and_points_at_each_envs_rows_when_on():
    off = cartpole.CartPole(num_envs=3)
    assert off.final_observations is None
    assert all(off.envs[i].final_observations == off.ffi.NULL for i in range(3))
    on = cartpole.CartPole(num_envs=3, final_observations=True)
    assert on.final_observations.shape == on.observations.shape and on.final_observations.dtype == np.float32
    for i in range(3):
        address = int(on.ffi.cast("uintptr_t", on.envs[i].final_observations))
        assert address == on.final_observations[i].ctypes.data


def test_rows_are_written_only_where_an_episode_ended():
    env = cartpole.CartPole(num_envs=4, max_steps=3, final_observations=True)
    env.reset(seed=0)
    env.final_observations[:] = 7.0  # a sentinel the env must overwrite only in rows that end
    actions = np.zeros(4, np.int32)
    for _ in range(2):
        env.step(actions)
        assert (env.final_observations == 7.0).all()
    _, _, terminals, truncations, _ = env.step(actions)
    assert truncations.all()
    assert not (env.final_observations == 7.0).any()
    assert not np.array_equal(env.final_observations, env.observations)  # the last state, not the reset one


class Spin(CEnv):
    """A test header whose struct has no final_observations member."""

    header = str(Path(__file__).parent / "headers" / "spin.h")
    struct = "Spin"
    config = {"limit": 0}

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(-1, 1, (1,), np.float32), spaces.Discrete(2)


def test_an_env_without_the_member_refuses_clearly():
    with pytest.raises(ConfigError, match=r"cannot keep final observations: struct Spin .* no member "
                                          r"`float\* final_observations;`"):
        Spin(num_envs=1, final_observations=True)
