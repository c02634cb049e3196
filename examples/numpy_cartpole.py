"""A native PufferEnv in pure numpy: N CartPoles stepped together, writing the shared buffers in place.

Registered in-process (no plugin package needed), then stepped through the serial and the
multiprocessing backends:

    python examples/numpy_cartpole.py
"""

from __future__ import annotations

import numpy as np
import puffer_core
from gymnasium import spaces
from puffer_core.logs import LogAccumulator


class NumpyCartPole(puffer_core.PufferEnv):
    """Gymnasium CartPole-v1 dynamics, vectorized over `num_envs` poles, with auto-reset."""

    log_fields = ("episode_return", "episode_length", "n")

    def __init__(self, num_envs: int = 1, max_steps: int = 500, buffers=None):
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.num_agents = num_envs
        self.max_steps = max_steps
        super().__init__(buffers)
        self.state = np.zeros((num_envs, 4), np.float64)
        self.steps = np.zeros(num_envs, np.int64)
        self.rng = np.random.default_rng()
        self.stats = LogAccumulator(self.log_fields)

    def _new_states(self, rows):
        self.state[rows] = self.rng.uniform(-0.05, 0.05, (int(np.count_nonzero(rows)), 4))
        self.steps[rows] = 0

    def _reset(self, seed):
        self.rng = np.random.default_rng(seed)
        self._new_states(np.ones(self.num_agents, bool))
        self.observations[:] = self.state

    def _step(self):
        x, x_dot, theta, theta_dot = self.state.T
        force = np.where(self.actions == 1, 10.0, -10.0)
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + 0.05 * theta_dot**2 * sin) / 1.1
        theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos**2 / 1.1))
        x_acc = temp - 0.05 * theta_acc * cos / 1.1
        self.state[:] = np.stack([x + 0.02 * x_dot, x_dot + 0.02 * x_acc,
                                  theta + 0.02 * theta_dot, theta_dot + 0.02 * theta_acc], axis=1)
        self.steps += 1
        fell = (np.abs(self.state[:, 0]) > 2.4) | (np.abs(self.state[:, 2]) > 12 * 2 * np.pi / 360)
        out_of_time = ~fell & (self.steps >= self.max_steps)
        self.rewards[:] = 1.0
        self.terminals[:] = fell
        self.truncations[:] = out_of_time
        done = fell | out_of_time
        if done.any():
            self.stats.add(int(done.sum()), episode_return=self.steps[done], episode_length=self.steps[done])
            self._new_states(done)
        self.observations[:] = self.state

    def pop_log_sums(self):
        return self.stats.pop()


SPEC = puffer_core.EnvSpec.of(NumpyCartPole, "numpy-cartpole", description="CartPole in vectorized numpy (example)")

if __name__ == "__main__":
    puffer_core.register(SPEC)
    for backend, workers in (("serial", None), ("multiprocessing", 2)):
        vec = puffer_core.vector.make("numpy-cartpole", backend=backend, num_env_objects=4, num_workers=workers, seed=0,
                                      env_kwargs={"num_envs": 64})
        vec.reset()
        actions = np.zeros(vec.num_agents, np.int32)
        for _ in range(2000):
            actions[:] = np.random.randint(0, 2, vec.num_agents)
            vec.step(actions)
        print(f"{backend:>16}: {vec.num_agents} agents, random-policy stats {vec.log()}")
        vec.close()
