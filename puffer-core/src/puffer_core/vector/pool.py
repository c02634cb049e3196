"""What the threads and multiprocessing backends share: K envs in W contiguous groups, one group per
worker, all on one set of buffers; sync stepping of every worker, and EnvPool-style async batches.

Worker w steps envs [w * K/W, (w + 1) * K/W), i.e. the contiguous agent rows `rows(w)`. A subclass
says how to hand a command to a worker (`_send`) and how to block until some finish (`_wait_done`);
this class keeps the books of which worker is running, finished or waiting for actions.

Async protocol (EnvPool): `async_reset(seed)` starts every worker; `recv()` blocks until `envs_per_batch`
envs' worth of workers have finished and returns their rows; `send(actions)` gives those workers
their actions and starts them again. Batches are the first workers to finish, in worker order; when
they are contiguous, recv returns views of the shared buffers, otherwise a gathered copy.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import buffers as buf
from .. import validate
from ..buffers import check_actions
from ..env import PufferEnv
from ..errors import ConfigError, PufferError, StateError, WorkerError
from .serial import probe

# Commands, one byte each: the multiprocessing backend writes them to its pipes as is.
STEP, RESET, LOG, RENDER, CLOSE = b"s", b"r", b"l", b"v", b"c"
PHASES = {STEP: "step", RESET: "reset", LOG: "log", RENDER: "render"}


def execute(envs, first_env: int, command: bytes, arg=None):
    """Run one command on a worker's envs (in a worker thread or process)."""
    if command == STEP:
        for env in envs:
            env._step()  # = env.step(env.actions): actions already sit in the shared buffer, no copy or check
        return None
    if command == RESET:
        for i, env in enumerate(envs):
            env.reset(None if arg is None else arg + first_env + i)
        return None
    if command == LOG:
        return np.sum([env.pop_log_sums() for env in envs], axis=0)
    if command == RENDER:
        return envs[0].render()
    raise ValueError(f"unknown worker command {command!r}")


SPIN = 1e-3  # seconds to busy-wait before blocking, where every busy process or thread has a core


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


class Spinner:
    """Waits for the other side by busy-waiting for up to `seconds`, then blocking.

    Waking a thread or process that sleeps costs more than the step of a fast env, so a hand-off that
    comes soon is best caught awake. Spinning is skipped while the last wait was longer than
    `seconds` (a slow env, a policy between steps): there it would only burn a core. `pause` runs
    between checks (os.sched_yield lets other threads take the GIL)."""

    def __init__(self, seconds: float, pause=None):
        self.seconds, self.pause, self.last = seconds, pause, 0.0

    def wait(self, ready, block):
        """ready() until it returns something true or the spin is over, else block(); that result."""
        start = time.perf_counter()
        result = None
        if self.seconds and self.last < self.seconds:
            end = start + self.seconds
            while not (result := ready()) and time.perf_counter() < end:
                if self.pause is not None:
                    self.pause()
        if not result:
            result = block()
        self.last = time.perf_counter() - start
        return result


def default_workers(num_env_objects: int, limit: int) -> int:
    """The most workers, at most `limit`, that split num_env_objects evenly."""
    return max(w for w in range(1, min(num_env_objects, limit) + 1) if num_env_objects % w == 0)


