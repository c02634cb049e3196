"""Opt-in final observations: the true last observation of each finished episode, in every backend, as
Gymnasium's SAME_STEP vector envs give it (infos["final_obs"] / infos["_final_obs"])."""

import gymnasium
import numpy as np
import puffer_core
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from puffer_core import ConfigError
from puffer_core.emulation import GymnasiumPufferEnv, VectorEnvAdapter, make_gymnasium

MAX_STEPS = 9  # short episodes: many truncations (and terminations) in a short run
NUM_ENVS = 4


def gym_cartpole():
    return gymnasium.make("CartPole-v1", max_episode_steps=MAX_STEPS)


def puffer_vector(backend: str, **kwargs):
    extra = {} if backend == "serial" else {"num_workers": 2}
    return puffer_core.vector.make(make_gymnasium, backend=backend, num_env_objects=NUM_ENVS, final_observations=True,
                                   env_kwargs={"env_id": "CartPole-v1", "max_episode_steps": MAX_STEPS},
                                   **extra, **kwargs)


@pytest.mark.parametrize("backend", ["serial", "multiprocessing"])
def test_emulated_cartpole_final_obs_match_gymnasium_same_step(backend):
    reference = SyncVectorEnv([gym_cartpole] * NUM_ENVS, autoreset_mode=AutoresetMode.SAME_STEP)
    adapter = VectorEnvAdapter(puffer_vector(backend))
    try:
        want, _ = reference.reset(seed=11)
        got, _ = adapter.reset(seed=11)
        np.testing.assert_array_equal(got, want)
        rng = np.random.default_rng(0)
        truncated_rows = terminated_rows = 0
        for _ in range(60):
            actions = (rng.random(NUM_ENVS) < 0.85).astype(np.int64)  # mostly one way: some poles fall
            want = reference.step(actions)
            got = adapter.step(actions)
            for w, g in zip(want[:4], got[:4]):
                np.testing.assert_array_equal(g, w)
            ended = want[2] | want[3]
            assert ("final_obs" in got[4]) == bool(ended.any())
            if ended.any():
                np.testing.assert_array_equal(got[4]["_final_obs"], want[4]["_final_obs"])
                for i in range(NUM_ENVS):
                    if ended[i]:
                        np.testing.assert_array_equal(got[4]["final_obs"][i], want[4]["final_obs"][i])
                        assert not np.array_equal(got[4]["final_obs"][i], got[0][i])  # not the reset obs
                    else:
                        assert got[4]["final_obs"][i] is None
            truncated_rows += int((want[3] & ~want[2]).sum())
            terminated_rows += int(want[2].sum())
        assert truncated_rows > 10 and terminated_rows > 0  # the run exercised both kinds of ending
    finally:
        adapter.close()
        reference.close()


def one_step_of_gymnasium(state: np.ndarray, action: int) -> np.ndarray:
    """Gymnasium CartPole's next observation from `state` (the truth the C env's final obs must match)."""
    env = gymnasium.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    env.state = state.astype(np.float64)
    obs, *_ = env.step(int(action))
    return obs


@pytest.mark.parametrize("backend", ["serial", "threads", "multiprocessing"])
def test_c_cartpole_final_obs_are_the_last_state(backend):
    """The threads backend takes GIL-free envs only, so here the C cartpole: each final observation
    must be Gymnasium's next state from the previous observation and action."""
    pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")
    extra = {} if backend == "serial" else {"num_workers": 2}
    vec = puffer_core.vector.make("cartpole", backend=backend, num_env_objects=2, seed=5, final_observations=True,
                                  env_kwargs={"num_envs": 3, "max_steps": MAX_STEPS}, **extra)
    try:
        obs, _ = vec.reset()
        rng = np.random.default_rng(1)
        checked = truncations = 0
        for _ in range(40):
            previous = obs.copy()
            actions = rng.integers(0, 2, vec.num_agents).astype(np.int32)
            obs, _, terminals, truncs, _ = vec.step(actions)
            for i in np.flatnonzero(terminals | truncs):
                np.testing.assert_allclose(vec.final_observations[i], one_step_of_gymnasium(previous[i], actions[i]),
                                           rtol=1e-5, atol=1e-5)
                checked += 1
            truncations += int(truncs.sum())
        assert checked > 10 and truncations > 0
    finally:
        vec.close()


def test_off_by_default_and_no_final_obs_infos():
    env = GymnasiumPufferEnv(gym_cartpole)
    assert env.final_observations is None and env.buffers.final_observations is None
    adapter = VectorEnvAdapter(env)
    adapter.reset(seed=0)
    for _ in range(MAX_STEPS):
        *_, infos = adapter.step(np.zeros(1, np.int64))
    assert "final_obs" not in infos
    adapter.close()


def test_envs_that_cannot_keep_them_refuse(numpy_cartpole):
    with pytest.raises(ConfigError, match="does not keep final observations"):
        # a Python env whose _step does not write them is refused them rather than left with a stale buffer
        puffer_core.vector.make(numpy_cartpole.NumpyCartPole, num_env_objects=2, final_observations=True)
    with pytest.raises(ConfigError, match="final_observations=True"):
        # asked in env_kwargs instead of the backend: the env gets buffers without that buffer
        puffer_core.vector.make(make_gymnasium, num_env_objects=2, env_kwargs={"env_id": "CartPole-v1",
                                                                        "final_observations": True})

