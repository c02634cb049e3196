"""sanity-dict: a plain Gymnasium env with a Dict observation, run through puffer_core.emulation.

The observation {"cue": Discrete(cues), "noise": Box(3)} is flattened by the emulation layer into one
float32 row; the action must name the cue (one step, reward 1). It tests that structured spaces reach
the trainer intact, and that a plugin's own policy (policy.py, which unflattens the row and one-hots
the cue) is picked up from the class's `policy` attribute.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces
from puffer_core.emulation import GymnasiumPufferEnv

from .envs import Rendered, _positive, _reject_unknown, pressed_digit


def observation_space(cues: int) -> spaces.Dict:
    return spaces.Dict({"cue": spaces.Discrete(cues), "noise": spaces.Box(-1, 1, (3,), np.float32)})


class DictCueGym(gymnasium.Env):
    """One step: observe a cue (and distracting noise), answer with the cue."""

    def __init__(self, cues: int = 4):
        self.observation_space = observation_space(cues)
        self.action_space = spaces.Discrete(cues)
        self.cue = 0
        self.noise = np.zeros(3, np.float32)  # the last observation's noise (the renderer shows it)

    def _observe(self):
        self.cue = int(self.np_random.integers(self.action_space.n))
        self.noise = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return {"cue": self.cue, "noise": self.noise}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self._observe(), {}

    def step(self, action):
        reward = float(int(action) == self.cue)
        return self._observe(), reward, True, False, {}


class DictCue(Rendered, GymnasiumPufferEnv):
    """A Gymnasium env with a Dict observation, through emulation, with its own policy.

    DictCueGym through emulation, logging `score` (= return: the optimum is 1.0) like the other sanity envs."""

    log_fields = ("score", "episode_return", "episode_length", "n")
    policy = "puffer_envs_sanity.policy:DictPolicy"
    renderer = "puffer_envs_sanity.render:DictRenderer"

    def __init__(self, cues: int = 4, render_mode=None, buffers=None, **unknown):
        _reject_unknown(type(self), unknown)
        cues = _positive("cues", cues)
        super().__init__(lambda: DictCueGym(cues), buffers=buffers)
        self._set_render_mode(render_mode)  # after emulation, which copies the Gymnasium env's (None)

    def keys_to_action(self, pressed):
        """Number key k names cue k - 1."""
        return pressed_digit(pressed, self.env.action_space.n)

    def pop_log_sums(self) -> np.ndarray:
        sums = super().pop_log_sums()
        sums[0] = sums[1]  # score: the return, whose optimum is 1 per episode
        return sums