class Pool(PufferEnv):
    worker_name = "worker"  # "thread" in the threads backend, for messages
    supports_final_observations = True  # each env gets its rows of the buffer and checks for itself

    def __init__(self, creator, num_env_objects: int, env_kwargs: dict, num_workers: int | None,
                 envs_per_batch: int | None, seed: int | None, timeout: float | None, spin: float | None,
                 final_observations: bool = False):
        # Sizes first (vector.make checked their types), each O(1): nothing is built or started for a
        # request that cannot work.
        n = num_env_objects
        if num_workers is None:  # as many as cores (and as divide num_env_objects)
            num_workers = default_workers(n, usable_cores())
        if num_workers > n:
            raise ConfigError(f"num_workers={num_workers} is more than num_env_objects={n}: every worker steps at "
                              "least one env object. Use fewer workers or more env objects.")
        if n % num_workers:
            lower = n - n % num_workers
            raise ConfigError(f"num_env_objects={n} is not divisible by num_workers={num_workers}: every worker "
                              f"steps an equal group of env objects. Use num_workers="
                              f"{validate.nearest_divisor(n, num_workers)} (a divisor of num_env_objects), or "
                              f"num_env_objects={lower or lower + num_workers}"
                              f"{f' or {lower + num_workers}' if lower else ''} (multiples of num_workers).")
        self._check_worker_limit(num_workers)
        envs_per_worker = n // num_workers
        envs_per_batch = envs_per_batch or n
        if envs_per_batch > n or envs_per_batch % envs_per_worker:
            raise ConfigError(f"envs_per_batch={envs_per_batch!r} must be a multiple of the env objects per worker "
                              f"({n} / {num_workers} workers = {envs_per_worker}) and at most num_env_objects={n}; "
                              "leave it unset to step every env object together")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ConfigError(f"timeout must be a positive number of seconds or None (wait forever), got {timeout!r}")
        if spin is not None and not (isinstance(spin, (int, float)) and not isinstance(spin, bool) and 0 <= spin <= 1):
            raise ConfigError(f"spin must be seconds between 0 and 1 (or None for automatic), got {spin!r}")

        self.env_releases_gil = probe(self, creator, env_kwargs)

        self.num_env_objects = self.seeds_per_reset = num_env_objects  # reset(seed) seeds each env object
        self.num_workers = num_workers
        self.envs_per_worker = envs_per_worker
        self.envs_per_batch = envs_per_batch
        self.batch_workers = envs_per_batch // envs_per_worker
        self.rows_per_worker = envs_per_worker * self.agents_per_env
        self.num_agents = num_env_objects * self.agents_per_env
        self.timeout = timeout
        self.seed = seed
        self.keeps_final_observations = bool(final_observations)  # a final_observations buffer, in every worker
        # Sync mode: the caller steps group 0 itself. Async: recv must not block on stepping, so it doesn't.
        self._inline = 0 if self.batch_workers == num_workers else None
        # `spin`: seconds to poll before sleeping (Spinner). By default 1 ms, but only where every busy
        # thread or process (the caller included) has a core of its own: else it steals the other side's.
        busy = num_workers + (self._inline is None)
        self.spin = float(spin) if spin is not None else (SPIN if busy <= usable_cores() else 0.0)
        super().__init__(self._allocate())

        self._running: set[int] = set()  # signalled, not finished
        self._ready: list[int] = []  # finished, not yet returned by recv (in finishing order)
        self._pending: list[int] | None = None  # returned by the last recv, waiting for send
        self._doing: dict[int, str] = {}  # what each worker was last asked to do, for error messages
        self._closed: str | None = None  # why this backend no longer works
        # Why step() must wait for a reset (None once reset): checked here, so the workers never see it.
        self._needs_reset: str | None = "step() was called before reset()"

    # -- for subclasses -------------------------------------------------------------------------
    def _allocate(self) -> buf.Buffers:
        return buf.allocate(self.single_observation_space, self.single_action_space, self.num_agents,
                            final_observations=self.keeps_final_observations)

    def _signal(self, workers, command: bytes, arg=None) -> None:
        """Start `command` on `workers` without waiting; in sync mode the caller's own group last (it runs
        here, while the others step)."""
        for w in workers:
            if w != self._inline:
                self._send(w, command, arg)
        if self._inline in workers:
            self._run_inline(command, arg)

    def _send(self, w: int, command: bytes, arg) -> None:
        """Hand `command` to worker w (never the inline one)."""
        raise NotImplementedError

    def _run_inline(self, command: bytes, arg) -> None:
        """Run `command` on the caller's own group, leaving its result for _wait_done."""
        raise NotImplementedError

    def _wait_done(self, deadline: float | None) -> list[tuple[int, object]]:
        """Block until at least one running worker finishes; [(worker, result)]. On a failure, call _fail
        (`self._doing[w]` says what worker w was doing)."""
        raise NotImplementedError

    def _shutdown(self) -> None:
        """Stop every worker and release everything."""
        raise NotImplementedError

    def _check_worker_limit(self, num_workers: int) -> None:
        """Refuse (ConfigError) more workers than this machine can start; called before anything is built."""

    def _interrupted(self) -> None:
        """A call was interrupted (Ctrl-C) while workers ran a command. By default their state is unknown, so
        everything stops; a backend that can tell late replies from new ones (threads) overrides this to keep
        its workers, and then the next reset() goes on from there."""
        self._closed = "it was interrupted while waiting for its workers"
        self._shutdown()

    def where(self, w: int) -> str:
        """Worker w and what it runs, for error messages."""
        e, r = w * self.envs_per_worker, w * self.rows_per_worker
        return (f"{self.worker_name} {w} (envs {e}..{e + self.envs_per_worker - 1}, "
                f"agent rows {r}..{r + self.rows_per_worker - 1})")

    def _hung(self, workers, why: str = "") -> str:
        return (f"{'; '.join(self.where(w) for w in workers)} did not finish {self._doing[workers[0]]} within "
                f"{self.timeout} s and looks hung{why}. Raise the backend's timeout if its envs are just slow "
                "(timeout=None waits forever).")

    def _wait_started(self, least: float) -> dict[int, object]:
        """Wait for the workers started by a subclass's launch, giving them at least `least` seconds."""
        deadline = None if self.timeout is None else time.monotonic() + max(self.timeout, least)
        results = {}
        while self._running:
            results.update(self._finish_one_or_more(deadline))
        return results

    def _fail(self, message: str):
        """Close everything and raise: a backend with a failed worker is in an unknown state."""
        self._closed = f"it was closed after an error: {message.splitlines()[0]}"
        self._shutdown()
        raise WorkerError(message)

    # -- bookkeeping ------------------------------------------------------------------------------
    def rows(self, w: int) -> slice:
        return slice(w * self.rows_per_worker, (w + 1) * self.rows_per_worker)

    def _deadline(self) -> float | None:
        return None if self.timeout is None else time.monotonic() + self.timeout

    def _check_open(self) -> None:
        if self._closed is not None:
            raise PufferError(f"this {type(self).__name__} vector env cannot be used: {self._closed}. "
                              "Make a new one.")

    def _start(self, workers, command: bytes, arg=None) -> None:
        for w in workers:
            self._doing[w] = PHASES[command]
        self._running.update(workers)
        try:
            self._signal(workers, command, arg)
        except PufferError:  # a WorkerError: _fail already shut everything down
            raise
        except BaseException:  # Ctrl-C while handing out the command (or stepping group 0 in this thread)
            self._interrupted()
            raise

    def _finish_one_or_more(self, deadline: float | None) -> list[tuple[int, object]]:
        try:
            done = self._wait_done(deadline)
        except PufferError:  # a WorkerError: _fail already shut everything down
            raise
        except BaseException:  # Ctrl-C mid-wait
            self._interrupted()
            raise
        for w, _ in done:
            self._running.discard(w)
        return done

    def _run_all(self, command: bytes, arg=None) -> dict[int, object]:
        """Run a command on every (idle) worker and wait for all: the sync path."""
        self._start(range(self.num_workers), command, arg)
        results, deadline = {}, self._deadline()
        while self._running:
            results.update(self._finish_one_or_more(deadline))
        return results

    def _drain(self) -> None:
        """Check this backend is open and wait for running workers (their results stay ready for recv)."""
        self._check_open()
        deadline = self._deadline()
        while self._running:
            self._ready.extend(w for w, _ in self._finish_one_or_more(deadline))

    def _next_seed(self, seed):
        if seed is None:
            seed, self.seed = self.seed, None
        return seed

    # -- the sync protocol --------------------------------------------------------------------------
    def _reset(self, seed):
        self._drain()
        self._ready, self._pending = [], None
        self._run_all(RESET, self._next_seed(seed))
        self._needs_reset = None

    def step(self, actions):
        self._check_open()
        if self._needs_reset is not None:
            raise StateError(f"{self._needs_reset}: call reset() (or async_reset() and recv()) first; "
                             f"this {type(self).__name__} vector env is otherwise unchanged")
        if self._running:
            raise PufferError("step() called while async batches are in flight: keep using recv()/send(), "
                              "or call reset() first")
        self._ready, self._pending = [], None
        return super().step(actions)

    def _step(self):
        self._run_all(STEP)

    def pop_log_sums(self) -> np.ndarray:
        self._drain()
        return np.sum(list(self._run_all(LOG).values()), axis=0)

    def render(self):
        """Env 0's render(), computed by the worker that owns it."""
        self._drain()
        self._start([0], RENDER)
        deadline = self._deadline()
        while True:
            for w, result in self._finish_one_or_more(deadline):
                if w == 0:
                    return result

    # -- the async protocol --------------------------------------------------------------------------
    def async_reset(self, seed: int | None = None) -> None:
        seed = validate.seed(seed, count=self.seeds_per_reset)
        self._drain()
        self._ready, self._pending = [], None
        self._needs_reset = None  # the async protocol keeps its own books (recv/send)
        self._start(range(self.num_workers), RESET, self._next_seed(seed))

    def recv(self):
        """(observations, rewards, terminals, truncations, infos, agent_ids, masks) of the first
        `envs_per_batch` envs to finish. Views of the shared buffers when their workers are contiguous,
        otherwise copies gathered in worker order."""
        self._check_open()
        if self._pending is not None:
            raise PufferError("recv() called twice: send() the actions for the batch the last recv() returned first")
        need = self.batch_workers
        if len(self._ready) + len(self._running) < need:
            raise PufferError("recv() has nothing to wait for: call async_reset(seed) first (and send() after "
                              "each recv())")
        deadline = self._deadline()
        while len(self._ready) < need:
            self._ready.extend(w for w, _ in self._finish_one_or_more(deadline))
        batch = sorted(self._ready[:need])
        del self._ready[:need]
        self._pending = batch
        if batch[-1] - batch[0] == need - 1:  # contiguous workers: contiguous rows, return views
            rows = slice(self.rows(batch[0]).start, self.rows(batch[-1]).stop)
            ids = np.arange(rows.start, rows.stop)
        else:
            ids = np.concatenate([np.arange(self.rows(w).start, self.rows(w).stop) for w in batch])
            rows = ids
        return (self.observations[rows], self.rewards[rows], self.terminals[rows], self.truncations[rows],
                self.infos, ids, self.masks[rows])

    def send(self, actions) -> None:
        """Actions for the agents of the batch the last recv() returned, in the order of its agent_ids."""
        self._check_open()
        batch = self._pending
        if batch is None:
            raise PufferError("send() without a batch: call recv() first (or async_reset() to start)")
        if actions is not self.actions:  # the whole buffer, already filled in place: nothing to check or copy
            actions = check_actions(actions, self.single_action_space, len(batch) * self.rows_per_worker)
            n = self.rows_per_worker
            for j, w in enumerate(batch):
                np.copyto(self.actions[self.rows(w)], actions[j * n:(j + 1) * n], casting="unsafe")
        self._pending = None
        self._start(batch, STEP)

    # -- lifetime ----------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the workers and free the shared buffers; safe to call twice."""
        if self._closed is None:
            self._closed = "it was closed"
        self._shutdown()
