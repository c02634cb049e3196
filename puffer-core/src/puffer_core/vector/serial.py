"""The serial backend: K env objects stepped one after another in this process, on one set of buffers."""

from __future__ import annotations

import numpy as np

from .. import buffers as buf
from ..env import PufferEnv


def probe(vec: PufferEnv, creator, kwargs) -> bool:
    """Make one throwaway env to learn what `vec` needs before it allocates buffers (spaces, agents per
    env, Log fields, render mode) and set those on `vec`; returns whether the env's step releases the GIL."""
    first = creator(**kwargs)
    try:
        vec.single_observation_space = first.single_observation_space
        vec.single_action_space = first.single_action_space
        vec.agents_per_env = first.num_agents
        vec.log_fields = first.log_fields
        vec.render_mode = first.render_mode
        return first.releases_gil
    finally:
        first.close()


def make_envs(creator, kwargs: dict, buffers: buf.Buffers, agents_per_env: int, first: int, count: int) -> list:
    """Env objects first..first+count-1, env i on agent rows [i * agents_per_env, (i + 1) * agents_per_env)."""
    a = agents_per_env
    return [creator(buffers=buffers[i * a:(i + 1) * a], **kwargs) for i in range(first, first + count)]


class Serial(PufferEnv):
    supports_final_observations = True  # each env gets its rows of the buffer and checks for itself

    def __init__(self, creator, num_env_objects: int, env_kwargs: dict, seed: int | None = None,
                 final_observations: bool = False):
        self.releases_gil = probe(self, creator, env_kwargs)
        self.num_env_objects = self.seeds_per_reset = num_env_objects  # reset(seed) seeds each env object
        self.num_agents = num_env_objects * self.agents_per_env
        # Each env gets its rows of every buffer, final_observations included when on.
        super().__init__(buf.allocate(self.single_observation_space, self.single_action_space, self.num_agents,
                                      final_observations=final_observations))
        self.envs = make_envs(creator, env_kwargs, self.buffers, self.agents_per_env, 0, num_env_objects)
        self.seed = seed

    def _reset(self, seed):
        if seed is None:
            seed, self.seed = self.seed, None
        for i, env in enumerate(self.envs):
            env.reset(None if seed is None else seed + i)

    def _step(self):
        for env in self.envs:
            env._step()  # = env.step(env.actions) without its return tuple: actions already sit in its rows

    def pop_log_sums(self) -> np.ndarray:
        return np.sum([env.pop_log_sums() for env in self.envs], axis=0)

    def render(self):
        return self.envs[0].render()

    def close(self):
        for env in self.envs:
            env.close()
