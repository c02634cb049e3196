"""The sanity envs: optimal play scores exactly 1.0, random play scores chance, and each passes the kit."""

import numpy as np
import puffer_core
import pytest
from puffer_envs.testing import Conformance

NAMES = ["sanity-bandit", "sanity-memory", "sanity-continuous", "sanity-coop", "sanity-multidiscrete"]


def play(env, policy, steps: int, seed: int = 0) -> dict:
    env.reset(seed=seed)
    for _ in range(steps):
        env.step(policy(env))
    return env.log()


def cue_of(obs, width):
    return obs[:, :width].argmax(1).astype(np.int32)


def optimal(name):
    if name == "sanity-bandit":
        return lambda env: cue_of(env.observations, env.arms)
    if name == "sanity-memory":
        def remember(env):
            shown = env.observations[:, :-1].max(1) > 0
            env.memory = np.where(shown, env.observations[:, :-1].argmax(1), getattr(env, "memory", 0))
            return env.memory.astype(np.int32)
        return remember
    if name == "sanity-continuous":
        return lambda env: (env.observations[:, 2:] - env.observations[:, :2]).astype(np.float32)
    if name == "sanity-coop":
        return lambda env: cue_of(env.observations[:, 2:], env.n_actions)
    if name == "sanity-multidiscrete":
        return lambda env: np.stack([env.observations[:, o:o + n].argmax(1) for o, n in zip(env.offsets, env.nvec)],
                                    1).astype(np.int32)


@pytest.mark.parametrize("name", NAMES)
def test_optimal_policy_scores_one(name):
    env = puffer_core.make(name, num_envs=64)
    stats = play(env, optimal(name), steps=50)
    assert stats["n"] >= 64
    assert stats["score"] == pytest.approx(1.0)


# Chance level of the random policy, per env with its default kwargs.
CHANCE = {"sanity-bandit": 1 / 4, "sanity-memory": 1 / 2, "sanity-coop": 1 / 4,
          "sanity-multidiscrete": (1 / 2 + 1 / 3 + 1 / 4) / 3}


@pytest.mark.parametrize("name", sorted(CHANCE))
def test_random_policy_scores_chance(name):
    env = puffer_core.make(name, num_envs=256)
    rng = np.random.default_rng(12345)  # not the env's seed: its cues come from the same generator
    space = env.single_action_space
    high = np.asarray(getattr(space, "nvec", getattr(space, "n", None)))

    def random_policy(e):
        return rng.integers(0, high, (e.num_agents, *space.shape)).astype(np.int32)

    stats = play(env, random_policy, steps=40)
    assert stats["score"] == pytest.approx(CHANCE[name], abs=0.03)


def test_memory_cue_only_at_start_and_query_at_the_end():
    env = puffer_core.make("sanity-memory", num_envs=4, cues=3, delay=3)
    env.reset(seed=1)
    seen = [env.observations.copy()]
    for _ in range(4):
        env.step(np.zeros(4, np.int32))
        seen.append(env.observations.copy())
    assert (seen[0][:, :3].sum(1) == 1).all() and (seen[0][:, 3] == 0).all()
    assert (seen[1] == 0).all() and (seen[2] == 0).all()
    assert (seen[3][:, 3] == 1).all() and (seen[3][:, :3] == 0).all()  # the query step shows no cue
    assert (seen[4][:, :3].sum(1) == 1).all()  # after the answer, a new episode's cue


def test_coop_pays_both_rows_of_an_env():
    env = puffer_core.make("sanity-coop", num_envs=2, actions=3)
    env.reset(seed=0)
    env.step(np.array([1, 1, 0, 2], np.int32))
    assert env.rewards.tolist() == [1, 1, 0, 0]
    assert env.terminals.tolist() == [1, 1, 1, 1]


def test_continuous_reward_is_one_minus_distance():
    env = puffer_core.make("sanity-continuous", num_envs=1, steps=2)
    env.reset(seed=0)
    pos, target = env.observations[0, :2].copy(), env.observations[0, 2:].copy()
    env.step(np.zeros((1, 2), np.float32))
    assert env.rewards[0] == pytest.approx(1 - min(1.0, float(np.linalg.norm(pos - target))), abs=1e-5)


def test_dict_env_flattens_through_emulation():
    vec = puffer_core.vector.make("sanity-dict", num_env_objects=16, seed=3)
    assert vec.single_observation_space.shape == (4,)  # [cue, noise x3] flattened by emulation
    stats = play(vec, lambda e: e.observations[:, 0].astype(np.int32), steps=20)
    assert stats["n"] == 16 * 20 and stats["score"] == pytest.approx(1.0)
    stats = play(vec, lambda e: ((e.observations[:, 0] + 1) % 4).astype(np.int32), steps=5)
    assert stats["score"] == 0.0


@pytest.mark.parametrize("name", [*NAMES, "sanity-dict"])
def test_ships_a_training_config(name):
    spec = puffer_core.get_spec(name)
    config = spec.training_config()
    assert {"train", "policy"} <= set(config)
    assert config["policy"].get("recurrent", False) == (name == "sanity-memory")


class TestBanditConformance(Conformance):
    env = "sanity-bandit"
    kwargs = {"num_envs": 8}
    soak_steps = 20_000


class TestMemoryConformance(Conformance):
    env = "sanity-memory"
    kwargs = {"num_envs": 8}
    soak_steps = 20_000


class TestContinuousConformance(Conformance):
    env = "sanity-continuous"
    kwargs = {"num_envs": 8}
    soak_steps = 20_000


class TestCoopConformance(Conformance):
    env = "sanity-coop"
    kwargs = {"num_envs": 8}
    soak_steps = 20_000


def test_duel_pays_whoever_alone_names_the_cue():
    env = puffer_core.make("sanity-duel", num_envs=3, actions=4)
    env.reset(seed=0)
    cue = env.observations[0::2, 2:].argmax(1)
    wrong = (cue + 1) % 4
    env.step(np.array([cue[0], wrong[0], wrong[1], cue[1], cue[2], cue[2]], np.int32))
    assert env.rewards.tolist() == [1, -1, -1, 1, 0, 0]
    stats = env.log()
    assert stats["outcome"] == pytest.approx((1 + 0 + 0.5) / 3) and stats["n"] == 3
    spec = puffer_core.get_spec("sanity-duel")
    assert spec.team_size == 1 and spec.outcome_field == "outcome"


class TestDuelConformance(Conformance):
    env = "sanity-duel"
    kwargs = {"num_envs": 8}
    soak_steps = 20_000


class TestDictConformance(Conformance):
    env = "sanity-dict"
    kwargs = {}
    soak_steps = 2_000


class TestMultiDiscreteConformance(Conformance):
    env = "sanity-multidiscrete"
    kwargs = {"num_envs": 8}
    soak_steps = 20_000
