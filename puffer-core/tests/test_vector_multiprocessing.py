"""The multiprocessing backend with real worker processes: the same trajectories as serial, EnvPool-style
async batches, and every failure (an env that raises, a worker killed or hung, bad actions, Ctrl-C,
a dead parent) is one clear error with no process and no shared memory left behind."""

import gc
import importlib
import multiprocessing
import multiprocessing.resource_tracker
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import puffer_core
import pytest
from puffer_core import ActionError, ConfigError, PufferError, WorkerError

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
# Spawned workers unpickle env classes by module name: conftest.py puts examples/ and this folder on
# sys.path, and the test envs below are imported from this file under its plain file name (pytest's
# own module name for it is not importable).
from numpy_cartpole import NumpyCartPole  # noqa: E402
from same_as_serial import assert_c_cartpole_matches_serial, assert_same_step, check_async_batches  # noqa: E402
from slow_env import Slow  # noqa: E402

SHM = Path("/dev/shm")


class Faulty(NumpyCartPole):
    """CartPole that fails on purpose in a worker process (`in_main=True`: only in the main process's
    group 0, never in its probe, which passes no buffers): `when` is "init", "reset" or the step
    number; `how` is "raise", "hang" or "crash"."""

    def __init__(self, when=3, how="raise", in_main=False, num_envs=1, buffers=None):
        self.when, self.how, self.count = when, how, 0
        in_main_process = multiprocessing.parent_process() is None
        self.in_worker = buffers is not None and in_main_process == in_main
        self._maybe_fail("init")
        super().__init__(num_envs=num_envs, buffers=buffers)

    def _maybe_fail(self, moment):
        if not self.in_worker or moment != self.when:
            return
        if self.how == "raise":
            raise RuntimeError(f"env failed on purpose in {moment}")
        if self.how == "hang":
            time.sleep(3600)
        if self.how == "crash":
            os.kill(os.getpid(), signal.SIGSEGV)

    def _reset(self, seed):
        self._maybe_fail("reset")
        super()._reset(seed)

    def _step(self):
        self.count += 1
        self._maybe_fail(self.count)
        super()._step()

    def render(self):
        return self.observations.copy()


def worker_env(name):
    """The class `name` of this file imported under its plain name, which worker processes import too."""
    return getattr(importlib.import_module(Path(__file__).stem), name)


def make(creator=NumpyCartPole, num_env_objects=4, num_workers=2, env_kwargs=None, **kw):
    return puffer_core.vector.make(creator, backend="multiprocessing", num_env_objects=num_env_objects,
                                   num_workers=num_workers,
                                   env_kwargs={"num_envs": 3, **(env_kwargs or {})}, **kw)


def shm_entries() -> set[str]:
    # Only names Python's multiprocessing creates: other programs on this machine may use /dev/shm too.
    if not SHM.is_dir():
        return set()
    return {name for name in os.listdir(SHM) if name.startswith(("pym-", "psm_", "sem.mp-"))}


def proc_stat(pid) -> list[str] | None:
    """Linux /proc/<pid>/stat fields after the command name (state, ppid, ...); None if no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    """Whether pid is a running process (not gone, not a zombie)."""
    if not Path("/proc/self/stat").exists():  # macOS: no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    stat = proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def children() -> set[int]:
    """Running child processes of this one: on Linux read from /proc, so it sees any process we started."""
    if not Path("/proc/self/stat").exists():
        return {p.pid for p in multiprocessing.active_children()}
    me = str(os.getpid())
    return {int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()
            and (stat := proc_stat(d.name)) is not None and stat[1] == me and stat[0] != "Z"}


@pytest.fixture(autouse=True)
def no_leftovers():
    """Every test must leave no worker process and no shared-memory file behind."""
    multiprocessing.resource_tracker.ensure_running()  # started once by the first spawn; not a leftover
    before_children, before_shm = children(), shm_entries()
    yield
    # close() and every error path join the workers before returning: no grace period here.
    assert not children() - before_children, "worker processes left running"
    assert not shm_entries() - before_shm, "shared memory left in /dev/shm"


@pytest.mark.parametrize("num_workers,spin", [(1, None), (2, None), (2, 0), (4, 0.001)])
def test_trajectories_equal_serial(num_workers, spin, start_method="spawn"):
    serial = puffer_core.vector.make(NumpyCartPole, num_env_objects=4, env_kwargs={"num_envs": 3}, seed=11)
    with make(num_workers=num_workers, seed=11, start_method=start_method, spin=spin) as vec:
        assert vec.num_agents == serial.num_agents == 12
        np.testing.assert_array_equal(vec.reset()[0], serial.reset()[0])
        rng = np.random.default_rng(0)
        for _ in range(300):
            actions = rng.integers(0, 2, vec.num_agents)
            assert_same_step(vec.step(actions), serial.step(actions))
        vec.actions[:] = 1  # the zero-copy path: actions written in place
        serial.actions[:] = 1
        assert_same_step(vec.step(vec.actions), serial.step(serial.actions))
        logs = vec.log()
        assert logs == serial.log() and logs["n"] > 10
        assert vec.log() == {}
        # A new seed restarts every env exactly as serial does.
        np.testing.assert_array_equal(vec.reset(seed=5)[0], serial.reset(seed=5)[0])


def test_a_c_env_in_worker_processes_gives_serial_trajectories():
    assert_c_cartpole_matches_serial("multiprocessing", num_workers=2)


def test_async_batches_match_serial_per_env():
    """EnvPool-style: recv returns the first 2 envs to finish; each env's trajectory equals a single
    env's with seed + i, whatever order the batches come back in."""
    with make(Slow, num_env_objects=4, num_workers=4, envs_per_batch=2, env_kwargs={"num_envs": 2}, seed=3) as vec:
        gathered, _ = check_async_batches(vec, NumpyCartPole, seed=3, per_env=2)
        obs, *_ = vec.recv()
        assert obs.shape == (4, 4)
        with pytest.raises(PufferError, match="recv\\(\\) called twice"):
            vec.recv()
    assert gathered, "with env 1 slow, some batch should have been non-contiguous workers"


