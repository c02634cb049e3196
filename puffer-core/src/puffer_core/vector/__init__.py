"""Vector backends: run K env objects (each possibly many agents) as one PufferEnv.

    env = puffer_core.vector.make("pong", backend="multiprocessing", num_env_objects=8, num_workers=2,
                                  envs_per_batch=4, seed=0, env_kwargs={"frameskip": 4})

Every backend allocates the six buffers once for all agents (shared memory for processes) and
hands env i the rows of its agents; env i is seeded with seed + i, whatever the backend, so a seed
gives the same trajectories with any backend and any number of workers.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import validate
from ..errors import ConfigError, did_you_mean
from ..registry import EnvSpec, get_spec

BACKENDS = ("serial", "threads", "multiprocessing", "ray")
# Old kwargs, each renamed because the name meant something else one level down or up.
RENAMED = {"batch_size": "envs_per_batch: it counts env objects per recv, not agents (train.batch_size is the "
                         "PPO batch)",
           "num_envs": "num_env_objects: it counts env objects, each holding env_kwargs' num_envs envs"}


def resolve(env, env_kwargs: dict | None) -> tuple[Callable, dict]:
    """(creator, kwargs) for an env name, an EnvSpec or a callable creator."""
    kwargs = dict(env_kwargs or {})
    if isinstance(env, str):
        env = get_spec(env)
    if isinstance(env, EnvSpec):
        return env.factory(), {**env.default_kwargs, **kwargs}
    if callable(env):
        return env, kwargs
    raise ConfigError(f"env must be a registered name, an EnvSpec or a callable returning a PufferEnv; got {env!r}")


def make(env, backend: str = "serial", num_env_objects: int = 1, num_workers: int | None = None,
         envs_per_batch: int | None = None, seed: int | None = None, env_kwargs: dict | None = None,
         **backend_kwargs):
    """Make `num_env_objects` env objects run by `backend` (each holds its own `num_envs` C envs, an
    env kwarg). `envs_per_batch` (env objects per recv) and `num_workers` apply to the threads,
    multiprocessing and ray backends. `seed` seeds the first reset() called without one.
    `final_observations=True` (a backend kwarg, any backend) gives the backend and each of its envs a
    `final_observations` buffer (in shared memory for processes; see PufferEnv)."""
    for name in RENAMED.keys() & backend_kwargs.keys():
        raise ConfigError(f"vector.make's {name} is called {RENAMED[name]}")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown vector backend {backend!r}; choose one of {', '.join(BACKENDS)}."
                          + did_you_mean(backend, BACKENDS))
    num_env_objects = validate.count(num_env_objects, "num_env_objects")
    if num_workers is not None:
        num_workers = validate.count(num_workers, "num_workers")
    if envs_per_batch is not None:
        envs_per_batch = validate.count(envs_per_batch, "envs_per_batch")
    seed = validate.seed(seed, count=num_env_objects)
    creator, kwargs = resolve(env, env_kwargs)
    if backend == "serial":
        from .serial import Serial

        if num_workers not in (None, 1) or (envs_per_batch not in (None, num_env_objects)):
            raise ConfigError("the serial backend steps every env in one process: leave num_workers and "
                              "envs_per_batch unset, or use backend='threads' or 'multiprocessing'")
        return Serial(creator, num_env_objects, kwargs, seed=seed, **backend_kwargs)
    if backend == "threads":
        from .threads import Threads

        return Threads(creator, num_env_objects, kwargs, num_workers=num_workers, envs_per_batch=envs_per_batch,
                       seed=seed, **backend_kwargs)
    if backend == "ray":  # Ray is imported only here: an optional extra (puffer-core[ray])
        from .ray import Ray

        return Ray(creator, num_env_objects, kwargs, num_workers=num_workers, envs_per_batch=envs_per_batch, seed=seed,
                   **backend_kwargs)
    from .multiprocessing import Multiprocessing

    return Multiprocessing(creator, num_env_objects, kwargs, num_workers=num_workers, envs_per_batch=envs_per_batch,
                           seed=seed, **backend_kwargs)
