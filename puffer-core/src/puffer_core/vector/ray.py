"""The Ray backend: W Ray actors, each owning a contiguous group of whole env objects, on one machine
or on many.

    vec = puffer_core.vector.make("pong", backend="ray", num_env_objects=8, num_workers=4, seed=0,
                                  address="auto")   # or None: a local ray.init()

Each actor steps its envs in place on buffers of its own; one object per command crosses the wire
(its actions in; its observations, rewards, terminals, truncations and masks out, through Ray's
object store), and the caller copies each reply into its buffers, so this backend looks like any
other. Ray is optional (`pip install puffer-core[ray]`), imported only here. A dead actor or node is
a WorkerError naming the actor, process and node; close() kills every actor.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from contextlib import suppress

import numpy as np

from .. import buffers as buf
from ..errors import ConfigError
from .pool import RESET, STEP, Pool, execute
from .serial import make_envs

START_TIMEOUT = 120.0  # the least time actors get to be scheduled, import and build their envs
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours the tracebacks it carries


def import_ray():
    try:
        import ray
    except ImportError as e:
        raise ConfigError("backend='ray' needs Ray: pip install 'puffer-core[ray]'") from e
    return ray


def check_temp_dir() -> None:
    """Ray's workers cannot start when its temp dir (RAY_TMPDIR, else TMPDIR) lies inside the active
    virtualenv, and ray.init then waits for ever; say so instead (checked before connecting)."""
    venv = os.environ.get("VIRTUAL_ENV")
    temp = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR")
    if venv and temp and os.path.realpath(temp).startswith(os.path.realpath(venv) + os.sep):
        raise ConfigError(f"Ray's temp dir {temp} (RAY_TMPDIR, else TMPDIR) lies inside the virtualenv {venv}, "
                          "where Ray's workers cannot start: set RAY_TMPDIR to a folder outside it, e.g. "
                          "RAY_TMPDIR=/tmp/ray")


class EnvActor:
    """What each Ray actor runs: `envs_per_actor` env objects on buffers holding only its own rows."""

    def __init__(self, creator, env_kwargs: dict, first_env: int, num_env_objects: int, agents_per_env: int,
                 observation_space, action_space, final_observations: bool):
        import ray

        self.first_env = first_env
        self.buffers = buf.allocate(observation_space, action_space, num_env_objects * agents_per_env,
                                    final_observations=final_observations)
        self.envs = make_envs(creator, env_kwargs, self.buffers, agents_per_env, 0, num_env_objects)
        self.where = {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}

    def whereabouts(self) -> dict:
        return self.where

    def run(self, command: bytes, arg=None, actions=None):
        """One command on this actor's envs; STEP and RESET return the rows they wrote."""
        if actions is not None:
            np.copyto(self.buffers.actions, actions, casting="unsafe")
        result = execute(self.envs, self.first_env, command, arg)
        if command in (STEP, RESET):
            b = self.buffers
            return b.observations, b.rewards, b.terminals, b.truncations, b.masks, b.final_observations
        return result

    def close(self) -> None:
        for env in self.envs:
            env.close()