def test_bad_actions_are_clear_errors_and_the_backend_keeps_working():
    serial = puffer_core.vector.make(NumpyCartPole, num_env_objects=4, env_kwargs={"num_envs": 3}, seed=0)
    with make(seed=0) as vec:
        vec.reset()
        serial.reset()
        before = vec.observations.copy()
        for actions, message in [(np.zeros(12, np.float32), "dtype float32"), (np.zeros(11, np.int32), "shape"),
                                 (np.full(12, 2), "outside")]:
            with pytest.raises(ActionError, match=message):
                vec.step(actions)
        np.testing.assert_array_equal(vec.observations, before)
        good = np.ones(12, np.int32)
        assert_same_step(vec.step(good), serial.step(good))


def test_an_env_that_raises_in_step_surfaces_its_traceback():
    vec = make(worker_env("Faulty"), env_kwargs={"when": 3}, seed=0, timeout=10)
    pids = vec.pids
    vec.reset()
    vec.step(vec.actions)
    vec.step(vec.actions)
    with pytest.raises(WorkerError) as info:
        vec.step(vec.actions)
    message = str(info.value)
    assert "raised during step" in message and "Traceback" in message
    assert "env failed on purpose in 3" in message and "in _step" in message
    assert f"worker 1 (envs 2..3, agent rows 6..11), pid {pids[0]} raised during step" in message
    with pytest.raises(PufferError, match="closed after an error"):
        vec.step(vec.actions)
    assert not any(alive(pid) for pid in pids)


def test_an_env_that_raises_in_the_main_process_group_is_a_worker_error_too():
    vec = make(worker_env("Faulty"), env_kwargs={"when": 2, "in_main": True}, seed=0)
    pids = vec.pids
    vec.reset()
    vec.step(vec.actions)
    with pytest.raises(WorkerError, match=r"(?s)worker 0 \(envs 0..1, agent rows 0..5\), in the main process "
                                          r"raised during step.*env failed on purpose in 2"):
        vec.step(vec.actions)
    with pytest.raises(PufferError, match="closed after an error"):
        vec.step(vec.actions)
    assert not any(alive(pid) for pid in pids)


