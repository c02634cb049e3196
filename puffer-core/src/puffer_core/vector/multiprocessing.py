"""The multiprocessing backend: W worker processes step contiguous groups of envs in place, on buffers
in shared memory; the main process only writes actions and waits.

    vec = puffer_core.vector.make("pong", backend="multiprocessing", num_envs=8, num_workers=2, seed=0)

Shared memory is a multiprocessing heap arena: a temporary file (in /dev/shm on Linux) that is
unlinked as soon as it is created and reaches the workers as a file descriptor, so nothing is left
behind however the processes end, kill -9 included. Workers start with "spawn" (default) or
"forkserver", which work on Linux and macOS and never copy the parent's threads or locks.

Per step the main process writes one byte to each worker's command pipe and reads one byte back from
its reply pipe (plain pipes: here they wake the other side twice as fast as socket pairs). Both sides
block (poll / read) instead of spinning, which matters on machines with no spare core. Every wait
also watches the workers' process sentinels and a deadline, so a worker that raises, dies or hangs
becomes a WorkerError naming it, and the backend shuts down without leftovers.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing as mp
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
import weakref

from .. import buffers as buf
from ..errors import ConfigError
from .pool import CLOSE, STEP, Pool, execute

OK, DATA, ERROR = b"o", b"d", b"e"  # worker replies: done / done, a pickled result follows / a traceback follows
START_TIMEOUT = 60.0  # the least time workers get to import and build their envs


class Multiprocessing(Pool):
    """K envs in W worker processes. Backend kwargs: `timeout` (seconds any worker may take for one
    command before it counts as hung; None waits forever) and `start_method` ("spawn" or "forkserver")."""

    worker_name = "worker"

    def __init__(self, creator, num_envs: int, env_kwargs: dict, num_workers: int | None = None,
                 batch_size: int | None = None, seed: int | None = None, timeout: float | None = 60.0,
                 start_method: str = "spawn"):
        if not hasattr(select, "poll"):
            raise ConfigError("the multiprocessing backend waits on its workers with poll(), which this platform "
                              "lacks (Windows): use backend='serial' or 'threads'")
        if start_method not in ("spawn", "forkserver"):
            raise ConfigError(f"start_method={start_method!r} is not supported: use 'spawn' or 'forkserver' "
                              "('fork' copies the parent's threads and locks and is unsafe on macOS)")
        self._ctx = mp.get_context(start_method)
        self._procs: list = []
        self._commands: list = []  # our ends of the pipes: commands to each worker ...
        self._replies: list = []  # ... and its replies
        # Stops the workers when this object is garbage-collected or at interpreter exit, whichever first.
        self._finalizer = weakref.finalize(self, stop_workers, self._procs, self._commands, self._replies)
        super().__init__(creator, num_envs, env_kwargs, num_workers, batch_size, seed, timeout,
                         default_num_workers=os.cpu_count() or 1)
        self._poller = select.poll()
        self._owner: dict[int, tuple[int, bool]] = {}  # fd -> (worker, is its process sentinel)
        try:
            self._launch(creator, env_kwargs, start_method)
        except BaseException:
            self.close()
            raise

    def _allocate(self) -> buf.Buffers:
        size = buf.nbytes(self.single_observation_space, self.single_action_space, self.num_agents) + 64
        self._memory = self._ctx.RawArray(ctypes.c_uint8, size)
        return buf.allocate(self.single_observation_space, self.single_action_space, self.num_agents, self._memory)

    def _launch(self, creator, env_kwargs: dict, start_method: str) -> None:
        # PR_SET_PDEATHSIG fires when the thread that started the child exits, so only from the main thread;
        # with forkserver the parent is the server, not us.
        die_with_parent = (sys.platform == "linux" and start_method == "spawn"
                           and threading.current_thread() is threading.main_thread())
        for w in range(self.num_workers):
            command_r, command_w = self._ctx.Pipe(duplex=False)
            reply_r, reply_w = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(
                target=worker_main, name=f"puffer-vector-worker-{w}", daemon=True,
                args=(command_r, reply_w, self._memory, creator, env_kwargs, w * self.envs_per_worker,
                      self.envs_per_worker, self.agents_per_env, self.single_observation_space,
                      self.single_action_space, self.num_agents, os.getpid(), die_with_parent))
            try:
                proc.start()
            except (pickle.PicklingError, AttributeError, TypeError) as e:
                command_w.close()
                reply_r.close()
                raise ConfigError(f"the env creator {creator!r} or its env_kwargs cannot be sent to worker "
                                  f"processes ({e}). Define the env class or factory at the top level of an "
                                  "importable module (not in __main__ of an interactive session, not a lambda).") from e
            finally:
                command_r.close()  # only the worker holds these ends now: its death reads as EOF here
                reply_w.close()
            self._procs.append(proc)
            self._commands.append(command_w)
            self._replies.append(reply_r)
            self._owner[reply_r.fileno()] = (w, False)
            self._owner[proc.sentinel] = (w, True)
            self._poller.register(reply_r.fileno(), select.POLLIN)
            self._poller.register(proc.sentinel, select.POLLIN)
        self._fds = [conn.fileno() for conn in self._commands]
        for w in range(self.num_workers):
            self._doing[w] = "start"
        self._running.update(range(self.num_workers))
        deadline = None if self.timeout is None else time.monotonic() + max(self.timeout, START_TIMEOUT)
        while self._running:
            self._finish_one_or_more(deadline)

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def where(self, w: int) -> str:
        pid = self._procs[w].pid if w < len(self._procs) else "?"
        return f"{super().where(w)}, pid {pid}"

    # -- talking to workers -------------------------------------------------------------------------------
    def _signal(self, workers, command: bytes, arg=None) -> None:
        for w in workers:
            try:
                os.write(self._fds[w], command)
                if command != STEP:
                    self._commands[w].send(arg)
            except OSError:
                self._fail(self._death(w))

    def _step(self):
        # The hot path of sync stepping, _run_all(STEP) without the generality: one byte out and one
        # byte back per worker, blocking in poll in between.
        fds = self._fds
        for w, fd in enumerate(fds):
            try:
                os.write(fd, STEP)
            except OSError:
                self._fail(self._death(w))
        self._running.update(range(len(fds)))
        for w in self._running:
            self._doing[w] = "step"
        deadline = self._deadline()
        while self._running:
            self._finish_one_or_more(deadline)

    def _wait_done(self, deadline: float | None) -> list[tuple[int, object]]:
        ms = None if deadline is None else math.ceil(max(0.0, deadline - time.monotonic()) * 1000)
        events = self._poller.poll(ms)
        if not events:
            hung = sorted(self._running)
            self._fail(f"{'; '.join(self.where(w) for w in hung)} did not finish {self._doing[hung[0]]} within "
                       f"{self.timeout} s and looks hung. Raise the backend's timeout if its envs are just slow "
                       "(timeout=None waits forever).")
        done = []
        for fd, _ in events:
            w, is_sentinel = self._owner[fd]
            if is_sentinel:
                self._fail(self._death(w))
            try:
                reply = os.read(fd, 1)
            except OSError:
                reply = b""
            if reply == OK:
                done.append((w, None))
            elif reply == DATA:
                done.append((w, self._receive(w)))
            elif reply == ERROR:
                self._fail(f"{self.where(w)} raised during {self._doing[w]}:\n{self._receive(w)}")
            else:
                self._fail(self._death(w))
        return done

    def _receive(self, w: int):
        try:
            return self._replies[w].recv()
        except (EOFError, OSError):
            self._fail(self._death(w))

    def _death(self, w: int) -> str:
        proc = self._procs[w]
        proc.join(2.0)  # its pipe closes a moment before it can be reaped
        code = proc.exitcode
        if code is None:
            how = "closed its pipe but is still running"
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            how = f"was killed by signal {name}"
            if -code == signal.SIGSEGV:
                how += " (a crash in the env's native code?)"
        else:
            how = f"exited with code {code}"
        return f"{self.where(w)} {how} during {self._doing.get(w, 'start')}; its envs are lost."

    def _shutdown(self) -> None:
        self._finalizer()
        self._running.clear()


def stop_workers(procs: list, commands: list, replies: list) -> None:
    """Ask every worker to exit, then terminate and kill what is left; close the pipes."""
    for conn in commands:
        try:
            os.write(conn.fileno(), CLOSE)
        except OSError:
            pass
    deadline = time.monotonic() + 1.0
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join()
    for conn in commands + replies:
        conn.close()


# -- the worker process ---------------------------------------------------------------------------------------
def worker_main(commands, replies, memory, creator, env_kwargs, first_env, num_envs, agents_per_env, observation_space,
                action_space, num_agents, parent_pid, die_with_parent):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the main process, which stops us
    if die_with_parent:
        set_parent_death_signal(parent_pid)
    command_fd, reply_fd = commands.fileno(), replies.fileno()
    envs = []
    try:
        try:
            buffers = buf.allocate(observation_space, action_space, num_agents, memory, zero=False)
            a = agents_per_env
            for i in range(first_env, first_env + num_envs):
                envs.append(creator(buffers=buffers[i * a:(i + 1) * a], **env_kwargs))
            os.write(reply_fd, OK)
        except Exception:
            reply_error(replies)
        while True:
            command = os.read(command_fd, 1)
            if command in (b"", CLOSE):  # b"": the main process is gone
                break
            try:
                result = execute(envs, first_env, command, None if command == STEP else commands.recv())
                if result is None:
                    os.write(reply_fd, OK)
                else:
                    os.write(reply_fd, DATA)
                    replies.send(result)
            except Exception:
                reply_error(replies)
    except OSError:
        pass  # the main process went away mid-reply
    finally:
        for env in envs:
            try:
                env.close()
            except Exception:
                pass


def reply_error(replies) -> None:
    os.write(replies.fileno(), ERROR)
    replies.send(traceback.format_exc())


def set_parent_death_signal(parent_pid: int) -> None:
    """Linux: have the kernel kill this worker if the main process dies, even mid-step (where it would
    not notice its pipe closing)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
