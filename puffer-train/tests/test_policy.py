"""Default policies picked from the spaces, and the LSTM's training pass matching its rollout steps."""

import numpy as np
import pytest
import torch
from gymnasium import spaces
from puffer_train.config import PolicyConfig
from puffer_train.policy import Default, evaluate, image_layout, make_policy, sample


@pytest.mark.parametrize("shape, layout", [((84, 84), "HW"), ((64, 48, 3), "HWC"), ((4, 84, 84), "CHW"),
                                           ((10, 10, 1), "HWC"), ((3, 4), None), ((32,), None)])
def test_image_observations_get_a_cnn(shape, layout):
    space = spaces.Box(0, 255, shape, np.uint8)
    assert image_layout(space) == layout
    policy = Default(space, spaces.Discrete(5), hidden_size=16)
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
    policy = Default(space, spaces.Discrete(2), hidden_size=8)
    obs = torch.tensor([raw], dtype=torch.int8 if low < 0 else torch.uint8)
    assert torch.allclose(policy._scale(obs), torch.tensor([scaled]))


def test_float_observations_are_left_as_written():
    policy = Default(spaces.Box(-np.inf, np.inf, (2,), np.float32), spaces.Discrete(2), hidden_size=8)
    obs = torch.tensor([[3.5, -7.0]])
    assert torch.equal(policy._scale(obs), obs)


@pytest.mark.parametrize("action_space", [spaces.Discrete(4), spaces.MultiDiscrete([2, 3]), spaces.MultiBinary(3),
                                          spaces.Box(-1, 1, (2,), np.float32)])
def test_heads_sample_and_evaluate_consistently(action_space):
    policy = Default(spaces.Discrete(6), action_space, hidden_size=8)  # Discrete obs: one-hot encoded
    logits, _ = policy.decode_actions(policy.encode_observations(torch.tensor([0, 3, 5], dtype=torch.int32)))
    action, logprob = sample(logits)
    again, entropy = evaluate(logits, action)
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
