"""The threads backend: W Python threads in this process each step a contiguous group of envs, in parallel.

    vec = puffer_core.vector.make("pong", backend="threads", num_envs=4, num_workers=4, seed=0)

Threads only run in parallel while an env's step releases the GIL, as the C envs' vector loops do
(`releases_gil = True`), so other envs are refused: use the multiprocessing backend for them.
No shared memory, no pickling, no process start-up: the cheapest way to use every core with C envs.

Threads block on queues (no spinning). In sync mode (no batch_size) the calling thread steps worker
0's group itself while the other threads step theirs, which saves one hand-off per step.
An exception in a thread becomes a WorkerError with its traceback. A thread stuck in an env's step
cannot be killed: after the timeout the backend raises and is closed, and that thread is left
running as a daemon (its envs are not closed, since it may still be using them). Group 0's step in
sync mode runs in the calling thread, where no timeout can interrupt it.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import traceback
import weakref

from ..errors import ConfigError
from .pool import CLOSE, Pool, execute


class Threads(Pool):
    """K envs in W threads. Backend kwarg: `timeout` (seconds a thread may take for one command before
    it counts as hung; None waits forever)."""

    worker_name = "thread"

    def __init__(self, creator, num_envs: int, env_kwargs: dict, num_workers: int | None = None,
                 batch_size: int | None = None, seed: int | None = None, timeout: float | None = 60.0):
        # Default: as many threads as cores (and as divide num_envs).
        super().__init__(creator, num_envs, env_kwargs, num_workers, batch_size, seed, timeout,
                         default_num_workers=os.cpu_count() or 1)
        if not self.env_releases_gil:
            raise ConfigError(f"the threads backend needs envs whose step releases the GIL (C envs, "
                              f"releases_gil = True); {creator!r} holds it, so threads would step one at a "
                              "time. Use backend='multiprocessing' (or 'serial').")
        a, e = self.agents_per_env, self.envs_per_worker
        self.groups = [[creator(buffers=self.buffers[i * a:(i + 1) * a], **env_kwargs)
                        for i in range(w * e, (w + 1) * e)] for w in range(self.num_workers)]
        self._done: queue.SimpleQueue = queue.SimpleQueue()  # (worker, ok, result or traceback)
        # Sync mode: this thread runs group 0 itself. Async: recv must not block on stepping, so all are threads.
        self._inline = 0 if self.batch_workers == self.num_workers else None
        self._inboxes = {w: queue.SimpleQueue() for w in range(self.num_workers) if w != self._inline}
        self._threads = {w: threading.Thread(target=thread_main, name=f"puffer-vector-thread-{w}", daemon=True,
                                             args=(w, self.groups[w], w * e, inbox, self._done))
                         for w, inbox in self._inboxes.items()}
        for thread in self._threads.values():
            thread.start()
        # Threads hold their envs, never self: garbage collection of this object stops them.
        self._finalizer = weakref.finalize(self, stop_threads, self._inboxes, self._threads, self.groups)

    def _signal(self, workers, command: bytes, arg=None) -> None:
        inline = False
        for w in workers:
            if w == self._inline:
                inline = True
            else:
                self._inboxes[w].put((command, arg))
        if inline:  # after the others have started
            run_one(0, self.groups[0], 0, command, arg, self._done)

    def _wait_done(self, deadline):
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            w, ok, result = self._done.get(timeout=remaining)
        except queue.Empty:
            hung = sorted(self._running)
            self._fail(f"{'; '.join(self.where(w) for w in hung)} did not finish {self._doing[hung[0]]} within "
                       f"{self.timeout} s and looks hung. Raise the backend's timeout if its envs are just slow "
                       "(timeout=None waits forever).")
        if not ok:
            self._fail(f"{self.where(w)} raised during {self._doing[w]}:\n{result}")
        return [(w, result)]

    def _shutdown(self) -> None:
        if hasattr(self, "_finalizer"):
            self._finalizer()
        self._running.clear()


def run_one(w, envs, first_env, command, arg, done: queue.SimpleQueue) -> None:
    try:
        done.put((w, True, execute(envs, first_env, command, arg)))
    except Exception:
        done.put((w, False, traceback.format_exc()))


def thread_main(w, envs, first_env, inbox: queue.SimpleQueue, done: queue.SimpleQueue) -> None:
    while True:
        command, arg = inbox.get()
        if command == CLOSE:
            return
        run_one(w, envs, first_env, command, arg, done)


def stop_threads(inboxes: dict, threads: dict, groups: list) -> None:
    """Stop every thread; close the envs of those that stopped (a hung one may still be using its envs)."""
    for inbox in inboxes.values():
        inbox.put((CLOSE, None))
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
