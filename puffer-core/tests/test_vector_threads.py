"""The threads backend: the same trajectories as serial, EnvPool-style async batches, and an exception or
a hang in a thread is a WorkerError; envs that hold the GIL are refused."""

import gc
import os
import threading
import time

import numpy as np
import puffer_core
import pytest
from puffer_core import ActionError, ConfigError, PufferError, WorkerError
from same_as_serial import assert_c_cartpole_matches_serial, assert_same_step, check_async_batches


@pytest.fixture
def envs(numpy_cartpole):
    """GIL-releasing stand-ins built on the example NumpyCartPole (its big numpy ops do release the GIL;
    the flag is what the backend checks)."""
    cartpole = numpy_cartpole.NumpyCartPole

    class GilFree(cartpole):
        releases_gil = True

    class Faulty(GilFree):
        """Raises on step `when` of the env seeded `fail_seed`, or sleeps there (time.sleep releases the GIL)."""

        def __init__(self, when=3, how="raise", fail_seed=0, **kwargs):
            self.when, self.how, self.fail_seed, self.count, self.seed = when, how, fail_seed, 0, None
            super().__init__(**kwargs)

        def _reset(self, seed):
            self.seed = seed
            super()._reset(seed)

        def _step(self):
            self.count += 1
            if self.count == self.when and self.seed == self.fail_seed:
                if self.how == "raise":
                    raise RuntimeError(f"env failed on purpose at step {self.count}")
                time.sleep(2)
            super()._step()

    from slow_env import GilFreeSlow

    return type("Envs", (), {"cartpole": cartpole, "GilFree": GilFree, "Faulty": Faulty, "Slow": GilFreeSlow})


def make(creator, num_env_objects=4, num_workers=2, env_kwargs=None, **kw):
    return puffer_core.vector.make(creator, backend="threads", num_env_objects=num_env_objects, num_workers=num_workers,
                                   env_kwargs={"num_envs": 3, **(env_kwargs or {})}, **kw)


def test_envs_that_hold_the_gil_are_refused(envs):
    with pytest.raises(ConfigError, match="backend='multiprocessing'"):
        make(envs.cartpole)


@pytest.mark.parametrize("spin", [-0.1, 2, "fast", True])
def test_a_bad_spin_is_a_config_error(envs, spin):
    with pytest.raises(ConfigError, match="spin must be seconds"):
        make(envs.GilFree, spin=spin)


@pytest.mark.parametrize("num_workers,spin", [(1, None), (2, None), (2, 0), (4, 0.001)])
def test_trajectories_equal_serial(envs, num_workers, spin):
    """Whether threads spin (by default only where every busy thread has a core) or block at once."""
    serial = puffer_core.vector.make(envs.GilFree, num_env_objects=4, env_kwargs={"num_envs": 3}, seed=11)
    with make(envs.GilFree, num_workers=num_workers, seed=11, spin=spin) as vec:
        assert vec.spin == (spin if spin is not None else
                            (0.001 if num_workers <= len(os.sched_getaffinity(0)) else 0.0))
        np.testing.assert_array_equal(vec.reset()[0], serial.reset()[0])
        rng = np.random.default_rng(0)
        for _ in range(300):
            actions = rng.integers(0, 2, vec.num_agents)
            assert_same_step(vec.step(actions), serial.step(actions))
        logs = vec.log()
        assert logs == serial.log() and logs["n"] > 10


def test_async_batches_match_serial_per_env(envs):
    with make(envs.Slow, num_workers=4, envs_per_batch=2, env_kwargs={"num_envs": 2}, seed=3) as vec:
        gathered, _ = check_async_batches(vec, envs.cartpole, seed=3, per_env=2)
    assert gathered


@pytest.mark.parametrize("fail_seed, worker", [(0, 0), (3, 1)])  # worker 0 runs in the calling thread
def test_an_exception_in_a_thread_is_a_worker_error(envs, fail_seed, worker):
    vec = make(envs.Faulty, env_kwargs={"fail_seed": fail_seed}, seed=0)
    vec.reset()
    vec.step(vec.actions)
    vec.step(vec.actions)
    with pytest.raises(WorkerError) as info:
        vec.step(vec.actions)
    message = str(info.value)
    assert message.startswith(f"thread {worker} (envs {2 * worker}..{2 * worker + 1}")
    assert "raised during step" in message
    assert "Traceback" in message and "env failed on purpose at step 3" in message
    with pytest.raises(PufferError, match="closed after an error"):
        vec.step(vec.actions)


