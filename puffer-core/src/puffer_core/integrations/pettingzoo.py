"""A multi-agent PufferEnv as a PettingZoo ParallelEnv (the reverse of emulation.PettingZooPufferEnv).

    env = ParallelEnvAdapter(puffer_core.make("snake", num_envs=1, num_snakes=4, width=20, height=20))

Agent "agent_<i>" is agent row i (the rows whose mask is 1 at reset). An agent whose terminal or
truncation is set leaves `agents` for good, its last observation the env's final observation when it
keeps them (else the row as written, already reset). The Puffer env keeps stepping finished rows;
they get a zero action until reset(), which starts every agent's new episode.
"""

from __future__ import annotations

import numpy as np

from ..env import PufferEnv
from ..errors import ActionError, ConfigError

try:
    from pettingzoo import ParallelEnv
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("puffer_core.integrations.pettingzoo needs PettingZoo: "
                      "pip install 'puffer-core[pettingzoo]'") from e


class ParallelEnvAdapter(ParallelEnv):
    def __init__(self, env: PufferEnv, name: str | None = None):
        if not isinstance(env, PufferEnv):
            raise ConfigError(f"ParallelEnvAdapter wraps a PufferEnv (e.g. puffer_core.make(...)), got "
                              f"{type(env).__name__}")
        self.env = env
        self.possible_agents = [f"agent_{i}" for i in range(env.num_agents)]
        self._row = {agent: i for i, agent in enumerate(self.possible_agents)}
        # One space object for all agents: PettingZoo wants the same object on every call.
        self.observation_spaces = dict.fromkeys(self.possible_agents, env.single_observation_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, env.single_action_space)
        self.agents: list[str] = []
        self.render_mode = env.render_mode
        self.metadata = {"name": name or type(env).__name__.lower(),
                         "render_modes": [env.render_mode] if env.render_mode else [], "is_parallelizable": True}

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Reset every agent (options are accepted, as PettingZoo requires, and ignored: Puffer envs take none)."""
        obs, _ = self.env.reset(seed=seed)
        self.agents = [agent for agent, live in zip(self.possible_agents, self.env.masks) if live]
        return {agent: obs[self._row[agent]].copy() for agent in self.agents}, {agent: {} for agent in self.agents}

    def step(self, actions: dict):
        if not self.agents:
            raise ConfigError("step() with no agents left: every episode ended, call reset()")
        batch = np.zeros_like(self.env.actions)
        for agent, action in actions.items():
            if agent not in self._row:
                raise ActionError(f"no agent {agent!r}: the agents are {self.possible_agents[0]!r}.."
                                  f"{self.possible_agents[-1]!r}")
            batch[self._row[agent]] = action
        obs, rewards, terminals, truncations, _ = self.env.step(batch)
        final = self.env.final_observations
        out_obs, out_rewards, out_terms, out_truncs, out_infos = {}, {}, {}, {}, {}
        live = []
        for agent in self.agents:
            i = self._row[agent]
            terminated, truncated = bool(terminals[i]), bool(truncations[i])
            ended = terminated or truncated
            out_obs[agent] = (final[i] if ended and final is not None else obs[i]).copy()
            out_rewards[agent] = float(rewards[i])
            out_terms[agent], out_truncs[agent] = terminated, truncated
            out_infos[agent] = {}
            if not ended:
                live.append(agent)
        self.agents = live
        return out_obs, out_rewards, out_terms, out_truncs, out_infos

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()
