"""Policies: the default MLP/CNN policy, the optional LSTM between encoder and decoder, and the
action distributions for Discrete, MultiDiscrete and Box action spaces.

Policy API (what a plugin's own policy class implements too):

    class Policy(torch.nn.Module):
        def __init__(self, observation_space, action_space, hidden_size=128, **kwargs)
        hidden_size: int
        def encode_observations(self, observations) -> Tensor    # (B, hidden_size); obs in buffer dtype
        def decode_actions(self, hidden) -> (logits, value)      # value: (B, 1)

logits is a Tensor (Discrete), a list of Tensors (MultiDiscrete) or (mean, log_std) (Box).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces
from puffer_core.errors import SpaceError
from puffer_core.registry import load_object
from torch import nn


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights and constant bias, as in CleanRL: it speeds up early PPO learning."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def image_layout(space: spaces.Space) -> str | None:
    """'HW', 'HWC' or 'CHW' for uint8 image-shaped Box observations, else None."""
    if not isinstance(space, spaces.Box) or space.dtype != np.uint8:
        return None
    shape = space.shape
    if len(shape) == 2 and min(shape) >= 8:
        return "HW"
    if len(shape) == 3:
        if shape[-1] in (1, 3, 4) and min(shape[:2]) >= 8:
            return "HWC"
        if shape[0] <= 16 and min(shape[1:]) >= 8:
            return "CHW"
    return None


def observation_scaling(space: spaces.Space) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(offset, scale) mapping an integer Box's declared [low, high] onto [0, 1], element by element.

    Bytes that hold 0..255 become x/255, while 0/1 planes and small category codes keep their
    spread (a blanket /255 squashes a one-hot plane to 0.004 and learning stalls). Float Boxes are
    left as the env wrote them."""
    if not isinstance(space, spaces.Box) or np.dtype(space.dtype).kind not in "iu":
        return None
    low = np.asarray(space.low, np.float64)
    span = np.asarray(space.high, np.float64) - low
    scale = np.where(span > 0, 1.0 / np.where(span > 0, span, 1.0), 1.0)
    return (torch.as_tensor(low, dtype=torch.float32).unsqueeze(0),
            torch.as_tensor(scale, dtype=torch.float32).unsqueeze(0))


