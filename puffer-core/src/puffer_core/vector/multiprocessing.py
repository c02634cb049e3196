"""The multiprocessing backend: W workers step contiguous groups of envs in place, on buffers in
shared memory.

    vec = puffer_core.vector.make("pong", backend="multiprocessing", num_env_objects=8, num_workers=2)

In sync mode the calling process is worker 0 and steps group 0 itself, so W workers need W - 1
processes; in async mode (EnvPool-style batches) the caller runs its policy meanwhile, so all W are
processes. Shared memory is a multiprocessing heap arena, a temporary file unlinked at once and
passed to the workers as a descriptor: nothing is left behind however the processes end. Workers
start with "spawn" (default) or "forkserver", never "fork".

Per step one byte goes down each worker's command pipe and one comes back on its reply pipe, each
side polling for up to `spin` seconds (pool.Spinner) before blocking. Every wait also watches the
workers' sentinels and a deadline, so a worker that raises, dies or hangs is a WorkerError naming
it, and the backend shuts down without leftovers.
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
from contextlib import suppress

from .. import buffers as buf
from .. import validate
from ..errors import ConfigError
from .pool import CLOSE, STEP, Pool, Spinner, execute
from .serial import make_envs

OK, DATA, ERROR = b"o", b"d", b"e"  # worker replies: done / done, a pickled result follows / a traceback follows
START_TIMEOUT = 60.0  # the least time workers get to import and build their envs


class Multiprocessing(Pool):
    """K envs in W workers (W - 1 processes and this one in sync mode, W processes in async mode).
    Backend kwargs: `timeout` (seconds one command may take before the worker counts as hung; None:
    forever), `start_method` ("spawn" or "forkserver") and `spin` (see Pool)."""

    def __init__(self, creator, num_env_objects: int, env_kwargs: dict, num_workers: int | None = None,
                 envs_per_batch: int | None = None, seed: int | None = None, timeout: float | None = 60.0,
                 start_method: str = "spawn", spin: float | None = None, final_observations: bool = False):
        if not hasattr(select, "poll"):
            raise ConfigError("the multiprocessing backend waits on its workers with poll(), which this platform "
                              "lacks (Windows): use backend='serial' or 'threads'")
        if start_method not in ("spawn", "forkserver"):
            raise ConfigError(f"start_method={start_method!r} is not supported: use 'spawn' or 'forkserver' "
                              "('fork' copies the parent's threads and locks and is unsafe on macOS)")
        self._ctx = mp.get_context(start_method)
        # Keyed by worker: the processes, our ends of their pipes (commands to each, replies from each),
        # and the envs of the group this process steps itself.
        self._procs: dict[int, mp.Process] = {}
        self._commands: dict = {}
        self._replies: dict = {}
        self._inline_envs: list = []
        # Stops the workers when this object is garbage-collected or at interpreter exit, whichever first.
        self._finalizer = weakref.finalize(self, stop_workers, self._procs, self._commands, self._replies,
                                           self._inline_envs)
        super().__init__(creator, num_env_objects, env_kwargs, num_workers, envs_per_batch, seed, timeout, spin,
                         final_observations)
        self._inline_result: tuple | None = None  # (ok, result or traceback) of the last inline command
        self._poller = select.poll()
        self._spinner = Spinner(self.spin)
        self._owner: dict[int, tuple[int, bool]] = {}  # fd -> (worker, is its process sentinel)
        try:
            self._launch(creator, env_kwargs, start_method)
        except BaseException:
            self.close()
            raise

    def _check_worker_limit(self, num_workers: int) -> None:
        # This process holds 3 descriptors per worker process (its two pipe ends and its sentinel).
        try:
            import resource

            limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        except (ImportError, OSError, ValueError):
            return
        if limit != resource.RLIM_INFINITY and 3 * num_workers + 64 > limit:
            raise ConfigError(f"num_workers={num_workers} worker processes need about {3 * num_workers + 64} open "
                              f"files, over this process's limit of {limit} (ulimit -n): use fewer workers "
                              "(each steps a group of envs) or raise the limit")

    def _allocate(self) -> buf.Buffers:
        final = self.keeps_final_observations
        size = buf.nbytes(self.single_observation_space, self.single_action_space, self.num_agents, final) + 64
        validate.shared_memory(size, f"the buffers of {self.num_agents:,} agents")
        self._memory = self._ctx.RawArray(ctypes.c_uint8, size)
        return buf.allocate(self.single_observation_space, self.single_action_space, self.num_agents, self._memory,
                            final_observations=final)

    def _launch(self, creator, env_kwargs: dict, start_method: str) -> None:
        # PR_SET_PDEATHSIG fires when the thread that started the child exits, so only from the main thread;
        # with forkserver the parent is the server, not us.
        die_with_parent = (sys.platform == "linux" and start_method == "spawn"
                           and threading.current_thread() is threading.main_thread())
        for w in range(self.num_workers):
            if w == self._inline:
                continue
            command_r, command_w = self._ctx.Pipe(duplex=False)
            reply_r, reply_w = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(
                target=worker_main, name=f"puffer-vector-worker-{w}", daemon=True,
                args=(command_r, reply_w, self._memory, creator, env_kwargs, w * self.envs_per_worker,
                      self.envs_per_worker, self.agents_per_env, self.single_observation_space,
                      self.single_action_space, self.num_agents, os.getpid(), die_with_parent, self.spin,
                      self.keeps_final_observations))
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
            self._procs[w] = proc
            self._commands[w] = command_w
            self._replies[w] = reply_r
            self._owner[reply_r.fileno()] = (w, False)
            self._owner[proc.sentinel] = (w, True)
            self._poller.register(reply_r.fileno(), select.POLLIN)
            self._poller.register(proc.sentinel, select.POLLIN)
        self._fds = {w: conn.fileno() for w, conn in self._commands.items()}
        self._stepping = dict.fromkeys(self._fds, "step")
        for w in self._procs:
            self._doing[w] = "start"
        self._running.update(self._procs)
        if self._inline is not None:  # while the worker processes start
            self._inline_envs.extend(make_envs(creator, env_kwargs, self.buffers, self.agents_per_env,
                                               self._inline * self.envs_per_worker, self.envs_per_worker))
        self._wait_started(START_TIMEOUT)

    @property
    def pids(self) -> list[int]:
        """The worker processes' pids, in worker order (in sync mode worker 0 is this process, not listed)."""
        return [proc.pid for proc in self._procs.values()]

    def where(self, w: int) -> str:
        if w == self._inline:
            return f"{super().where(w)}, in the main process"
        return f"{super().where(w)}, pid {self._procs[w].pid if w in self._procs else '?'}"

    # -- talking to workers -------------------------------------------------------------------------------
    def _send(self, w: int, command: bytes, arg) -> None:
        try:
            os.write(self._fds[w], command)
            if command != STEP:
                self._commands[w].send(arg)
        except OSError:
            self._fail(self._death(w))

    def _run_inline(self, command: bytes, arg=None) -> None:
        try:
            self._inline_result = (True, execute(self._inline_envs, 0, command, arg))
        except Exception:
            self._inline_result = (False, traceback.format_exc())
        except BaseException:  # Ctrl-C mid-step: the workers' state is unknown, so stop them
            self._closed = "it was interrupted while stepping"
            self._shutdown()
            raise

    def _step(self):
        # The hot path of sync stepping, _run_all(STEP) without the generality: one byte out to each
        # worker process, group 0 stepped here meanwhile, one byte back from each.
        for w, fd in self._fds.items():
            try:
                os.write(fd, STEP)
            except OSError:
                self._fail(self._death(w))
        self._running.update(self._fds)
        self._doing.update(self._stepping)
        if self._inline is not None:
            self._doing[self._inline] = "step"
            self._run_inline(STEP)
            self._finish_one_or_more(None)  # returns the inline result at once (or raises its error)
        deadline = self._deadline()
        while self._running:
            self._finish_one_or_more(deadline)

    def _wait_done(self, deadline: float | None) -> list[tuple[int, object]]:
        if self._inline_result is not None:
            (ok, result), self._inline_result = self._inline_result, None
            if not ok:
                self._fail(f"{self.where(self._inline)} raised during {self._doing[self._inline]}:\n{result}")
            return [(self._inline, result)]
        ms = None if deadline is None else math.ceil(max(0.0, deadline - time.monotonic()) * 1000)
        poll = self._poller.poll
        events = self._spinner.wait(lambda: poll(0), lambda: poll(ms))
        if not events:
            self._fail(self._hung(sorted(self._running)))
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
        doing = self._doing.get(w, "start")
        message = f"{self.where(w)} {how} during {doing}; its envs are lost."
        if doing == "start" and code == 1:  # died before worker_main could report a traceback
            message += (" It failed while starting Python, before building its envs (its stderr says why). "
                        "Spawned workers import the main script: if that script makes this backend at import "
                        "time, put that code under `if __name__ == \"__main__\":`.")
        return message

    def _shutdown(self) -> None:
        self._finalizer()
        self._running.clear()


