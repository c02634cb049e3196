"""The conformance kit plus the game's own rules."""

import numpy as np
import puffer_core
import pytest
from puffer_envs.testing import Conformance


class Test{{ cookiecutter.class_name }}Conformance(Conformance):
    env = "{{ cookiecutter.name }}"
    kwargs = {"num_envs": 8}
    soak_steps = 100_000


def make(**kwargs):
    env = puffer_core.make("{{ cookiecutter.name }}", **{"num_envs": 1, **kwargs})
    env.reset(seed=0)
    return env


def put(env, agent, target):
    e = env.envs[0]
    e.agent_x, e.agent_y = agent
    e.target_x, e.target_y = target


def test_walking_onto_the_target_pays_and_resets():
    env = make()
    put(env, (2, 3), (3, 3))
    env.step(np.array([4], np.int32))  # right
    assert env.rewards[0] == 1 and env.terminals[0] == 1
    assert env.log()["score"] == 1.0
    planes = env.observations[0].reshape(2, 8, 8)
    assert planes[0].sum() == 1 and planes[1].sum() == 1, "the new episode's observation"


def test_walls_stop_the_agent():
    env = make()
    put(env, (0, 0), (5, 5))
    env.step(np.array([1], np.int32))  # up, into the wall
    e = env.envs[0]
    assert (e.agent_x, e.agent_y) == (0, 0) and env.rewards[0] == 0


def test_truncates_after_max_steps():
    env = make(max_steps=3)
    put(env, (0, 0), (7, 7))
    for _ in range(3):
        env.step(np.array([0], np.int32))  # stay
    assert env.truncations[0] == 1 and env.terminals[0] == 0
    assert env.log() == {"episode_return": 0.0, "episode_length": 3.0, "score": 0.0, "n": 1.0}


def test_size_is_validated():
    with pytest.raises(puffer_core.ConfigError, match="size"):
        make(size=1)
