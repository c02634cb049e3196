"""Real short trainings on the sanity envs: each must reach its known optimum (score 1.0)."""

import puffer_train
import pytest
import torch

# env, training score at which training stops early, score the final evaluation must reach.
# Each env's own config (shipped by the plugin) is used unchanged otherwise.
CASES = [
    ("sanity-bandit", 0.98, 0.98),
    ("sanity-coop", 0.98, 0.98),
    ("sanity-multidiscrete", 0.98, 0.98),
    ("sanity-continuous", 0.8, 0.9),  # Gaussian exploration noise caps the sampled score; eval takes the mean
    ("sanity-memory", 0.98, 0.98),  # the plugin's config turns the LSTM on
    ("sanity-dict", 0.98, 0.98),  # Gymnasium Dict observations through emulation, the plugin's own policy
]


@pytest.mark.parametrize("env, stop_at, threshold", CASES, ids=[c[0] for c in CASES])
def test_reaches_optimum(env, stop_at, threshold, quick):
    result = puffer_train.train(env, **quick(target=stop_at, target_metric="score", eval_episodes=200))
    assert result.eval["n"] >= 200
    assert result.score >= threshold, (env, result.score, result.train)


def test_plugin_policy_class_is_used(quick):
    """sanity-dict names its own policy (EnvSpec.policy); its encoder sees the one-hot cue + noise (4 + 3)."""
    result = puffer_train.train("sanity-dict", **quick(total_timesteps=512, eval_episodes=0))
    model = torch.load(result.checkpoint, weights_only=True)["model"]
    assert model["policy.encoder.0.weight"].shape == (32, 7)


def test_memory_needs_the_lstm(quick):
    """The same budget without recurrence stays near chance (1/cues = 0.5): the env really tests memory."""
    result = puffer_train.train("sanity-memory", **quick(total_timesteps=60_000, eval_episodes=200),
                                policy={"recurrent": False})
    assert result.score < 0.75


@pytest.mark.parametrize("env", ["sanity-bandit", "sanity-memory"])
def test_async_multiprocessing_batches(env, quick):
    """Two workers, recv batches of one worker's env objects: segments (and, for sanity-memory, the LSTM
    state of each agent) are kept per agent whichever batch arrives. Which worker answers first varies
    from run to run, so unlike the serial runs this one is not reproducible: the bar is 0.95 (chance is
    0.5, where mixed-up bookkeeping leaves it), not the serial runs' 0.98 (seen failing at 0.977)."""
    result = puffer_train.train(env, **quick(target=0.98, target_metric="score", eval_episodes=100),
                                vec={"backend": "multiprocessing", "num_env_objects": 4, "num_workers": 2,
                                     "envs_per_batch": 2},
                                env={"num_envs": 32})
    assert result.score >= 0.95, (env, result.score)


@pytest.mark.parametrize("train", [pytest.param({"optimizer": "muon"}, marks=pytest.mark.slow), {"bf16": True}],
                         ids=["muon", "bf16"])
def test_memory_solved_with_muon_and_with_bf16_autocast(train, quick):
    """The optimizer option and bfloat16 autocast (here on the CPU) still solve the LSTM env."""
    result = puffer_train.train("sanity-memory", **quick(target=0.98, target_metric="score", eval_episodes=200,
                                                         **train))
    assert result.score >= 0.98, (train, result.score, result.train)


def test_time_split_covers_the_run(quick):
    """env, forward, update and other add up to the training loop's wall time (the dashboard shows their
    per-epoch shares)."""
    result = puffer_train.train("sanity-bandit", **quick(total_timesteps=4096, eval_episodes=0))
    timers = result.timers
    assert set(timers) == {"env", "forward", "update", "other"} and min(timers.values()) >= 0
    assert timers["forward"] > 0 and timers["update"] > 0
    assert sum(timers.values()) <= result.wall_time + 0.05
    assert sum(timers.values()) >= 0.5 * result.wall_time