class DefaultPolicy(nn.Module):
    """The trainer's default policy, picked from the spaces: a CNN for uint8 images, an MLP otherwise;
    a linear head per action component and a linear value head."""

    def __init__(self, observation_space, action_space, hidden_size: int = 128, num_layers: int = 2,
                 cnn_channels: int = 32):
        super().__init__()
        self.observation_space, self.action_space = observation_space, action_space
        self.hidden_size = hidden_size
        self.layout = image_layout(observation_space)
        scaling = observation_scaling(observation_space)
        self.scaled = scaling is not None
        if scaling is not None:
            self.register_buffer("obs_offset", scaling[0], persistent=False)
            self.register_buffer("obs_scale", scaling[1], persistent=False)
        if self.layout:
            self.encoder = self._cnn(observation_space, hidden_size, cnn_channels)
        else:
            layers, width = [], self._flat_size(observation_space)
            for _ in range(num_layers):
                layers += [layer_init(nn.Linear(width, hidden_size)), nn.ReLU()]
                width = hidden_size
            if not layers:  # num_layers = 0: one projection so the output is still hidden_size wide
                layers = [layer_init(nn.Linear(width, hidden_size))]
            self.encoder = nn.Sequential(*layers)
        self.value = layer_init(nn.Linear(hidden_size, 1), std=1.0)
        if isinstance(action_space, spaces.Discrete):
            self.actor = layer_init(nn.Linear(hidden_size, int(action_space.n)), std=0.01)
        elif isinstance(action_space, spaces.MultiDiscrete):
            self.nvec = [int(n) for n in np.asarray(action_space.nvec).ravel()]
            self.actor = layer_init(nn.Linear(hidden_size, sum(self.nvec)), std=0.01)
        elif isinstance(action_space, spaces.MultiBinary):
            self.nvec = [2] * int(np.prod(action_space.shape))
            self.actor = layer_init(nn.Linear(hidden_size, sum(self.nvec)), std=0.01)
        elif isinstance(action_space, spaces.Box):
            dim = int(np.prod(action_space.shape))
            self.actor = layer_init(nn.Linear(hidden_size, dim), std=0.01)
            self.log_std = nn.Parameter(torch.zeros(1, dim))
        else:
            raise SpaceError(f"the default policy has no head for action space {action_space}")

    @staticmethod
    def _flat_size(space) -> int:
        if isinstance(space, spaces.Discrete):
            return int(space.n)
        if isinstance(space, spaces.MultiDiscrete):
            return int(np.sum(space.nvec))
        return int(np.prod(space.shape))

    def _cnn(self, space, hidden_size: int, channels: int) -> nn.Module:
        shape = space.shape
        in_ch = {"HW": 1, "HWC": shape[-1], "CHW": shape[0]}[self.layout]
        size = min(shape[:2]) if self.layout != "CHW" else min(shape[1:])
        if size >= 36:  # Nature-DQN stack for Atari-sized frames
            convs = [nn.Conv2d(in_ch, channels, 8, 4), nn.ReLU(), nn.Conv2d(channels, 2 * channels, 4, 2), nn.ReLU(),
                     nn.Conv2d(2 * channels, 2 * channels, 3, 1), nn.ReLU()]
        else:  # small grids: 3x3 convs keep every cell
            convs = [nn.Conv2d(in_ch, channels, 3, 1, 1), nn.ReLU(), nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU()]
        for conv in convs:
            if isinstance(conv, nn.Conv2d):
                layer_init(conv)
        body = nn.Sequential(*convs, nn.Flatten())
        with torch.no_grad():
            flat = body(self._to_chw(torch.zeros(1, *shape, dtype=torch.uint8))).shape[1]
        return nn.Sequential(body, layer_init(nn.Linear(flat, hidden_size)), nn.ReLU())

    def _scale(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float()
        return (x - self.obs_offset) * self.obs_scale if self.scaled else x

    def _to_chw(self, obs: torch.Tensor) -> torch.Tensor:
        x = self._scale(obs)
        if self.layout == "HW":
            return x.unsqueeze(1)
        if self.layout == "HWC":
            return x.permute(0, 3, 1, 2)
        return x

    def encode_observations(self, observations: torch.Tensor) -> torch.Tensor:
        if self.layout:
            return self.encoder(self._to_chw(observations))
        space = self.observation_space
        if isinstance(space, spaces.Discrete):
            x = nn.functional.one_hot((observations.long() - int(space.start)).clamp(0, int(space.n) - 1),
                                      int(space.n)).float()
        elif isinstance(space, spaces.MultiDiscrete):
            nvec = np.asarray(space.nvec).ravel()
            obs = observations.reshape(len(observations), -1).long()
            x = torch.cat([nn.functional.one_hot(obs[:, i].clamp(0, int(n) - 1), int(n)) for i, n in enumerate(nvec)],
                          1).float()
        else:
            x = self._scale(observations).reshape(len(observations), -1)
        return self.encoder(x)

    def decode_actions(self, hidden: torch.Tensor):
        value = self.value(hidden)
        logits = self.actor(hidden)
        if isinstance(self.action_space, spaces.Discrete):
            return logits, value
        if isinstance(self.action_space, (spaces.MultiDiscrete, spaces.MultiBinary)):
            return list(logits.split(self.nvec, dim=1)), value
        return (logits, self.log_std.expand_as(logits)), value


class Agent(nn.Module):
    """A Policy plus, when recurrent, an LSTM between encode_observations and decode_actions.

    The LSTM is one fused `nn.LSTM` used both ways: one step for a batch of agents during the rollout,
    and whole segments at once in training (see `sequence`)."""

    def __init__(self, policy: nn.Module, recurrent: bool):
        super().__init__()
        self.policy = policy
        self.hidden_size = int(policy.hidden_size)
        self.lstm = nn.LSTM(self.hidden_size, self.hidden_size, batch_first=True) if recurrent else None
        if self.lstm is not None:
            for name, param in self.lstm.named_parameters():
                if "weight" in name:
                    nn.init.orthogonal_(param, 1.0)
                else:
                    nn.init.constant_(param, 0)
            self._register_load_state_dict_pre_hook(_lstm_cell_keys)

    @property
    def recurrent(self) -> bool:
        return self.lstm is not None

    def initial_state(self, n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros(n, self.hidden_size, device=device)
        return z, z.clone()

    def step(self, obs: torch.Tensor, state=None):
        """One step for a batch of agents: (logits, value (B,), new state)."""
        hidden = self.policy.encode_observations(obs)
        if self.lstm is not None:
            hidden, state = self._lstm(hidden.unsqueeze(1), state)
            hidden = hidden.squeeze(1)
        logits, value = self.policy.decode_actions(hidden)
        return logits, value.reshape(-1), state

    def sequence(self, obs: torch.Tensor, starts: torch.Tensor, state=None):
        """Segments of T steps at once: obs (S, T, ...), starts (S, T) = 1 where an episode begins.
        The LSTM starts from `state` (stored at segment start) and is zeroed at every episode start."""
        S, T = starts.shape
        hidden = self.policy.encode_observations(obs.reshape(S * T, *obs.shape[2:]))
        if self.lstm is not None:
            hidden = self._lstm_segments(hidden.reshape(S, T, -1), starts, state).reshape(S * T, -1)
        logits, value = self.policy.decode_actions(hidden)
        return logits, value.reshape(-1)

    def _lstm(self, x: torch.Tensor, state):
        """The fused LSTM over x (B, T, H) from state ((B, H), (B, H)) with no reset inside."""
        out, (h, c) = self.lstm(x, (state[0].unsqueeze(0), state[1].unsqueeze(0)))
        return out, (h.squeeze(0), c.squeeze(0))

    def _lstm_segments(self, x: torch.Tensor, starts: torch.Tensor, state) -> torch.Tensor:
        """LSTM outputs (S, T, H), zeroing the state wherever starts is 1. Segments with no episode start
        after their first row run through the fused LSTM in one call (most of them once episodes outlast
        the horizon); only the others step row by row (bench_train's "lstm update" rows measure both)."""
        S, T, _ = x.shape
        keep = (1.0 - starts).unsqueeze(2)
        h, c = state[0] * keep[:, 0], state[1] * keep[:, 0]
        broken = starts[:, 1:].any(1)
        if not bool(broken.any()):
            return self._lstm(x, (h, c))[0]
        out = torch.empty(S, T, self.hidden_size, dtype=x.dtype, device=x.device)
        parts, rows = [], []
        whole = (~broken).nonzero().squeeze(1)
        if len(whole):
            parts.append(self._lstm(x[whole], (h[whole], c[whole]))[0])
            rows.append(whole)
        cut = broken.nonzero().squeeze(1)
        parts.append(self._lstm_steps(x[cut], keep[cut], (h[cut], c[cut])))
        rows.append(cut)
        # One scatter back into segment order (autograd-friendly: index_copy on a fresh tensor).
        return out.index_copy(0, torch.cat(rows), torch.cat(parts))

    def _lstm_steps(self, x: torch.Tensor, keep: torch.Tensor, state) -> torch.Tensor:
        """The same LSTM (nn.LSTM's equations and weights) row by row, state times keep (S, T, 1) before
        each row after the first. The input projection of all rows is one matrix product, time-major so
        each row's slice backpropagates without a full-size zero gradient."""
        lstm = self.lstm
        projected = nn.functional.linear(x.transpose(0, 1), lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0)
        projected = projected.unbind(0)
        keeps = keep.transpose(0, 1).unbind(0)
        w_hh = lstm.weight_hh_l0.t().to(projected[0].dtype)  # under autocast: cast once, not per row
        h, c = state
        outs = []
        for t, xw in enumerate(projected):
            if t:
                h, c = h * keeps[t], c * keeps[t]
            i, f, g, o = torch.addmm(xw, h.to(xw.dtype), w_hh).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs, 1).to(x.dtype)


def _lstm_cell_keys(state_dict, prefix, *_args) -> None:
    """Checkpoints from before the fused LSTM stored an nn.LSTMCell (lstm.weight_ih, ...): the same
    tensors under other names, renamed here so they still load."""
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        old = f"{prefix}lstm.{name}"
        if old in state_dict:
            state_dict[f"{prefix}lstm.{name}_l0"] = state_dict.pop(old)


def make_policy(spec, observation_space, action_space, policy_config) -> Agent:
    """The plugin's policy class (EnvSpec.policy, imported here only) or the default, wrapped in an Agent."""
    kwargs = dict(policy_config.kwargs)
    if spec is not None and spec.policy:
        try:
            cls = load_object(spec.policy)
        except (ImportError, AttributeError, ValueError) as e:
            raise SpaceError(f"env {spec.name!r} names policy {spec.policy!r}, which cannot be imported: {e}") from e
        policy = cls(observation_space, action_space, hidden_size=policy_config.hidden_size, **kwargs)
    else:
        policy = DefaultPolicy(observation_space, action_space, hidden_size=policy_config.hidden_size,
                         num_layers=policy_config.num_layers, **kwargs)
    return Agent(policy, policy_config.recurrent)


# -- action distributions --------------------------------------------------------------------------

def as_float32(logits):
    """Logits in float32 whatever autocast computed them in (sampling and log-probs stay exact)."""
    if isinstance(logits, torch.Tensor):
        return logits.float()
    if isinstance(logits, list):
        return [lg.float() for lg in logits]
    return tuple(x.float() for x in logits)


def _categorical_sample(logits: torch.Tensor, deterministic: bool):
    logp_all = torch.log_softmax(logits, dim=-1)
    if deterministic:
        action = logp_all.argmax(-1)
    else:
        action = torch.multinomial(logp_all.exp(), 1).squeeze(1)
    return action, logp_all.gather(1, action.unsqueeze(1)).squeeze(1)


def sample(logits, deterministic: bool = False):
    """(action, logprob) from a policy's logits. Box: (mean, log_std) -> unclipped Gaussian sample."""
    if isinstance(logits, torch.Tensor):
        return _categorical_sample(logits, deterministic)
    if isinstance(logits, list):
        parts = [_categorical_sample(lg, deterministic) for lg in logits]
        return torch.stack([a for a, _ in parts], 1), torch.stack([lp for _, lp in parts], 1).sum(1)
    mean, log_std = logits
    action = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
    return action, _normal_logprob(action, mean, log_std)


def _normal_logprob(action, mean, log_std):
    return (-0.5 * ((action - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(1)


def _categorical_logprob_and_entropy(logits: torch.Tensor, action: torch.Tensor):
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(1, action.long().unsqueeze(1)).squeeze(1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


def logprob_and_entropy(logits, action: torch.Tensor):
    """(logprob, entropy) of stored actions under new logits."""
    if isinstance(logits, torch.Tensor):
        return _categorical_logprob_and_entropy(logits, action)
    if isinstance(logits, list):
        parts = [_categorical_logprob_and_entropy(lg, action[:, i]) for i, lg in enumerate(logits)]
        return sum(lp for lp, _ in parts), sum(e for _, e in parts)
    mean, log_std = logits
    entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(1)
    return _normal_logprob(action, mean, log_std), entropy
