"""Puffer envs in Stable-Baselines3 (VecEnv) and PettingZoo (ParallelEnv) code, through puffer_core.integrations."""

import warnings

import gymnasium
import numpy as np
import puffer_core
import pytest

pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")


# -- Stable-Baselines3 ---------------------------------------------------------------------------------
sb3 = pytest.importorskip("stable_baselines3")


def test_sb3_infos_terminal_observation_truncation_and_episode():
    from puffer_core.integrations.sb3 import PufferVecEnv

    venv = PufferVecEnv.make("cartpole", num_envs=3, max_steps=12)
    venv.seed(4)
    obs = venv.reset()
    np.testing.assert_array_equal(obs, puffer_core.make("cartpole", num_envs=3).reset(seed=4)[0])
    truth = gymnasium.make("CartPole-v1").unwrapped
    truth.reset(seed=0)
    seen_truncated = seen_terminated = 0
    for t in range(1, 40):
        actions = np.array([1, 1, t % 2])  # rows 0 and 1 fall over, row 2 balances until the time limit
        previous = obs
        obs, rewards, dones, infos = venv.step(actions)
        assert obs.dtype == np.float32 and dones.dtype == bool and len(infos) == 3
        for i in range(3):
            if not dones[i]:
                assert infos[i] == {}
                continue
            truth.state, truth.steps_beyond_terminated = previous[i].astype(np.float64), None
            final, *_ = truth.step(int(actions[i]))
            np.testing.assert_allclose(infos[i]["terminal_observation"], final, rtol=1e-5, atol=1e-5)
            episode = infos[i]["episode"]
            assert episode["r"] == episode["l"] and 1 <= episode["l"] <= 12 and episode["t"] >= 0
            truncated = infos[i]["TimeLimit.truncated"]
            assert truncated == (episode["l"] == 12 and abs(final[2]) <= truth.theta_threshold_radians
                                 and abs(final[0]) <= truth.x_threshold)
            seen_truncated += truncated
            seen_terminated += not truncated
    assert seen_truncated > 0 and seen_terminated > 0
    assert venv.env_is_wrapped(sb3.common.monitor.Monitor) == [True] * 3
    assert venv.get_attr("num_agents") == [3] * 3
    assert venv.log()["episode_length"] > 0  # the env's own Log stays reachable
    venv.close()


def test_sb3_without_final_observations_warns_and_leaves_terminal_observation_out():
    from puffer_core.integrations.sb3 import PufferVecEnv

    with pytest.warns(UserWarning, match="final_observations=True"):
        venv = PufferVecEnv(puffer_core.make("cartpole", num_envs=1, max_steps=2))
    venv.reset()
    venv.step(np.zeros(1, np.int64))
    _, _, dones, infos = venv.step(np.zeros(1, np.int64))
    assert dones[0] and "terminal_observation" not in infos[0] and infos[0]["TimeLimit.truncated"]
    venv.close()


def test_sb3_rejects_bad_input():
    from puffer_core import ConfigError
    from puffer_core.integrations.sb3 import PufferVecEnv

    with pytest.raises(ConfigError, match="wraps a PufferEnv"):
        PufferVecEnv(gymnasium.make("CartPole-v1"))
    venv = PufferVecEnv.make("cartpole", num_envs=2)
    venv.set_options({"x": 1})
    with pytest.raises(ConfigError, match="no reset options"):
        venv.reset()
    venv.close()


@pytest.mark.slow
def test_sb3_ppo_solves_c_cartpole():
    """rl-zoo's PPO hyperparameters for CartPole-v1, 100k steps, fixed seed: the evaluated mean must reach 475."""
    import torch
    from puffer_core.integrations.sb3 import PufferVecEnv
    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        venv = PufferVecEnv.make("cartpole", num_envs=8)
        model = PPO("MlpPolicy", venv, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                    ent_coef=0.0, learning_rate=lambda p: 1e-3 * p, clip_range=lambda p: 0.2 * p, seed=0,
                    device="cpu")
        model.learn(100_000)
        evaluation = PufferVecEnv.make("cartpole", num_envs=10)
        evaluation.seed(1000)
        mean, _ = evaluate_policy(model, evaluation, n_eval_episodes=20, deterministic=True)
    finally:
        torch.set_num_threads(threads)
    assert mean >= 475, f"SB3 PPO reached a mean return of {mean} on Puffer's C cartpole"


# -- PettingZoo -----------------------------------------------------------------------------------------
def _snake():
    pytest.importorskip("puffer_envs_snake", reason="the snake plugin is not installed")
    return puffer_core.make("snake", num_envs=1, num_snakes=4, width=20, height=20, num_food=10,
                            max_snake_length=20)


def test_pettingzoo_parallel_api_test_passes_on_snake():
    from pettingzoo.test import parallel_api_test
    from puffer_core.integrations.pettingzoo import ParallelEnvAdapter

    env = ParallelEnvAdapter(_snake())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PettingZoo reports API misuse as warnings
        parallel_api_test(env, num_cycles=1000)
    env.close()


def test_pettingzoo_parallel_api_test_passes_on_moba():
    pytest.importorskip("puffer_envs_moba", reason="the moba plugin is not installed")
    from pettingzoo.test import parallel_api_test
    from puffer_core.integrations.pettingzoo import ParallelEnvAdapter

    env = ParallelEnvAdapter(puffer_core.make("moba", num_envs=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=300)
    env.close()


def test_pettingzoo_agents_leave_when_their_episode_ends():
    from puffer_core.integrations.pettingzoo import ParallelEnvAdapter

    env = ParallelEnvAdapter(puffer_core.make("cartpole", num_envs=3, max_steps=5, final_observations=True))
    obs, infos = env.reset(seed=2)
    assert env.agents == ["agent_0", "agent_1", "agent_2"] and set(obs) == set(infos) == set(env.agents)
    space = env.observation_space("agent_0")
    assert space is env.observation_space("agent_1") and all(space.contains(o) for o in obs.values())
    steps = 0
    while env.agents:
        live = list(env.agents)
        obs, rewards, terms, truncs, infos = env.step({agent: 1 for agent in live})
        steps += 1
        assert set(obs) == set(rewards) == set(terms) == set(truncs) == set(infos) == set(live)
        for agent in live:
            if terms[agent] or truncs[agent]:
                row = int(agent.split("_")[1])
                np.testing.assert_array_equal(obs[agent], env.env.final_observations[row])
                assert agent not in env.agents
    assert steps <= 5
    with pytest.raises(puffer_core.ConfigError, match="call reset"):
        env.step({})
    env.close()
