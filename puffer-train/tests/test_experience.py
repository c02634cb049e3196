"""The segmented buffer's bookkeeping under async batches, and GAE/V-trace against a plain reference."""

import numpy as np
import torch
from gymnasium import spaces
from puffer_train.experience import Experience


def test_async_batches_fill_whole_segments_of_one_agent_each():
    """Agents arrive in random batches; each segment must hold T consecutive steps of a single agent."""
    rng = np.random.default_rng(0)
    N, S, T = 6, 9, 4
    exp = Experience(N, S, T, spaces.Box(-1e9, 1e9, (2,), np.float32), spaces.Discrete(2), torch.device("cpu"))
    clock = np.zeros(N, np.int64)  # each agent's own step counter
    exp.start_rollout()
    while not exp.full:
        ids = rng.permutation(N)[: rng.integers(1, N + 1)]
        record, seg, step, new = exp.claim(ids)
        assert set(new) <= set(record) and (step[np.isin(record, new)] == 0).all()
        exp.obs[torch.from_numpy(seg), torch.from_numpy(step)] = torch.tensor(
            np.stack([ids[record], clock[ids[record]]], 1), dtype=torch.float32)
        exp.advance(ids[record])
        clock[ids] += 1  # agents without a free segment still step, unrecorded
    assert exp.filled == exp.claimed == S
    agent, t = exp.obs[..., 0].numpy(), exp.obs[..., 1].numpy()
    assert (agent == agent[:, :1]).all(), "a segment mixes agents"
    assert (np.diff(t, axis=1) == 1).all(), "a segment skips or repeats steps"
    assert (exp.segment_of == -1).all()  # every claimed segment was completed


def reference_gae(values, rewards, starts, gamma, lam, ratio, rho_clip, c_clip):
    S, T = values.shape
    adv = np.zeros((S, T))
    for s in range(S):
        last = 0.0
        for t in range(T - 2, -1, -1):
            nonterminal = 1.0 - starts[s, t + 1]
            delta = rewards[s, t + 1] + gamma * values[s, t + 1] * nonterminal - values[s, t]
            last = min(ratio[s, t], rho_clip) * delta + gamma * lam * min(ratio[s, t], c_clip) * nonterminal * last
            adv[s, t] = last
    return adv


def test_gae_and_vtrace_match_a_plain_loop():
    rng = np.random.default_rng(1)
    S, T = 5, 7
    exp = Experience(3, S, T, spaces.Box(-1, 1, (1,), np.float32), spaces.Discrete(2), torch.device("cpu"))
    values, rewards = rng.normal(size=(S, T)), rng.normal(size=(S, T))
    starts, ratio = (rng.random((S, T)) < 0.2).astype(float), rng.uniform(0.5, 1.5, (S, T))
    for name, arr in (("values", values), ("rewards", rewards), ("starts", starts), ("ratio", ratio)):
        getattr(exp, name)[:] = torch.tensor(arr, dtype=torch.float32)
    got = exp.advantages(0.9, 0.8, 1.0, 0.9).numpy()
    np.testing.assert_allclose(got, reference_gae(values, rewards, starts, 0.9, 0.8, ratio, 1.0, 0.9), atol=1e-5)
    exp.ratio.fill_(1.0)  # ratio 1: plain GAE
    got = exp.advantages(0.99, 0.95).numpy()
    np.testing.assert_allclose(got, reference_gae(values, rewards, starts, 0.99, 0.95, np.ones((S, T)), 1, 1),
                               atol=1e-5)
    assert (got[:, -1] == 0).all()  # the last row only bootstraps


def test_target_uses_the_most_recent_episodes():
    from puffer_train.logger import EpisodeWindow

    recent = EpisodeWindow(episodes=100)
    recent.add({"episode_return": 500.0, "n": 60})
    assert recent.mean_of("episode_return") == float("-inf")  # not enough episodes yet
    recent.add({})  # an epoch in which no episode finished
    assert recent.mean_of("episode_return") == float("-inf")
    recent.add({"episode_return": 400.0, "n": 40})
    assert recent.mean_of("episode_return") == 460.0
    # 120 newer episodes: the 60 oldest no longer count.
    recent.add({"episode_return": 100.0, "n": 80})
    assert recent.mean_of("episode_return") == (400 * 40 + 100 * 80) / 120
    assert recent.mean() == {"episode_return": (400 * 40 + 100 * 80) / 120, "n": 120}


def test_rows_with_mask_zero_do_not_train():
    from puffer_train.config import PolicyConfig, TrainConfig
    from puffer_train.policy import make_policy
    from puffer_train.trainer import update

    obs_space, act_space = spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(3)

    def run(mask: float):
        torch.manual_seed(0)
        agent = make_policy(None, obs_space, act_space, PolicyConfig(hidden_size=8))
        exp = Experience(4, 4, 8, obs_space, act_space, torch.device("cpu"))
        exp.obs.uniform_(-1, 1)
        exp.actions.random_(0, 3)
        exp.rewards.normal_()
        exp.values.normal_()
        exp.logprobs.fill_(-1.1)
        exp.masks.fill_(mask)
        before = [p.detach().clone() for p in agent.parameters()]
        update(agent, torch.optim.Adam(agent.parameters(), lr=0.01), exp,
               TrainConfig(minibatch_size=16, update_epochs=1, horizon=8), 0.0)
        return any(not torch.equal(a, b) for a, b in zip(before, agent.parameters()))

    assert run(1.0) and not run(0.0)
