"""Default policies picked from the spaces, and the LSTM's training pass matching its rollout steps."""

import numpy as np
import pytest
import torch
from gymnasium import spaces
from puffer_train.config import PolicyConfig
from puffer_train.policy import DefaultPolicy, image_layout, logprob_and_entropy, make_policy, sample


@pytest.mark.parametrize("shape, layout", [((84, 84), "HW"), ((64, 48, 3), "HWC"), ((4, 84, 84), "CHW"),
                                           ((10, 10, 1), "HWC"), ((3, 4), None), ((32,), None)])
def test_image_observations_get_a_cnn(shape, layout):
    space = spaces.Box(0, 255, shape, np.uint8)
    assert image_layout(space) == layout
    policy = DefaultPolicy(space, spaces.Discrete(5), hidden_size=16)
    obs = torch.randint(0, 256, (3, *shape), dtype=torch.uint8)
    hidden = policy.encode_observations(obs)
    logits, value = policy.decode_actions(hidden)
    assert hidden.shape == (3, 16) and logits.shape == (3, 5) and value.shape == (3, 1)
    assert any(isinstance(m, torch.nn.Conv2d) for m in policy.modules()) == (layout is not None)


@pytest.mark.parametrize("low, high, raw, scaled", [
    (0, 255, [0, 51, 255], [0.0, 0.2, 1.0]),  # bytes holding 0..255: divided by 255
    (0, 1, [0, 1, 1], [0.0, 1.0, 1.0]),  # 0/1 planes keep their spread (not 1/255)
    (0, 4, [0, 2, 4], [0.0, 0.5, 1.0]),  # category codes 0..4
    (-1, 1, [-1, 0, 1], [0.0, 0.5, 1.0]),  # int8 board from the player's perspective
])
def test_integer_observations_are_scaled_by_their_bounds(low, high, raw, scaled):
    dtype = np.int8 if low < 0 else np.uint8
    space = spaces.Box(low, high, (3,), dtype)
    policy = DefaultPolicy(space, spaces.Discrete(2), hidden_size=8)
    obs = torch.tensor([raw], dtype=torch.int8 if low < 0 else torch.uint8)
    assert torch.allclose(policy._scale(obs), torch.tensor([scaled]))


def test_float_observations_are_left_as_written():
    policy = DefaultPolicy(spaces.Box(-np.inf, np.inf, (2,), np.float32), spaces.Discrete(2), hidden_size=8)
    obs = torch.tensor([[3.5, -7.0]])
    assert torch.equal(policy._scale(obs), obs)


@pytest.mark.parametrize("action_space", [spaces.Discrete(4), spaces.MultiDiscrete([2, 3]), spaces.MultiBinary(3),
                                          spaces.Box(-1, 1, (2,), np.float32)])
def test_heads_sample_and_evaluate_consistently(action_space):
    policy = DefaultPolicy(spaces.Discrete(6), action_space, hidden_size=8)  # Discrete obs: one-hot encoded
    logits, _ = policy.decode_actions(policy.encode_observations(torch.tensor([0, 3, 5], dtype=torch.int32)))
    action, logprob = sample(logits)
    again, entropy = logprob_and_entropy(logits, action)
    torch.testing.assert_close(logprob, again)
    assert entropy.shape == (3,) and torch.isfinite(entropy).all()


def test_lstm_training_pass_equals_rollout_steps():
    """agent.sequence over a segment (from its stored start state, reset at episode starts) reproduces the
    values the rollout computed step by step."""
    torch.manual_seed(0)
    agent = make_policy(None, spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2),
                        PolicyConfig(hidden_size=8, recurrent=True))
    S, T = 4, 6
    obs = torch.randn(S, T, 3)
    starts = (torch.rand(S, T) < 0.3).float()
    state0 = (torch.randn(S, 8), torch.randn(S, 8))
    state, stepped = state0, []
    for t in range(T):
        keep = (1 - starts[:, t]).unsqueeze(1)
        _, value, state = agent.step(obs[:, t], (state[0] * keep, state[1] * keep))
        stepped.append(value)
    _, values = agent.sequence(obs, starts, state0)
    torch.testing.assert_close(values.view(S, T), torch.stack(stepped, 1))


def _step_by_step(agent, obs, starts, state):
    """The reference: the rollout's one-step path, state zeroed where an episode begins."""
    logits, values = [], []
    for t in range(starts.shape[1]):
        keep = (1 - starts[:, t]).unsqueeze(1)
        lg, value, state = agent.step(obs[:, t], (state[0] * keep, state[1] * keep))
        logits.append(lg)
        values.append(value)
    return torch.stack(logits, 1), torch.stack(values, 1)


@pytest.mark.parametrize("layout", ["mixed", "no starts", "all broken"])
def test_fused_lstm_segments_match_the_step_by_step_reference(layout):
    """The fused path (whole segments in one nn.LSTM call, the rest row by row) gives the reference's
    log-probs, values and gradients, with episode starts in the middle of segments."""
    torch.manual_seed(1)
    agent = make_policy(None, spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3),
                        PolicyConfig(hidden_size=16, recurrent=True))
    S, T = 9, 12
    obs = torch.randn(S, T, 5)
    starts = torch.zeros(S, T)
    if layout != "no starts":
        starts[::2, 0] = 1  # starts in row 0 only: still the fused path
        starts[1, 5] = starts[3, 1] = starts[3, 11] = starts[5, 7] = 1  # starts in the middle
        if layout == "all broken":
            starts[:, 6] = 1
    state0 = (torch.randn(S, 16), torch.randn(S, 16))
    actions = torch.randint(0, 3, (S * T,))

    logits, values = agent.sequence(obs, starts, state0)
    logp, _ = logprob_and_entropy(logits, actions)
    (logp.sum() + values.sum()).backward()
    grads = [p.grad.clone() for p in agent.parameters()]
    agent.zero_grad()

    ref_logits, ref_values = _step_by_step(agent, obs, starts, state0)
    ref_logp, _ = logprob_and_entropy(ref_logits.reshape(S * T, -1), actions)
    (ref_logp.sum() + ref_values.sum()).backward()
    torch.testing.assert_close(values.view(S, T), ref_values)
    torch.testing.assert_close(logp, ref_logp)
    for got, want in zip(grads, [p.grad for p in agent.parameters()]):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_checkpoints_of_the_lstm_cell_layout_still_load():
    """Weights saved when the LSTM was an nn.LSTMCell (lstm.weight_ih, ...) load into the fused nn.LSTM."""
    torch.manual_seed(2)
    config = PolicyConfig(hidden_size=8, recurrent=True)
    agent = make_policy(None, spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2), config)
    cell = torch.nn.LSTMCell(8, 8)
    old = {k: v for k, v in agent.state_dict().items() if not k.startswith("lstm.")}
    old.update({f"lstm.{k}": v for k, v in cell.state_dict().items()})
    agent.load_state_dict(old)
    x, h, c = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8)
    want_h, want_c = cell(x, (h, c))
    got, (got_h, got_c) = agent._lstm(x.unsqueeze(1), (h, c))
    torch.testing.assert_close(got_h, want_h)
    torch.testing.assert_close(got_c, want_c)
    torch.testing.assert_close(got.squeeze(1), want_h)