def stop_workers(procs: dict, commands: dict, replies: dict, inline_envs: list) -> None:
    """Ask every worker process to exit, then terminate and kill what is left; close the pipes and
    the envs this process stepped itself."""
    for env in inline_envs:
        with suppress(Exception):  # shutting down, maybe after that env failed: the workers must stop regardless
            env.close()
    inline_envs.clear()
    procs, commands, replies = list(procs.values()), list(commands.values()), list(replies.values())
    for conn in commands:
        with suppress(OSError):  # that worker is gone already
            os.write(conn.fileno(), CLOSE)
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
def worker_main(commands, replies, memory, creator, env_kwargs, first_env, num_env_objects, agents_per_env,
                observation_space, action_space, num_agents, parent_pid, die_with_parent, spin,
                final_observations=False):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the main process, which stops us
    if die_with_parent:
        set_parent_death_signal(parent_pid)
    command_fd, reply_fd = commands.fileno(), replies.fileno()
    envs = []
    try:
        try:
            buffers = buf.allocate(observation_space, action_space, num_agents, memory, zero=False,
                                   final_observations=final_observations)
            envs.extend(make_envs(creator, env_kwargs, buffers, agents_per_env, first_env, num_env_objects))
            os.write(reply_fd, OK)
        except Exception:
            reply_error(replies)
        poll = select.poll()
        poll.register(command_fd, select.POLLIN)
        spinner = Spinner(spin)  # in a loop of steps the next command comes within microseconds
        while True:
            spinner.wait(lambda: poll.poll(0), lambda: None)
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
            with suppress(Exception):
                env.close()


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
