"""CartPole in C against Gymnasium CartPole-v1, plus the conformance kit."""

import contextlib
import os
import shutil

import numpy as np
import puffer_core
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from puffer_envs.testing import Conformance, check_nan_action_means_zero, factory
from puffer_envs_cartpole import THETA_THRESHOLD, X_THRESHOLD, CartPole

N = 2000


def random_states(rng, n):
    """States across the whole live region, float32 (what the C env stores)."""
    high = np.array([X_THRESHOLD, 3.0, THETA_THRESHOLD, 3.5])
    return rng.uniform(-high, high, (n, 4)).astype(np.float32)


def set_states(env, states, ticks=0):
    for i, (x, x_dot, theta, theta_dot) in enumerate(states.tolist()):
        e = env.envs[i]
        e.x, e.x_dot, e.theta, e.theta_dot, e.tick = x, x_dot, theta, theta_dot, ticks


def gym_step(state, action, force_mag=10.0):
    gym = CartPoleEnv()
    gym.reset(seed=0)
    gym.force_mag = force_mag
    gym.state = np.asarray(state, np.float64)
    obs, reward, terminated, truncated, _ = gym.step(action)
    return obs, reward, terminated


def near_threshold(obs):
    """States within float32 rounding of a termination threshold may legitimately disagree."""
    return (np.abs(np.abs(obs[:, 0]) - X_THRESHOLD) < 1e-5) | (np.abs(np.abs(obs[:, 2]) - THETA_THRESHOLD) < 1e-6)


def compare(env, expected_obs, expected_rewards, expected_terminated):
    live = ~expected_terminated  # a terminated C env has already auto-reset its observation
    np.testing.assert_allclose(env.observations[live], expected_obs[live], rtol=1e-5, atol=2e-6)
    assert (env.rewards == expected_rewards).all()
    agree = env.terminals.astype(bool) == expected_terminated
    assert (agree | near_threshold(expected_obs)).all(), np.argwhere(~agree)
    assert expected_terminated.mean() > 0.05, "the sample should include many terminal transitions"


def test_one_step_matches_gymnasium():
    rng = np.random.default_rng(0)
    env = CartPole(num_envs=N)
    env.reset(seed=0)
    states = random_states(rng, N)
    actions = rng.integers(0, 2, N).astype(np.int32)
    set_states(env, states)
    env.step(actions)
    results = [gym_step(s, int(a)) for s, a in zip(states, actions)]
    compare(env, np.array([r[0] for r in results]), np.array([r[1] for r in results], np.float32),
            np.array([r[2] for r in results]))
    assert not env.truncations.any()


def test_trajectory_matches_gymnasium_step_by_step():
    """One env, one whole episode: Gymnasium and C side by side, the C state resynced from Gymnasium's
    after every step (float32 rounding must not accumulate into a different episode)."""
    env = CartPole(num_envs=1)
    env.reset(seed=0)
    gym = CartPoleEnv()
    obs, _ = gym.reset(seed=3)
    rng = np.random.default_rng(1)
    for t in range(1, 501):
        set_states(env, obs[None], ticks=t - 1)
        action = int(obs[2] + 0.3 * obs[3] > 0) if rng.random() < 0.9 else int(rng.integers(2))
        env.step(np.array([action], np.int32))
        obs, reward, terminated, truncated, _ = gym.step(action)
        assert env.rewards[0] == reward
        assert bool(env.terminals[0]) == terminated
        assert bool(env.truncations[0]) == (t == 500)  # Gymnasium's TimeLimit(500)
        if terminated or t == 500:
            break
        np.testing.assert_allclose(env.observations[0], obs, rtol=1e-5, atol=2e-6)
    assert t > 50, "the scripted policy should balance for a while"


def test_continuous_force_scales_with_the_action():
    rng = np.random.default_rng(2)
    env = CartPole(num_envs=500, continuous=True)
    assert env.single_action_space.shape == (1,)
    env.reset(seed=0)
    states = random_states(rng, 500)
    actions = rng.uniform(-1, 1, (500, 1)).astype(np.float32)
    actions[:10] = [[3.0]] * 5 + [[-7.0]] * 5  # written straight into the buffer: clipped to [-1, 1]
    env.actions[:] = actions
    set_states(env, states)
    env.step(env.actions)
    clipped = np.clip(actions[:, 0], -1, 1)
    results = [gym_step(s, 1, force_mag=10.0 * float(np.float32(a))) for s, a in zip(states, clipped)]
    compare(env, np.array([r[0] for r in results]), np.ones(500, np.float32), np.array([r[2] for r in results]))


def test_reset_state_and_truncation_at_500():
    env = CartPole(num_envs=1000)
    obs, _ = env.reset(seed=5)
    assert (np.abs(obs) <= 0.05).all() and obs.std() > 0.02
    set_states(env, np.zeros((1000, 4), np.float32), ticks=499)
    env.step(np.zeros(1000, np.int32))
    assert env.truncations.all() and not env.terminals.any()
    assert (np.abs(env.observations) <= 0.05).all(), "truncated episodes auto-reset"
    assert env.log() == {"episode_return": 500.0, "episode_length": 500.0, "n": 1000.0}


def test_episode_stats_of_a_random_policy():
    env = puffer_core.make("cartpole", num_envs=256)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(500):
        env.step(rng.integers(0, 2, 256).astype(np.int32))
    stats = env.log()
    assert 18 < stats["episode_length"] < 28, stats  # a random policy lasts about 22 steps
    assert stats["episode_return"] == stats["episode_length"]


def test_registered_with_its_training_config():
    spec = puffer_core.get_spec("cartpole")
    assert spec.distribution == "puffer-envs-cartpole"
    assert spec.training_config()["env"]["num_envs"] > 0


def test_max_steps_is_range_checked():
    with pytest.raises(puffer_core.ConfigError, match="max_steps"):
        CartPole(num_envs=1, max_steps=2**40)



def test_a_nan_continuous_action_means_zero():
    check_nan_action_means_zero(factory("cartpole"), {"num_envs": 4, "continuous": 1})

class TestCartPoleConformance(Conformance):
    env = "cartpole"
    kwargs = {"num_envs": 8}
    soak_steps = 200_000


class TestContinuousCartPoleConformance(Conformance):
    env = "cartpole"
    kwargs = {"num_envs": 8, "continuous": 1}
    soak_steps = 50_000


def test_renders_the_pole(tmp_path):
    pytest.importorskip("pyray")
    from puffer_envs import render

    if not os.environ.get("DISPLAY") and not shutil.which("Xvfb"):
        pytest.skip("rendering needs an X server (Xvfb)")
    with contextlib.ExitStack() as stack:
        if not os.environ.get("DISPLAY"):
            stack.enter_context(render.virtual_display())  # sets DISPLAY while inside
        env = CartPole(num_envs=1, render_mode="rgb_array")
        env.reset(seed=0)
        set_states(env, np.array([[1.0, 0, 0.2, 0]], np.float32))
        frame = env.render()
        env.close()
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
    cart_x = int(1.0 * 600 / 4.8 + 300)
    assert tuple(frame[300, cart_x]) == (0, 187, 187), "the cart is drawn at x = 1.0"
