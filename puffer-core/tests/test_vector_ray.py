"""The Ray backend on a real two-node Ray cluster (ray.cluster_utils: a head and a second raylet, each a
set of real processes on this machine): serial's trajectories for a C env and an emulated Gymnasium
env, EnvPool-style async batches, and dead actors or nodes reported as WorkerError with no actor left."""

import os
import signal
import time
from pathlib import Path

import numpy as np
import puffer_core
import pytest
from puffer_core import ActionError, WorkerError

ray = pytest.importorskip("ray", reason="the Ray backend's tests need puffer-core[ray]")
from ray_cluster import two_node_cluster  # noqa: E402  (tests/ is on sys.path)

pytestmark = [pytest.mark.ray, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
from numpy_cartpole import NumpyCartPole  # noqa: E402  (conftest puts examples/ on sys.path)
from same_as_serial import assert_c_cartpole_matches_serial, assert_same_step, check_async_batches  # noqa: E402
from slow_env import Slow  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A head node and a worker node with one CPU each. Fast health checks, so a removed node is declared
    dead within seconds. Actors import the test envs by module name from the job's code search path
    (Ray's PYTHONPATH for workers; no runtime_env, whose eager worker start-up at connect time can stall
    ray.init on a loaded machine)."""
    cluster = two_node_cluster({"_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4,
                                                   "health_check_initial_delay_ms": 0}})
    paths = [str(HERE.parents[1] / "examples"), str(HERE)]
    ray.init(address=cluster.address, log_to_driver=False, job_config=ray.job_config.JobConfig(code_search_path=paths))
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def make(creator=NumpyCartPole, num_env_objects=4, num_workers=2, env_kwargs=None, **kw):
    kw.setdefault("actor_options", {"num_cpus": 0.25})
    return puffer_core.vector.make(creator, backend="ray", num_env_objects=num_env_objects, num_workers=num_workers,
                                   env_kwargs={"num_envs": 3, **(env_kwargs or {})}, **kw)


def actors_alive(names) -> list[str]:
    alive = []
    for name in names:
        try:
            ray.get_actor(name)
        except ValueError:
            continue
        alive.append(name)
    return alive


def test_actors_spread_over_both_nodes_and_give_serial_trajectories(cluster):
    serial = puffer_core.vector.make(NumpyCartPole, num_env_objects=4, env_kwargs={"num_envs": 3}, seed=11)
    with make(seed=11, actor_options={"num_cpus": 1}) as vec:  # 1 CPU each: one actor per node
        assert len(set(vec.node_ids)) == 2
        np.testing.assert_array_equal(vec.reset()[0], serial.reset()[0])
        rng = np.random.default_rng(0)
        for _ in range(100):
            actions = rng.integers(0, 2, vec.num_agents)
            assert_same_step(vec.step(actions), serial.step(actions))
        logs = vec.log()
        assert logs == serial.log() and logs["n"] > 5
        np.testing.assert_array_equal(vec.reset(seed=5)[0], serial.reset(seed=5)[0])
        with pytest.raises(ActionError, match="shape"):  # checked here, before anything is sent
            vec.step(np.zeros(11, np.int32))
        names = vec.actor_names
    assert actors_alive(names) == []


def test_c_cartpole_gives_serial_trajectories(cluster):
    assert_c_cartpole_matches_serial("ray", num_workers=2, steps=100)


def test_emulated_gymnasium_cartpole_gives_serial_trajectories(cluster):
    serial = puffer_core.vector.make("gym:CartPole-v1", num_env_objects=4, seed=2)
    with puffer_core.vector.make("gym:CartPole-v1", backend="ray", num_env_objects=4, num_workers=2, seed=2,
                                 actor_options={"num_cpus": 0.25}) as vec:
        np.testing.assert_array_equal(vec.reset()[0], serial.reset()[0])
        rng = np.random.default_rng(1)
        for _ in range(100):
            actions = rng.integers(0, 2, 4)
            assert_same_step(vec.step(actions), serial.step(actions))
        assert vec.log() == serial.log()


def test_async_batches_match_serial_per_env(cluster):
    """recv returns the first 2 of 4 actors to finish (env 1 is slow); each env's trajectory still
    equals a single env's with seed + i."""
    with make(Slow, num_env_objects=4, num_workers=4, envs_per_batch=2, env_kwargs={"num_envs": 2}, seed=3) as vec:
        _, batches = check_async_batches(vec, NumpyCartPole, seed=3, per_env=2, rounds=12)
    assert len(batches) > 1, "with env 1 slow, batches should not always be the same two actors"


def test_a_killed_actor_is_a_worker_error_within_seconds_and_nothing_is_left(cluster):
    vec = make(seed=0)
    vec.reset()
    names = vec.actor_names
    os.kill(vec.pids[1], signal.SIGKILL)
    start = time.monotonic()
    with pytest.raises(WorkerError, match=r"actor 1 \(envs 2\.\.3.*pid \d+ on node \w+ died during step"):
        vec.step(np.zeros(12, np.int32))
    assert time.monotonic() - start < 10
    with pytest.raises(puffer_core.PufferError, match="cannot be used"):
        vec.step(np.zeros(12, np.int32))
    vec.close()
    assert actors_alive(names) == []


class Raises(NumpyCartPole):
    """Fails on its third step, only inside an actor (the caller's probe gets no buffers)."""

    def __init__(self, num_envs=1, buffers=None):
        self.in_actor, self.count = buffers is not None, 0
        super().__init__(num_envs=num_envs, buffers=buffers)

    def _step(self):
        self.count += 1
        if self.in_actor and self.count == 3:
            raise RuntimeError("env failed on purpose")
        super()._step()


def test_an_env_that_raises_surfaces_its_traceback(cluster):
    import importlib

    creator = importlib.import_module(Path(__file__).stem).Raises  # importable by name in the actors too
    vec = make(creator, seed=0)
    vec.reset()
    vec.step(np.zeros(12, np.int32))
    vec.step(np.zeros(12, np.int32))
    with pytest.raises(WorkerError, match=r"(?s)actor \d .*raised during step.*env failed on purpose") as error:
        vec.step(np.zeros(12, np.int32))
    assert "\x1b[" not in str(error.value)  # Ray's terminal colours are stripped
    names = vec.actor_names
    vec.close()
    assert actors_alive(names) == []


def test_a_removed_node_is_reported(cluster):
    node = cluster.add_node(num_cpus=1, resources={"doomed": 1})
    cluster.wait_for_nodes()
    vec = make(seed=0, num_workers=2, actor_options={"num_cpus": 0, "resources": {"doomed": 0.5}})
    try:
        vec.reset()
        assert len(set(vec.node_ids)) == 1
        cluster.remove_node(node, allow_graceful=False)
        start = time.monotonic()
        with pytest.raises(WorkerError, match="on node .* died during"):
            while time.monotonic() - start < 30:
                vec.step(np.zeros(12, np.int32))
        assert time.monotonic() - start < 30
    finally:
        vec.close()


def test_final_observations_come_back_from_the_actors(cluster):
    """Emulated CartPole-v1 with a short time limit: the final observations equal the serial backend's."""
    from puffer_core.emulation import make_gymnasium

    kwargs = {"env_kwargs": {"env_id": "CartPole-v1", "max_episode_steps": 9}, "seed": 4, "final_observations": True}
    serial = puffer_core.vector.make(make_gymnasium, num_env_objects=4, **kwargs)
    with puffer_core.vector.make(make_gymnasium, backend="ray", num_env_objects=4, num_workers=2,
                                 actor_options={"num_cpus": 0.25}, **kwargs) as vec:
        vec.reset()
        serial.reset()
        ended = 0
        for _ in range(30):
            actions = np.zeros(4, np.int64)
            assert_same_step(vec.step(actions), serial.step(actions))
            done = np.flatnonzero(vec.truncations | vec.terminals)
            np.testing.assert_array_equal(vec.final_observations[done], serial.final_observations[done])
            ended += len(done)
        assert ended >= 4


def test_a_temp_dir_inside_the_virtualenv_is_refused_before_ray_hangs(monkeypatch, tmp_path):
    from puffer_core.vector.ray import check_temp_dir

    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path))
    monkeypatch.delenv("RAY_TMPDIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    with pytest.raises(puffer_core.ConfigError, match="RAY_TMPDIR to a folder outside it"):
        check_temp_dir()
    monkeypatch.setenv("RAY_TMPDIR", "/tmp/elsewhere")
    check_temp_dir()
