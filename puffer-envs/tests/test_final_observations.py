"""The SDK's part of opt-in final observations: its step loop copies the observation rows of each env
whose episode ended before it resets it, so an env header has no final-observation code (puffer.h)."""

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from puffer_envs import CEnv

cartpole = pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")


def test_rows_are_written_only_where_an_episode_ended():
    env = cartpole.CartPole(num_envs=4, max_steps=3, final_observations=True)
    env.reset(seed=0)
    env.final_observations[:] = 7.0  # a sentinel the SDK must overwrite only in rows that end
    actions = np.zeros(4, np.int32)
    for _ in range(2):
        env.step(actions)
        assert (env.final_observations == 7.0).all()
    last = env.observations.copy()
    _, _, terminals, truncations, _ = env.step(actions)
    assert truncations.all()
    assert not (env.final_observations == 7.0).any()
    assert not np.array_equal(env.final_observations, env.observations)  # the last state, not the reset one
    # one more step of pushing left from the last observation: the cart moved left
    assert (env.final_observations[:, 0] < last[:, 0]).all()


class Spin(CEnv):
    """A test header with no final-observation code at all (and no episode end)."""

    header = str(Path(__file__).parent / "headers" / "spin.h")
    struct = "Spin"
    config = {"limit": 0}

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(-1, 1, (1,), np.float32), spaces.Discrete(2)


def test_every_c_env_keeps_final_observations():
    env = Spin(num_envs=2, final_observations=True)
    env.reset(seed=0)
    env.final_observations[:] = 7.0
    env.step(np.zeros(2, np.int32))
    assert (env.final_observations == 7.0).all()  # no episode ended