def test_a_hung_thread_times_out(envs):
    vec = make(envs.Faulty, env_kwargs={"when": 2, "fail_seed": 2, "how": "hang"}, seed=0, timeout=0.5)
    vec.reset()
    vec.step(vec.actions)
    with pytest.raises(WorkerError, match="thread 1 .* did not finish step within 0.5 s"):
        vec.step(vec.actions)


def test_bad_actions_are_clear_errors_and_the_backend_keeps_working(envs):
    with make(envs.GilFree, seed=0) as vec:
        vec.reset()
        for actions, message in [(np.zeros(12, np.float32), "dtype float32"), (np.zeros(11, np.int32), "shape"),
                                 (np.full(12, -1), "outside")]:
            with pytest.raises(ActionError, match=message):
                vec.step(actions)
        vec.step(np.ones(12, np.int32))
    with make(envs.GilFree, num_workers=4, envs_per_batch=2, seed=0) as vec:
        vec.async_reset()
        vec.recv()
        with pytest.raises(ActionError, match="shape"):
            vec.send(np.zeros(12, np.int32))
        vec.send(np.zeros(6, np.int32))
        assert len(vec.recv()[5]) == 6


def test_close_and_garbage_collection_stop_the_threads(envs):
    before = set(threading.enumerate())  # a hung thread of an earlier test may still be finishing its sleep
    new_threads = lambda: len(set(threading.enumerate()) - before)
    vec = make(envs.GilFree, num_workers=4, envs_per_batch=2, seed=0)
    assert new_threads() == 4  # async: every group has its thread
    vec.close()
    vec.close()
    assert new_threads() == 0
    with pytest.raises(PufferError, match="closed"):
        vec.reset()
    vec = make(envs.GilFree, num_workers=4, seed=0)
    assert new_threads() == 3  # sync: the caller steps group 0 itself
    del vec
    gc.collect()
    assert new_threads() == 0


@pytest.mark.parametrize("num_workers", [2, 4])
def test_a_c_env_gives_serial_trajectories(num_workers):
    """The real thing threads are for: a compiled C env whose step releases the GIL."""
    assert_c_cartpole_matches_serial("threads", num_workers)


@pytest.mark.parametrize("objects_per_thread", [1, 3])
def test_c_envs_hand_off_steps_through_gates_with_serial_trajectories(objects_per_thread):
    """Sync stepping of C envs (one or several env objects per thread) goes through the GIL-free gates
    of puffer.h: same trajectories as serial across resets, logs and an idle spell (after which the
    thread has left C and must be woken through its queue); close leaves no thread behind."""
    pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")
    before = set(threading.enumerate())
    num_envs = 2 * objects_per_thread
    serial = puffer_core.vector.make("cartpole", num_env_objects=num_envs, env_kwargs={"num_envs": 16}, seed=3)
    vec = puffer_core.vector.make("cartpole", backend="threads", num_env_objects=num_envs, num_workers=2,
                                  env_kwargs={"num_envs": 16}, seed=3, spin=0.0005)
    assert list(vec._gates) == [1]
    rng = np.random.default_rng(0)
    for seed in (None, 7):
        np.testing.assert_array_equal(vec.reset(seed)[0], serial.reset(seed)[0])
        for t in range(200):
            actions = rng.integers(0, 2, 16 * num_envs)
            assert_same_step(vec.step(actions), serial.step(actions))
            if t == 50:
                time.sleep(0.01)  # idle: the thread leaves C for its queue
            if t == 100:
                assert vec.log() == serial.log()
    assert vec._generation == 400  # every step went through the gate
    vec.close()
    assert not set(threading.enumerate()) - before


def test_a_gated_thread_that_hangs_times_out(envs):
    class HungServer(envs.GilFree):
        """A servable env (puffer.h's gate protocol, in Python) whose thread never finishes a step."""

        def _serve(self, gate, spin, others=()):
            gate[2] = 1
            while gate[0] >= 0:
                time.sleep(0.001)  # "stepping" forever: gate[1] is never marked done
            gate[2] = 0

        def _open_gate(self, gate, go):
            gate[0] = go
            return bool(gate[2])

        def _wait_gate(self, gate, go, spin, timeout):
            end = time.monotonic() + timeout
            while gate[1] != go:
                if time.monotonic() > end:
                    return False
                time.sleep(0.001)
            return True

    vec = make(HungServer, num_env_objects=2, seed=0, timeout=0.3, spin=0.001)
    assert list(vec._gates) == [1]
    vec.reset()
    start = time.monotonic()
    with pytest.raises(WorkerError, match=r"thread 1 .* did not finish step within 0.3 s"):
        vec.step(vec.actions)
    assert time.monotonic() - start < 3
    with pytest.raises(PufferError, match="closed after an error"):
        vec.step(vec.actions)
