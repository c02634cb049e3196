"""PufferEnv: the Python protocol every native env and every vector backend satisfies (DESIGN.md)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from . import buffers as buf
from . import logs, validate
from .buffers import check_actions
from .errors import ConfigError

RENDER_MODES = (None, "human", "rgb_array")


def check_render_mode(render_mode) -> str | None:
    if render_mode not in RENDER_MODES:
        raise ConfigError(f"render_mode must be None, 'human' or 'rgb_array', got {render_mode!r}")
    return render_mode


class PufferEnv:
    """A batch of `num_agents` agents that write straight into six shared buffers.

    Subclasses set `single_observation_space`, `single_action_space` and `num_agents`, call
    `super().__init__(buffers)`, and implement `_reset(seed)` and `_step()`, which read
    `self.actions` and write the other buffers in place (auto-resetting finished episodes).
    Episode statistics follow the log ABI: `log_fields` names a Log row (with `n` last) and
    `pop_log_sums()` returns the summed row and zeroes it.

    Final observations are opt-in (`final_observations=True`, or buffers that have one): `_step` then
    writes the last observation of each episode that ends into `self.final_observations` (see Buffers).
    """

    single_observation_space: spaces.Space
    single_action_space: spaces.Space
    num_agents: int
    log_fields: tuple[str, ...] = ("episode_return", "episode_length", "n")
    # True when _step runs without holding the GIL (C loops): the threads backend requires it.
    releases_gil: bool = False
    # True when _step writes final observations (when asked): a class that does not is refused them
    # rather than leaving the buffer stale.
    supports_final_observations: bool = False
    render_mode: str | None = None
    # reset(seed=s) seeds s .. s + seeds_per_reset - 1 (vector backends: one per env object), all in the
    # range of puffer_core.validate.seed.
    seeds_per_reset: int = 1

    def __init__(self, buffers: buf.Buffers | None = None, final_observations: bool = False):
        obs_space, act_space = self.single_observation_space, self.single_action_space
        wants_final = final_observations or getattr(buffers, "final_observations", None) is not None
        if wants_final and not self.supports_final_observations:
            raise ConfigError(f"{type(self).__name__} does not keep final observations (its _step does not write "
                              "them): leave final_observations off, or write them in _step and set "
                              "supports_final_observations = True")
        if buffers is None:
            buffers = buf.allocate(obs_space, act_space, self.num_agents, final_observations=final_observations)
        else:
            buf.check(buffers, obs_space, act_space, self.num_agents)
            if final_observations and buffers.final_observations is None:
                raise ConfigError(f"{type(self).__name__} was asked for final_observations but handed buffers "
                                  "without that buffer: ask the vector backend for them instead "
                                  "(puffer_core.vector.make(..., final_observations=True))")
        self.buffers = buffers
        self.observations = buffers.observations
        self.actions = buffers.actions
        self.rewards = buffers.rewards
        self.terminals = buffers.terminals
        self.truncations = buffers.truncations
        self.masks = buffers.masks
        self.final_observations = buffers.final_observations
        self.infos: dict = {}
        logs.check_fields(self.log_fields)

    # -- the protocol -------------------------------------------------------------------------
    def reset(self, seed: int | None = None):
        """`seed`: None or an int in 0..2**63-1 (numpy ints too); anything else is a ConfigError."""
        self._reset(validate.seed(seed, count=self.seeds_per_reset))
        return self.observations, self.infos

    def step(self, actions):
        """Step every agent. `actions` is validated then copied into the actions buffer, unless it
        *is* that buffer (the zero-copy path vector backends and trainers use)."""
        if actions is not self.actions:
            np.copyto(self.actions, check_actions(actions, self.single_action_space, self.num_agents),
                      casting="unsafe")
        self._step()
        return self.observations, self.rewards, self.terminals, self.truncations, self.infos

    def log(self) -> dict[str, float]:
        """Per-episode means of the episodes finished since the last call ({} if none)."""
        return logs.summarize(self.log_fields, self.pop_log_sums())

    def pop_log_sums(self) -> np.ndarray:
        return np.zeros(len(self.log_fields))

    def render(self):
        return None

    def close(self) -> None:
        pass

    # -- async form: a single env is its own one-worker backend ---------------------------------
    def async_reset(self, seed: int | None = None) -> None:
        self.reset(seed)

    def send(self, actions) -> None:
        self.step(actions)

    def recv(self):
        """(observations, rewards, terminals, truncations, infos, agent_ids, masks) of the batch that
        is ready; agent_ids are the rows of the full buffers the batch covers."""
        return (self.observations, self.rewards, self.terminals, self.truncations, self.infos,
                np.arange(self.num_agents), self.masks)

    # -- for subclasses -----------------------------------------------------------------------
    def _reset(self, seed: int | None) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _reset(seed)")

    def _step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _step()")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