class Ray(Pool):
    """K envs in W Ray actors. Backend kwargs: `address` (None: connect to the cluster this process is
    already connected to, else a local `ray.init()`; "auto" or "ray://host:port": an existing
    cluster), `timeout` (seconds any actor may take for one command before it counts as hung; None
    waits forever), `actor_options` (passed to `.options()` of each actor, e.g. `{"num_cpus": 0.5}`
    or a `scheduling_strategy`; the default reserves 1 CPU per actor) and `ray_init` (extra
    `ray.init` kwargs when this backend starts Ray)."""

    worker_name = "actor"

    def __init__(self, creator, num_env_objects: int, env_kwargs: dict, num_workers: int | None = None,
                 envs_per_batch: int | None = None, seed: int | None = None, timeout: float | None = 60.0,
                 address: str | None = None, actor_options: dict | None = None, ray_init: dict | None = None,
                 final_observations: bool = False):
        ray = import_ray()
        self._ray = ray
        if not ray.is_initialized():
            if address is None:  # this process starts a local Ray
                check_temp_dir()
            ray.init(address=address, **{"include_dashboard": False, "log_to_driver": False, **(ray_init or {})})
        self._actors: dict[int, object] = {}
        self._calls: dict = {}  # ObjectRef -> worker of every command in flight
        self._where: dict[int, dict] = {}
        self._names: list[str] = []
        super().__init__(creator, num_env_objects, env_kwargs, num_workers, envs_per_batch, seed, timeout, 0.0,
                         final_observations)
        self._inline = None  # every group lives in an actor, never in the caller
        try:
            self._launch(creator, env_kwargs, dict(actor_options or {}))
        except BaseException:
            self.close()
            raise

    def _launch(self, creator, env_kwargs: dict, actor_options: dict) -> None:
        ray = self._ray
        actor_class = ray.remote(EnvActor)
        options = {"num_cpus": 1, "max_restarts": 0, "max_task_retries": 0, **actor_options}
        tag = uuid.uuid4().hex[:8]
        for w in range(self.num_workers):
            name = f"puffer-vector-{tag}-{w}"
            self._names.append(name)
            self._actors[w] = actor_class.options(name=name, **options).remote(
                creator, env_kwargs, w * self.envs_per_worker, self.envs_per_worker, self.agents_per_env,
                self.single_observation_space, self.single_action_space, self.keeps_final_observations)
        for w, actor in self._actors.items():
            self._calls[actor.whereabouts.remote()] = w
            self._doing[w] = "start"
        self._running.update(self._actors)
        self._where.update(self._wait_started(START_TIMEOUT))

    @property
    def actor_names(self) -> list[str]:
        """The Ray names of the actors, in worker order (ray.get_actor(name) finds one while it lives)."""
        return list(self._names)

    @property
    def pids(self) -> list[int]:
        """The actors' process ids, in worker order."""
        return [self._where[w]["pid"] for w in range(self.num_workers)]

    @property
    def node_ids(self) -> list[str]:
        """The Ray node id each actor runs on, in worker order."""
        return [self._where[w]["node"] for w in range(self.num_workers)]

    def where(self, w: int) -> str:
        at = self._where.get(w)
        place = f"pid {at['pid']} on node {at['node']}" if at else "not started yet"
        return f"{super().where(w)}, Ray actor {self._names[w] if w < len(self._names) else '?'}, {place}"

    # -- talking to actors -----------------------------------------------------------------------------
    def _send(self, w: int, command: bytes, arg) -> None:
        actions = self.actions[self.rows(w)] if command == STEP else None
        self._calls[self._actors[w].run.remote(command, arg, actions)] = w

    def _wait_done(self, deadline: float | None) -> list[tuple[int, object]]:
        ray = self._ray
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _ = ray.wait(list(self._calls), num_returns=1, timeout=timeout)
        if not ready:
            self._fail(self._hung(sorted(self._running), " (or the cluster has no room for it: each actor asks "
                                  "for actor_options such as num_cpus)"))
        done = []
        for ref in ready:
            w = self._calls.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # the env raised: Ray carries its traceback
                self._fail(f"{self.where(w)} raised during {self._doing[w]}:\n{ANSI.sub('', str(e))}")
            except ray.exceptions.RayError as e:  # the actor's process or its node died
                self._fail(f"{self.where(w)} died during {self._doing[w]} ({type(e).__name__}); its envs are "
                           f"lost. Ray says: {str(e).strip().splitlines()[0] if str(e).strip() else e!r}")
            if self._doing[w] in ("step", "reset"):
                rows = self.rows(w)
                for target, rows_out in zip((self.observations, self.rewards, self.terminals, self.truncations,
                                             self.masks, self.final_observations), result):
                    if target is not None:
                        target[rows] = rows_out
                result = None
            done.append((w, result))
        return done

    def _shutdown(self) -> None:
        ray = self._ray
        for actor in self._actors.values():
            with suppress(Exception):  # already dead, or Ray is shutting down: nothing left to stop
                ray.kill(actor, no_restart=True)
        self._actors.clear()
        self._calls.clear()
        self._running.clear()

