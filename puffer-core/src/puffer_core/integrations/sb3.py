"""Any PufferEnv as a Stable-Baselines3 VecEnv (one SB3 env per agent row).

    venv = PufferVecEnv.make("cartpole", num_envs=8)        # asks the env for final observations
    PPO("MlpPolicy", venv, seed=0).learn(100_000)

A row that ended carries what SB3's DummyVecEnv + Monitor would put in its info: `terminal_observation`
(the env's final observation; without final observations it is left out, so SB3 treats truncations
as terminations rather than bootstrap from a wrong observation), `TimeLimit.truncated`, and `episode`
= {"r", "l", "t"}, summed per row here because the log ABI only yields means. `seed(s)` then `reset()`
seeds row i with s + i. Observations, rewards and dones are copies (SB3 keeps the last observation).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np

from ..env import PufferEnv
from ..errors import ConfigError

try:
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import VecEnv
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("puffer_core.integrations.sb3 needs stable-baselines3: pip install 'puffer-core[sb3]'") from e


class PufferVecEnv(VecEnv):
    """A PufferEnv (native env, vector backend or emulated env) as an SB3 VecEnv with
    `num_envs = env.num_agents`. Rows with mask 0 (dead agents) are stepped like the others."""

    def __init__(self, env: PufferEnv):
        if not isinstance(env, PufferEnv):
            raise ConfigError(f"PufferVecEnv wraps a PufferEnv (e.g. puffer_core.make(...)), got {type(env).__name__}")
        self.env = env
        super().__init__(env.num_agents, env.single_observation_space, env.single_action_space)
        self.render_mode = env.render_mode
        self._actions: np.ndarray | None = None
        self._returns = np.zeros(self.num_envs, np.float64)
        self._lengths = np.zeros(self.num_envs, np.int64)
        self._start = time.time()
        if env.final_observations is None:
            warnings.warn(f"{type(env).__name__} keeps no final observations, so infos carry no "
                          "terminal_observation and SB3 cannot bootstrap time-limit truncations: make the env "
                          "with final_observations=True (PufferVecEnv.make does)", stacklevel=2)

    @classmethod
    def make(cls, name: str, **kwargs) -> PufferVecEnv:
        """`puffer_core.make(name, final_observations=True, **kwargs)` as a PufferVecEnv."""
        from .. import make

        return cls(make(name, final_observations=True, **kwargs))

    # -- the VecEnv API ---------------------------------------------------------------------------
    def reset(self):
        seeds, options = self._seeds, self._options
        self._reset_seeds()
        self._reset_options()
        if any(options):
            raise ConfigError(f"Puffer envs take no reset options, got {options[0]!r}")
        seed = seeds[0]
        if seed is not None and list(seeds) != [seed + i for i in range(self.num_envs)]:
            raise ConfigError("Puffer seeds row i with seed + i: call seed(s) (not per-row seeds) before reset()")
        obs, _ = self.env.reset(seed=seed)
        self._returns[:] = 0
        self._lengths[:] = 0
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        if self._actions is None:
            raise ConfigError("step_wait() without step_async(actions): call step(actions)")
        actions, self._actions = self._actions, None
        obs, rewards, terminals, truncations, _ = self.env.step(actions)
        self._returns += rewards
        self._lengths += 1
        terminated, truncated = terminals.astype(bool), truncations.astype(bool)
        dones = terminated | truncated
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        final = self.env.final_observations
        for i in np.flatnonzero(dones):
            info = infos[i]
            info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            if final is not None:
                info["terminal_observation"] = final[i].copy()
            info["episode"] = {"r": float(self._returns[i]), "l": int(self._lengths[i]),
                               "t": round(time.time() - self._start, 6)}
            self._returns[i] = 0
            self._lengths[i] = 0
        return obs.copy(), rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.env.close()

    def log(self) -> dict[str, float]:
        """The env's log(): per-episode means of its own Log fields since the last call."""
        return self.env.log()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [self.env.render()] if self.render_mode == "rgb_array" else [None]

    # One env object holds every row: attributes and methods are the underlying PufferEnv's, for every index.
    def get_attr(self, attr_name: str, indices=None) -> list:
        value = getattr(self.env, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value, indices=None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list:
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        # The infos already carry Monitor's `episode` entries, so code that checks for a Monitor
        # (evaluate_policy) may rely on them.
        wrapped = wrapper_class is Monitor
        return [wrapped for _ in self._get_indices(indices)]
