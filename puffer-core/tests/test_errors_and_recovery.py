"""Bad input through the public API: each is one clear PufferError raised in the caller before anything is
built or dispatched, and the env or backend stays usable (a correct step afterwards equals serial's), with
no processes or shared memory left behind. Covers sizes, user errors in the threads and multiprocessing
backends, an interrupted threads step, the seed rule, action checks and lifecycle errors."""

import multiprocessing
import os
import signal
import subprocess
import sys
import threading

import gymnasium
import numpy as np
import puffer_core
import pytest
from gymnasium import spaces
from puffer_core import ActionError, ConfigError, StateError, vector
from puffer_core.buffers import check_actions
from puffer_core.emulation import GymnasiumPufferEnv, VectorEnvAdapter
from same_as_serial import assert_same_step
from test_vector_multiprocessing import EXAMPLES, alive, shm_entries

POOLS = ("threads", "multiprocessing")


@pytest.fixture
def cartpole():
    pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")
    return "cartpole"


def make_c(backend, num_env_objects=4, **kw):
    if backend != "serial":
        kw.setdefault("num_workers", 2)
    return vector.make("cartpole", backend=backend, num_env_objects=num_env_objects, env_kwargs={"num_envs": 8}, **kw)


def assert_steps_like_serial(vec, seed=3, steps=20):
    """vec, reset with `seed`, gives the serial backend's trajectories."""
    serial = vector.make("cartpole", num_env_objects=vec.num_env_objects, env_kwargs={"num_envs": vec.agents_per_env})
    np.testing.assert_array_equal(vec.reset(seed=seed)[0], serial.reset(seed=seed)[0])
    rng = np.random.default_rng(0)
    for _ in range(steps):
        actions = rng.integers(0, 2, vec.num_agents)
        assert_same_step(vec.step(actions), serial.step(actions))
    serial.close()


def assert_nothing_left(pids, shm_before):
    assert not any(alive(pid) for pid in pids), "worker processes outlived close()"
    assert not multiprocessing.active_children()
    assert not shm_entries() - shm_before


# -- 3. sizes ----------------------------------------------------------------------------------------

@pytest.mark.timeout(60)  # the old check listed every divisor of num_envs: a hang, not an error
@pytest.mark.parametrize("backend", POOLS)
def test_a_huge_num_envs_that_workers_do_not_divide_is_refused_at_once(cartpole, backend):
    with pytest.raises(ConfigError, match=r"num_env_objects=1000000000000 is not divisible by num_workers=7.*"
                                          r"num_workers=8 \(a divisor of num_env_objects\).*"
                                          r"999999999999 or 1000000000006"):
        vector.make(cartpole, backend=backend, num_env_objects=10**12, num_workers=7)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ["serial", *POOLS])
def test_buffers_that_cannot_fit_in_memory_are_refused_before_anything_starts(cartpole, backend):
    shm_before = shm_entries()
    workers = {} if backend == "serial" else {"num_workers": 8}
    with pytest.raises(ConfigError, match=r"the buffers of 8,000,000,000,000 agents need [\d.]+ TiB of memory, "
                                          r"but only .* is available: use fewer envs"):
        vector.make(cartpole, backend=backend, num_env_objects=10**12, env_kwargs={"num_envs": 8}, **workers)
    assert_nothing_left([], shm_before)


@pytest.mark.parametrize("arg, value", [("num_env_objects", True), ("num_env_objects", 2.0), ("num_env_objects", 0),
                                        ("num_env_objects", "4"), ("num_workers", True), ("num_workers", 1.5),
                                        ("envs_per_batch", True)])
def test_sizes_must_be_integers_and_bools_are_refused(cartpole, arg, value):
    kwargs = {"num_env_objects": 4, "num_workers": 2, arg: value}
    with pytest.raises(ConfigError, match=rf"{arg} must be an integer >= 1, got {value!r}"):
        vector.make(cartpole, backend="threads", env_kwargs={"num_envs": 8}, **kwargs)


def test_numpy_integer_sizes_work_like_ints(cartpole):
    with vector.make(cartpole, backend="threads", num_env_objects=np.int64(4), num_workers=np.int32(2),
                     envs_per_batch=np.int16(4), env_kwargs={"num_envs": 8}) as vec:
        assert (vec.num_env_objects, vec.num_workers, vec.envs_per_batch) == (4, 2, 4)
        assert all(type(x) is int for x in (vec.num_env_objects, vec.num_workers, vec.envs_per_batch))
        assert_steps_like_serial(vec)