def test_sync_mode_steps_group_0_here_async_mode_in_processes():
    """Sync: W workers are this process and W - 1 processes; async: W processes, since the caller
    must be free while envs step. Spinning is on only when the busy processes fit on the cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with make(num_workers=2, seed=0) as sync, make(num_workers=2, envs_per_batch=2, seed=0) as batched:
        assert len(sync.pids) == 1 and len(batched.pids) == 2
        assert os.getpid() not in sync.pids + batched.pids
        assert (sync.spin > 0) == (cores >= 2) and (batched.spin > 0) == (cores >= 3)
    with make(num_workers=1, seed=0) as alone:  # one worker in sync mode: no process at all
        assert alone.pids == []
        alone.reset()
        alone.step(alone.actions)


@pytest.mark.parametrize("when", ["init", "reset"])
def test_an_env_that_raises_in_init_or_reset(when):
    with pytest.raises(WorkerError, match=f"(?s)raised during {'start' if when == 'init' else 'reset'}.*"
                                          f"env failed on purpose in {when}"):
        vec = make(worker_env("Faulty"), env_kwargs={"when": when}, seed=0)
        vec.reset()


def test_a_worker_killed_with_sigkill_is_reported_quickly():
    vec = make(seed=0)
    vec.reset()
    victim = vec.pids[0]  # worker 1: worker 0 is this process
    os.kill(victim, signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(WorkerError) as info:
        for _ in range(1_000_000):
            vec.step(vec.actions)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert f"worker 1 (envs 2..3, agent rows 6..11), pid {victim} was killed by signal SIGKILL" in message


def test_a_worker_that_segfaults_is_reported():
    vec = make(worker_env("Faulty"), env_kwargs={"when": 2, "how": "crash"}, seed=0)
    vec.reset()
    vec.step(vec.actions)
    with pytest.raises(WorkerError, match="killed by signal SIGSEGV"):
        vec.step(vec.actions)


def test_a_hung_worker_times_out():
    vec = make(worker_env("Faulty"), env_kwargs={"when": 2, "how": "hang"}, seed=0, timeout=1.0)
    vec.reset()
    vec.step(vec.actions)
    start = time.monotonic()
    with pytest.raises(WorkerError, match="did not finish step within 1.0 s"):
        vec.step(vec.actions)
    assert time.monotonic() - start < 8  # 1 s timeout, then up to 2 s to stop the workers


def test_close_twice_and_garbage_collection_leave_nothing():
    vec = make(seed=0)
    vec.reset()
    vec.close()
    vec.close()
    with pytest.raises(PufferError, match="closed"):
        vec.step(vec.actions)
    vec = make(seed=0)
    pids = vec.pids
    del vec
    gc.collect()
    assert not any(alive(pid) for pid in pids)


def test_async_bad_actions_render_and_log():
    with make(worker_env("Faulty"), env_kwargs={"when": -1}, num_workers=2, envs_per_batch=2,
              seed=0) as vec:
        vec.async_reset()
        *_, ids, _ = vec.recv()
        with pytest.raises(ActionError, match="shape"):
            vec.send(np.zeros(12, np.int32))  # every agent's actions, not the batch's 6
        vec.send(np.zeros(len(ids), np.int32))
        # render and log first wait for the workers in flight; their batch is still recv()'d afterwards
        np.testing.assert_array_equal(vec.render(), vec.observations[:3])
        assert vec.log() == {}
        assert len(vec.recv()[5]) == 6


def test_config_errors():
    with pytest.raises(ConfigError, match="not divisible by num_workers=3"):
        make(num_env_objects=4, num_workers=3)
    with pytest.raises(ConfigError, match="multiple of the env objects per worker"):
        make(num_env_objects=4, num_workers=2, envs_per_batch=3)
    with pytest.raises(ConfigError, match="start_method"):
        make(start_method="fork")
    with pytest.raises(ConfigError, match="spin must be seconds"):
        make(spin=-1)
    with pytest.raises(ConfigError, match="cannot be sent to worker processes"):
        make(lambda **kw: NumpyCartPole(**kw))


def test_forkserver_start_method(tmp_path):
    # In a subprocess: the fork server lives as long as the process that started it.
    script = tmp_path / "forkserver.py"
    script.write_text(f"""
import sys
sys.path[:0] = [{str(HERE)!r}, {str(EXAMPLES)!r}]
from test_vector_multiprocessing import test_trajectories_equal_serial

if __name__ == "__main__":
    test_trajectories_equal_serial(2, None, start_method="forkserver")
    print("same trajectories")
""")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "same trajectories" in out.stdout, out.stderr


SCRIPT = """
import sys
sys.path.insert(0, {examples!r})
import puffer_core
from numpy_cartpole import NumpyCartPole

if __name__ == "__main__":
    vec = puffer_core.vector.make(NumpyCartPole, backend="multiprocessing", num_env_objects=3, num_workers=3, seed=0)
    vec.reset()
    print(*vec.pids, flush=True)
    while True:
        vec.step(vec.actions)
"""


def test_a_script_without_a_main_guard_gets_a_hint(tmp_path):
    """The classic spawn mistake: workers re-import the main script, which makes workers again."""
    script = tmp_path / "unguarded.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(EXAMPLES)!r})
import puffer_core
from numpy_cartpole import NumpyCartPole
vec = puffer_core.vector.make(NumpyCartPole, backend="multiprocessing", num_env_objects=2, num_workers=2, seed=0)
""")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "WorkerError" in out.stderr and 'if __name__ == "__main__":' in out.stderr, out.stderr[-2000:]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_ctrl_c_or_a_killed_parent_leaves_nothing(tmp_path, sig):
    """Ctrl-C in the main process stops its workers; a main process killed outright takes them along."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(examples=str(EXAMPLES)))
    shm_before = shm_entries()
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2, proc.stderr.read()
        time.sleep(0.2)
        proc.send_signal(sig)
        proc.wait(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in proc.stderr.read()
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids), "workers outlived their main process"
    assert not shm_entries() - shm_before
