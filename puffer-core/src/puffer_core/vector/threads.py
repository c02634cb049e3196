"""The threads backend: W Python threads in this process each step a contiguous group of envs, in parallel.

    vec = puffer_core.vector.make("pong", backend="threads", num_env_objects=4, num_workers=4, seed=0)

Threads run in parallel only while a step releases the GIL, as the C envs' vector loops do
(`releases_gil = True`); other envs are refused. In sync mode the calling thread steps group 0
itself. Commands and results travel on queues, polled for up to `spin` seconds (pool.Spinner)
before blocking. Because a thread waiting for the GIL sleeps, sync steps of C envs (those with
`_serve`/`_open_gate`/`_wait_gate`) skip Python: each thread serves its group's steps in C from a
small "gate" array, with the GIL released, until idle for `spin` (puffer-envs'
include/puffer_vec.h); every other command goes through the queues.

An exception in a thread is a WorkerError with its traceback. A thread stuck in a step cannot be
killed: after the timeout the backend raises and closes, leaving that thread running as a daemon
with its envs open. Ctrl-C mid-call keeps the threads: step() then asks for a reset(), and the late
replies to the interrupted call carry an old epoch and are dropped.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import traceback
import weakref
from functools import partial

import numpy as np

from ..errors import ConfigError
from .pool import CLOSE, STEP, Pool, Spinner, execute
from .serial import make_envs

SERVE = b"g"  # to a thread: serve steps from your gate until idle (see the module docstring)


class Threads(Pool):
    """K envs in W threads (the caller and W - 1 threads in sync mode). Backend kwargs: `timeout` (seconds
    one command may take before the thread counts as hung; None: forever) and `spin` (see Pool)."""

    worker_name = "thread"

    def __init__(self, creator, num_env_objects: int, env_kwargs: dict, num_workers: int | None = None,
                 envs_per_batch: int | None = None, seed: int | None = None, timeout: float | None = 60.0,
                 spin: float | None = None, final_observations: bool = False):
        super().__init__(creator, num_env_objects, env_kwargs, num_workers, envs_per_batch, seed, timeout, spin,
                         final_observations)
        if not self.env_releases_gil:
            raise ConfigError(f"the threads backend needs envs whose step releases the GIL (C envs, "
                              f"releases_gil = True); {creator!r} holds it, so threads would step one at a "
                              "time. Use backend='multiprocessing' (or 'serial').")
        e = self.envs_per_worker
        self.groups = [make_envs(creator, env_kwargs, self.buffers, self.agents_per_env, w * e, e)
                       for w in range(self.num_workers)]
        self._done: queue.SimpleQueue = queue.SimpleQueue()  # (epoch, worker, ok, result or traceback)
        self._epoch = 0  # bumped by an interrupted call: replies to its commands come late and are dropped
        self._spinner = Spinner(self.spin, os.sched_yield)
        self._inboxes = {w: queue.SimpleQueue() for w in range(self.num_workers) if w != self._inline}
        servable = all(hasattr(env, "_serve") and type(env) is type(group[0])
                       for group in self.groups for env in group)
        self._gates = ({w: np.zeros(3, np.int64) for w in self._inboxes}
                       if self._inline is not None and self.spin and servable else {})
        self._generation = 0  # the last step published on the gates
        self._serving = False  # gates are used once every env has been reset
        self._threads = {w: threading.Thread(target=thread_main, name=f"puffer-vector-thread-{w}", daemon=True,
                                             args=(w, self.groups[w], w * e, inbox, self._done, self.spin,
                                                   self._gates.get(w)))
                         for w, inbox in self._inboxes.items()}
        for thread in self._threads.values():
            thread.start()
        # Threads hold their envs, never self: garbage collection of this object stops them.
        self._finalizer = weakref.finalize(self, stop_threads, self._inboxes, self._threads, self.groups,
                                           self._gates)

    def _signal(self, workers, command: bytes, arg=None) -> None:
        if command == STEP and self._serving:  # sync mode: every group at once
            self._serve_step()
        else:
            super()._signal(workers, command, arg)

    def _send(self, w: int, command: bytes, arg) -> None:
        if w in self._gates:
            self._gates[w][0] = -1  # a serving thread leaves C to read its queue
        self._inboxes[w].put((command, arg, self._epoch))

    def _run_inline(self, command: bytes, arg) -> None:
        run_one(0, self.groups[0], 0, command, arg, self._done, self._epoch)

    def _reset(self, seed):
        super()._reset(seed)
        self._serving = bool(self._gates)

    def _serve_step(self) -> None:
        """A sync step of every group (step(), or send() of the whole batch) through the gates."""
        self._generation += 1
        step = self._generation
        for w, gate in self._gates.items():
            if not self.groups[w][0]._open_gate(gate, step):
                self._inboxes[w].put((SERVE, None, self._epoch))
        run_one(0, self.groups[0], 0, STEP, None, self._done, self._epoch)
        deadline = self._deadline()
        for w, gate in self._gates.items():
            env = self.groups[w][0]
            # Waits in C, in slices, so that Ctrl-C is seen between them.
            while not env._wait_gate(gate, step, self.spin, 0.05):
                if deadline is not None and time.monotonic() > deadline:
                    self._fail(self._hung([w]))
            self._done.put((self._epoch, w, True, None))

    def _wait_done(self, deadline):
        done = self._done
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                epoch, w, ok, result = self._spinner.wait(lambda: None if done.empty() else done.get_nowait(),
                                                          partial(done.get, timeout=remaining))
            except queue.Empty:
                self._fail(self._hung(sorted(self._running)))
            if epoch == self._epoch:
                break  # else a late reply to a command of an interrupted call (see _interrupted)
        if not ok:
            self._fail(f"{self.where(w)} raised during {self._doing[w]}:\n{result}")
        return [(w, result)]

    def _interrupted(self) -> None:
        """Ctrl-C mid-call: keep the threads. Each finishes the command it has (its inbox is FIFO, and a
        serving thread leaves C when the next command comes) before it runs the next one, and its late
        reply carries the old epoch, which _wait_done drops; so the next reset() starts from a clean slate."""
        self._epoch += 1
        self._running.clear()
        self._ready, self._pending = [], None
        self._needs_reset = "the last call was interrupted (KeyboardInterrupt) while the threads ran it"

    def _shutdown(self) -> None:
        if hasattr(self, "_finalizer"):
            self._finalizer()
        self._running.clear()


def run_one(w, envs, first_env, command, arg, done: queue.SimpleQueue, epoch: int) -> None:
    try:
        done.put((epoch, w, True, execute(envs, first_env, command, arg)))
    except Exception:
        done.put((epoch, w, False, traceback.format_exc()))


def thread_main(w, envs, first_env, inbox: queue.SimpleQueue, done: queue.SimpleQueue, spin: float,
                gate: np.ndarray | None) -> None:
    spinner = Spinner(spin, os.sched_yield)  # in a loop of steps the next command comes within microseconds
    while True:
        command, arg, epoch = spinner.wait(lambda: None if inbox.empty() else inbox.get_nowait(), inbox.get)
        if command == CLOSE:
            return
        if command == SERVE:
            envs[0]._serve(gate, spin, envs[1:])  # in C until idle for `spin` seconds or stopped
            continue
        run_one(w, envs, first_env, command, arg, done, epoch)


def stop_threads(inboxes: dict, threads: dict, groups: list, gates: dict) -> None:
    """Stop every thread; close the envs of those that stopped (a hung one may still be using its envs)."""
    for gate in gates.values():
        gate[0] = -1  # out of C
    for inbox in inboxes.values():
        inbox.put((CLOSE, None, 0))
    stopped = set()
    for w, thread in threads.items():
        if thread is not threading.current_thread():
            thread.join(1.0)
        if not thread.is_alive():
            stopped.add(w)
    for w, envs in enumerate(groups):
        if w in stopped or w not in threads:
            for env in envs:
                env.close()