def test_more_workers_than_envs_is_refused(cartpole):
    with pytest.raises(ConfigError, match=r"num_workers=8 is more than num_env_objects=4: every worker steps"):
        make_c("multiprocessing", num_workers=8)
    assert not multiprocessing.active_children()


def test_more_worker_processes_than_open_files_allow_are_refused_before_any_starts():
    script = ("import resource, multiprocessing, puffer_core\n"
              "resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
              "from numpy_cartpole import NumpyCartPole\n"
              "try:\n"
              "    puffer_core.vector.make(NumpyCartPole, backend='multiprocessing', num_env_objects=100,\n"
              "                            num_workers=100)\n"
              "except puffer_core.ConfigError as e:\n"
              "    print(type(e).__name__, e, multiprocessing.active_children())\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(EXAMPLES)})
    assert out.stdout.startswith("ConfigError num_workers=100 worker processes need about 364 open files, over "
                                 "this process's limit of 256 (ulimit -n)"), out.stdout + out.stderr
    assert out.stdout.rstrip().endswith("[]")  # no worker was started


def test_a_c_env_with_more_envs_than_a_c_int_counts_is_refused(cartpole):
    with pytest.raises(ConfigError, match=r"num_envs must be a positive integer of at most 2147483647"):
        puffer_core.make(cartpole, num_envs=2**31)


# -- 4. user errors leave the threads and multiprocessing backends usable -------------------------------

BAD_CALLS = {
    "step before reset": (lambda vec: vec.step(np.zeros(vec.num_agents, np.int32)), StateError,
                          r"step\(\) was called before reset\(\): call reset\(\)"),
    "string seed": (lambda vec: vec.reset(seed="abc"), ConfigError, r"seed='abc' \(str\) is not a seed"),
    "float seed": (lambda vec: vec.reset(seed=1.5), ConfigError, r"seed=1.5 \(float\) is not a seed"),
    "async string seed": (lambda vec: vec.async_reset(seed="7"), ConfigError, r"seed='7' \(str\) is not a seed"),
    "seed beyond 2**63": (lambda vec: vec.reset(seed=2**64 + 5), ConfigError,
                          r"seed=18446744073709551621 is out of range: seeds are integers in 0..2\*\*63-1"),
    "bad actions": (lambda vec: (vec.reset(seed=0), vec.step(np.full(vec.num_agents, 7))), ActionError,
                    r"action 7 for agent 0 is outside Discrete\(2\)"),
}


@pytest.mark.parametrize("call", list(BAD_CALLS))
@pytest.mark.parametrize("backend", POOLS)
def test_a_user_error_is_raised_in_the_caller_and_the_backend_keeps_working(cartpole, backend, call):
    shm_before = shm_entries()
    bad, error, message = BAD_CALLS[call]
    vec = make_c(backend)
    pids = list(getattr(vec, "pids", []))
    try:
        with pytest.raises(error, match=message):
            bad(vec)
        with pytest.raises(error, match=message):  # as often as it is repeated
            bad(vec)
        assert_steps_like_serial(vec)
        assert list(getattr(vec, "pids", [])) == pids and all(alive(pid) for pid in pids)  # the same workers
    finally:
        vec.close()
    assert_nothing_left(pids, shm_before)


def test_a_numpy_seed_on_emulated_gymnasium_envs_in_worker_processes():
    serial = vector.make("gym:CartPole-v1", num_env_objects=2)
    with vector.make("gym:CartPole-v1", backend="multiprocessing", num_env_objects=2, num_workers=2) as vec:
        np.testing.assert_array_equal(vec.reset(seed=np.int64(5))[0], serial.reset(seed=5)[0])
        for _ in range(30):
            assert_same_step(vec.step(np.array([1, 0])), serial.step(np.array([1, 0])))


# -- 4. an interrupted threads step is recovered by reset() ---------------------------------------------

def interrupt_main_after(seconds: float) -> threading.Timer:
    """Ctrl-C as the terminal sends it: SIGINT to the main thread (waking it from a blocking wait)."""
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


@pytest.fixture
def interrupting_cartpole(cartpole):
    """The C cartpole whose Python-side step (the group the calling thread steps itself in sync mode) raises
    KeyboardInterrupt once, as Ctrl-C would there, while the other threads step their groups in C."""
    base = type(puffer_core.make(cartpole, num_envs=1))

    class Interrupting(base):
        header = str(base.header_path())  # next to the plugin's module, not this one
        interrupt_on = 3  # the step of the calling thread's group that is interrupted (0: never)

        def _step(self):
            if threading.current_thread() is threading.main_thread():
                Interrupting.interrupt_on -= 1
                if Interrupting.interrupt_on == 0:
                    raise KeyboardInterrupt
            super()._step()

    return Interrupting


@pytest.mark.timeout(60)
@pytest.mark.parametrize("spin", [0.001, 0.0])  # steps handed off through the C gates / through the queues
def test_reset_after_ctrl_c_in_a_threads_step_recovers_without_a_false_hang(interrupting_cartpole, spin):
    vec = vector.make(interrupting_cartpole, backend="threads", num_env_objects=4, num_workers=2, spin=spin, timeout=5,
                      env_kwargs={"num_envs": 8})
    try:
        vec.reset(seed=1)
        actions = np.zeros(vec.num_agents, np.int32)
        with pytest.raises(KeyboardInterrupt):
            for _ in range(10):
                vec.step(actions)
        with pytest.raises(StateError, match=r"interrupted \(KeyboardInterrupt\).*call reset\(\)"):
            vec.step(actions)
        assert_steps_like_serial(vec)  # the old code: WorkerError "thread 1 ... looks hung" after the timeout
        assert vec.log()["n"] >= 0
    finally:
        vec.close()


@pytest.mark.timeout(60)
def test_reset_after_sigint_while_waiting_for_a_slow_thread_recovers():
    from slow_env import GilFreeSlow

    vec = vector.make(GilFreeSlow, backend="threads", num_env_objects=2, num_workers=2, timeout=5)
    serial = vector.make(GilFreeSlow, num_env_objects=2)
    try:
        vec.reset(seed=0)
        actions = np.zeros(vec.num_agents, np.int64)
        timer = interrupt_main_after(0.01)  # while thread 1 sleeps in its env seeded 1 (0.05 s per step)
        with pytest.raises(KeyboardInterrupt):
            for _ in range(100):
                vec.step(actions)
        timer.join()
        np.testing.assert_array_equal(vec.reset(seed=4)[0], serial.reset(seed=4)[0])
        for _ in range(3):
            assert_same_step(vec.step(actions), serial.step(actions))
    finally:
        vec.close()


# -- 5. one seed rule for every env and backend -------------------------------------------------------

def seedable():
    """(name, maker) of every kind of env reset(seed=...) reaches."""
    def c_env():
        pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")
        return puffer_core.make("cartpole", num_envs=4)

    def pool(backend):
        def make():
            pytest.importorskip("puffer_envs_cartpole", reason="the C cartpole plugin is not installed")
            return make_c(backend)
        return make

    return [("C env", c_env), ("gymnasium emulation", lambda: puffer_core.make("gym:CartPole-v1")),
            ("serial", pool("serial")), ("threads", pool("threads")), ("multiprocessing", pool("multiprocessing")),
            ("gymnasium VectorEnv adapter", lambda: VectorEnvAdapter(puffer_core.make("gym:CartPole-v1")))]


BAD_SEEDS = [("7", r"seed='7' \(str\) is not a seed"), (1.5, r"seed=1.5 \(float\) is not a seed"),
             (np.float64(3.0), r"seed=.*3.0.* \(float64\) is not a seed"), (True, r"seed=True \(bool\) is not a seed"),
             (-1, r"seed=-1 is out of range"), (2**63, r"seed=9223372036854775808 is out of range"),
             (2**64 + 5, r"seed=18446744073709551621 is out of range")]


@pytest.mark.parametrize("name, maker", seedable(), ids=[n for n, _ in seedable()])
def test_every_env_follows_one_seed_rule(name, maker):
    env = maker()
    try:
        for seed, message in BAD_SEEDS:
            with pytest.raises(ConfigError, match=message + r".*0..2\*\*63-1"):
                env.reset(seed=seed)
        first = np.array(env.reset(seed=7)[0])
        np.testing.assert_array_equal(env.reset(seed=np.int64(7))[0], first)  # numpy ints are ints
        np.testing.assert_array_equal(env.reset(seed=np.uint8(7))[0], first)
        env.reset(seed=2**63 - 8)  # the top of the range works
    finally:
        env.close()


def test_a_vector_env_needs_every_env_seed_in_range(cartpole):
    with pytest.raises(ConfigError, match=r"seeds its 4 envs with seed \+ 0 .. seed \+ 3, so at most 2\*\*63-4"):
        make_c("serial", seed=2**63 - 2)
    with pytest.raises(ConfigError, match=r"seed=-3 is out of range"):
        make_c("threads", seed=-3)


# -- 6. action checks ------------------------------------------------------------------------------------

def test_float64_box_actions_beyond_float32_are_action_errors():
    env = puffer_core.make("gym:Pendulum-v1")
    env.reset(seed=0)
    with pytest.raises(ActionError, match=r"action for agent 0 \(component 0\) is 1e\+300, beyond float32's range"):
        env.step(np.array([[1e300]]))
    with pytest.raises(ActionError, match=r"is NaN or infinite"):
        env.step(np.array([[np.nan]], np.float32))
    before = env.env.unwrapped.state.copy()
    env.step(np.array([[0.5]]))  # float64 that fits is fine
    assert np.isfinite(env.observations).all() and not np.array_equal(env.env.unwrapped.state, before)
    env.close()


def test_a_multidiscrete_error_gives_the_range_of_the_offending_component():
    space = spaces.MultiDiscrete([7, 3])
    with pytest.raises(ActionError, match=r"action 5 for agent 1 \(component 1\) is outside MultiDiscrete\(\[7 3\]\) "
                                          r"\(valid range 0..2\)"):
        check_actions(np.array([[6, 2], [0, 5]]), space, 2)
    with pytest.raises(ActionError, match=r"(?s)action -1 for agent 0 \(component \[1, 0\]\) .*\(valid range 10..13\)"):
        check_actions(np.array([[[0, 0], [-1, 0]]]), spaces.MultiDiscrete([[2, 2], [4, 2]], start=[[0, 0], [10, 0]]),
                      1)
    np.testing.assert_array_equal(check_actions(np.array([[6, 2]]), space, 1), [[6, 2]])


# -- 7. lifecycle and type errors ---------------------------------------------------------------------

@pytest.mark.parametrize("name", [None, 5, b"cartpole", ["cartpole"]])
def test_an_env_name_that_is_not_a_string_is_a_config_error(name):
    with pytest.raises(ConfigError, match=r"an env name is a string such as 'cartpole'"):
        puffer_core.make(name)
    with pytest.raises(ConfigError, match=r"env must be a registered name, an EnvSpec or a callable"):
        vector.make(name)


def test_an_emulated_gymnasium_env_before_reset_and_after_close_is_a_state_error():
    env = GymnasiumPufferEnv(lambda: gymnasium.make("CartPole-v1"))
    action = np.zeros(1, np.int32)
    with pytest.raises(StateError, match=r"GymnasiumPufferEnv of CartPole-v1: step\(\) was called before reset"):
        env.step(action)
    env.reset(seed=0)
    env.step(action)  # the error left nothing behind
    env.close()
    for call in (lambda: env.step(action), lambda: env.reset(seed=0)):
        with pytest.raises(StateError, match=r"GymnasiumPufferEnv of CartPole-v1: it was closed: make a new one"):
            call()


def test_an_emulated_pettingzoo_env_before_reset_and_after_close_is_a_state_error():
    pytest.importorskip("pettingzoo")
    from puffer_core.emulation import PettingZooPufferEnv
    from test_emulation import TagEnv

    env = PettingZooPufferEnv(TagEnv)
    actions = np.zeros(3, np.int32)
    with pytest.raises(StateError, match=r"PettingZooPufferEnv of TagEnv: step\(\) was called before reset"):
        env.step(actions)
    env.reset(seed=0)
    env.step(actions)
    env.close()
    with pytest.raises(StateError, match=r"PettingZooPufferEnv of TagEnv: it was closed"):
        env.step(actions)


def test_a_c_env_before_reset_and_after_close_is_a_state_error(cartpole):
    env = puffer_core.make(cartpole, num_envs=2)
    with pytest.raises(StateError, match=r"step\(\) called before reset\(\)"):
        env.step(np.zeros(2, np.int32))
    env.close()
    with pytest.raises(StateError, match=r"is closed: make a new one"):
        env.reset(seed=0)


@pytest.mark.parametrize("old, new", [({"batch_size": 2}, "batch_size is called envs_per_batch: it counts env objects"),
                                      ({"num_envs": 4}, "num_envs is called num_env_objects: it counts env objects")])
def test_old_vector_kwargs_name_their_new_names(old, new):
    with pytest.raises(ConfigError, match=new):
        vector.make("cartpole", backend="threads", num_workers=2, **old)
