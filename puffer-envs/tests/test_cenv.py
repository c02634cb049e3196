"""CEnv: structs, buffer pointers, config kwargs, type checks, GIL release, rendering hook, closing."""

import threading
import time
from pathlib import Path

import numpy as np
import puffer_core
import pytest
from gymnasium import spaces
from puffer_core import buffers as buf
from puffer_core.errors import ConfigError, PufferError
from puffer_envs import CEnv

HEADERS = Path(__file__).parent / "headers"


class Tricky(CEnv):
    header = str(HEADERS / "tricky.h")
    struct = "Tricky"
    config = {"level": 3, "gravity": 9.8, "flag": 1}

    @classmethod
    def make_spaces(cls, config):
        action = spaces.Box(-1, 1, (2,), np.float32) if config["level"] == 7 else spaces.Discrete(4)
        return spaces.Box(-1e6, 1e6, (3,), np.float32), action


class Spin(CEnv):
    header = str(HEADERS / "spin.h")
    struct = "Spin"
    config = {"limit": 10**11}

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(-1, 1, (1,), np.float32), spaces.Discrete(2)


def test_nested_types_constants_and_fields_are_reachable():
    env = Tricky(num_envs=2)
    lib, e = env.lib, env.envs[1]
    assert (lib.GRID_W, lib.GRID_H, lib.MAX_UNITS, lib.NEG_ONE) == (5, 10, 4, -1)
    assert (lib.EMPTY, lib.WALL, lib.FOOD) == (0, 3, 4)
    assert env.ffi.typeof(e.cells).cname == "Cell[10][5]"
    e.units[3].hp[3] = 2.5
    e.units[3].color.g = 200
    e.tagged.a, e.plain.b, e.velocity[1] = 1, 2, 3.5
    env.reset(seed=0)
    env.step(env.actions)
    assert env.rewards[1] == 2.5 and env.rewards[0] == 0
    assert env.log_fields == ("episode_return", "n")


def test_config_reaches_every_struct_before_c_init():
    env = Tricky(num_envs=5, level=4, gravity=1.5, flag=True)
    assert [(e.level, e.gravity, e.flag) for e in env.envs] == [(4, 1.5, 1)] * 5
    assert Spin(num_envs=3).envs[2].inits == 1
    assert env.config == {"level": 4, "gravity": 1.5, "flag": True}
    assert Tricky(num_envs=1, level=np.int64(2), gravity=np.float32(2)).envs[0].level == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"levle": 1}, r"Tricky has no config kwarg 'levle'. Did you mean 'level'\? Valid kwargs: num_envs=1, "
                   r"render_mode=None, buffers=None, final_observations=False, level=3 \(int\), gravity=9.8 "
                   r"\(float\), flag=1 "
                   r"\(unsigned char\)"),
    ({"level": 2.0}, r"config kwarg level=2.0 \(float\) must be an integer: the field is `int level`"),
    ({"level": "3"}, r"level='3' \(str\) must be an integer"),
    ({"gravity": "high"}, r"gravity='high' \(str\) must be a number"),
    ({"gravity": float("nan")}, r"must not be NaN"),
    ({"gravity": 1e39}, r"out of range for the C type"),
    ({"flag": 256}, r"flag=256 \(int\) is out of range for the C type \(0..255\)"),
    ({"flag": -1}, r"out of range"),
    ({"level": 2**31}, r"out of range for the C type \(-2147483648..2147483647\)"),
    ({"num_envs": 0}, r"num_envs must be a positive integer"),
    ({"render_mode": "window"}, r"render_mode must be None, 'human' or 'rgb_array'"),
])
def test_bad_kwargs_are_clear_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Tricky(**{"num_envs": 1, **kwargs})


def test_an_action_pointer_union_serves_discrete_and_box():
    assert Tricky(num_envs=1).actions.dtype == np.int32
    env = Tricky(num_envs=2, level=7)  # level 7: Box actions, matched by `float* continuous_actions`
    assert env.actions.dtype == np.float32
    assert env.ffi.cast("float*", env.envs[1].continuous_actions) == env.ffi.cast("float*", env.actions[1:].ctypes.data)


def test_struct_pointers_point_at_the_env_rows_of_given_buffers():
    obs_space, act_space = Tricky.make_spaces({"level": 3})
    big = buf.allocate(obs_space, act_space, 10)
    env = Tricky(num_envs=4, buffers=big[3:7])
    for i, e in enumerate(env.envs):
        assert int(env.ffi.cast("uintptr_t", e.observations)) == big.observations[3 + i].ctypes.data
        assert int(env.ffi.cast("uintptr_t", e.rewards)) == big.rewards[3 + i:].ctypes.data
        assert int(env.ffi.cast("uintptr_t", e.masks)) == big.masks[3 + i:].ctypes.data
    env.envs[2].units[0].x = 7
    env.reset(seed=1)
    assert big.observations[5].tolist() == [7, 8, 9] and not big.observations[:3].any()


def test_reset_seeds_are_reproducible_and_none_is_random():
    env = Spin(num_envs=3)
    env.reset(seed=5)
    rngs = [e.rng for e in env.envs]
    assert len(set(rngs)) == 3, "each env gets its own stream"
    env.reset(seed=5)
    assert [e.rng for e in env.envs] == rngs
    env.reset()
    assert [e.rng for e in env.envs] != rngs


def test_step_before_reset_is_an_error():
    env = Spin(num_envs=1)
    with pytest.raises(PufferError, match="before reset"):
        env.step(env.actions)


def test_vector_loops_release_the_gil():
    """c_step spins until `go` is set from Python, which needs the GIL: it only ends early if cffi
    released the GIL around puffer_vec_step."""
    env = Spin(num_envs=1, limit=10**11)  # about a minute of spinning if the GIL were held
    env.reset(seed=0)
    stepper = threading.Thread(target=env.step, args=(env.actions,), daemon=True)
    start = time.perf_counter()
    stepper.start()
    time.sleep(0.1)
    env.envs[0].go = 1
    stepper.join(timeout=30)
    assert not stepper.is_alive() and env.envs[0].saw_go == 1
    assert time.perf_counter() - start < 10
    assert Spin.releases_gil


def test_serve_steps_a_group_of_env_objects_per_generation_on_its_gate():
    """The threads backend's GIL-free hand-off (puffer_vec.h, "step serving"), driven by hand."""
    first, second = Spin(num_envs=1, limit=0), Spin(num_envs=2, limit=0)
    for env in (first, second):
        env.reset(seed=0)
        for e in env.envs:
            e.go = 1  # c_step copies go into saw_go: saw_go == 1 means the env was stepped
    gate = np.zeros(3, np.int64)
    server = threading.Thread(target=first._serve, args=(gate, 10.0, [second]), daemon=True)
    server.start()
    first._open_gate(gate, 1)
    assert first._wait_gate(gate, 1, 0.001, 10.0)
    assert [e.saw_go for env in (first, second) for e in env.envs] == [1, 1, 1]
    gate[0] = -1  # stop serving
    server.join(10)
    assert not server.is_alive() and gate[2] == 0
    with pytest.raises(TypeError, match="own class"):
        first._serve(gate, 0.0, [Tricky(num_envs=1)])
    second.close()
    with pytest.raises(PufferError, match="closed"):
        first._serve(gate, 0.0, [second])


def test_close_calls_c_close_once_and_logs_are_popped():
    env = Spin(num_envs=2)
    envs = env.envs
    env.reset(seed=0)
    env.envs[0].log.n = 2
    env.envs[1].log.n = 3
    assert env.pop_log_sums().tolist() == [5.0] and env.pop_log_sums().tolist() == [0.0]
    env.close()
    env.close()
    assert [e.closes for e in envs] == [1, 1]
    with pytest.raises(PufferError, match="closed"):
        env.reset(seed=0)


class FakeRenderer:
    made = 0

    def __init__(self, env):
        FakeRenderer.made += 1
        self.closed = False

    def render(self, env):
        return np.full((2, 3, 3), env.envs[0].level, np.uint8)

    def close(self):
        self.closed = True


def test_render_makes_the_renderer_once_and_returns_its_frame():
    class Drawn(Tricky):
        renderer = FakeRenderer

    env = Drawn(num_envs=1, level=9, render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().tolist() == np.full((2, 3, 3), 9).tolist()
    env.render()
    assert FakeRenderer.made == 1
    renderer = env._renderer
    env.close()
    assert renderer.closed
    assert Drawn(num_envs=1).render() is None, "render_mode None draws nothing"
    with pytest.raises(PufferError, match="no renderer"):
        Tricky(num_envs=1, render_mode="rgb_array").render()


def test_runs_under_the_serial_backend_with_seed_offsets():
    spec = puffer_core.EnvSpec(name="test-spin", make=Spin, default_kwargs={"num_envs": 2, "limit": 0})
    vec = puffer_core.vector.make(spec, backend="serial", num_env_objects=3, seed=10)
    vec.reset()
    single = Spin(num_envs=2, limit=0)
    single.reset(seed=11)
    assert [e.rng for e in vec.envs[1].envs] == [e.rng for e in single.envs]
    vec.close()


class SharedTable(CEnv):
    header = str(HEADERS / "shared.h")
    struct = "Shared"

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(0, 255, (1,), np.float32), spaces.Discrete(16)


def test_shared_data_is_built_once_per_process_before_c_init(monkeypatch):
    import puffer_envs.cenv

    monkeypatch.setattr(puffer_envs.cenv, "_SHARED", {})
    first, second = SharedTable(num_envs=3), SharedTable(num_envs=2)
    assert first.shared == second.shared and first.shared.builds == 1
    assert [first.envs[i].seen_at_init for i in range(3)] == [9, 9, 9]  # c_init ran after the hook
    assert all(second.envs[i].table == first.shared for i in range(2))
    second.reset(seed=0)
    second.actions[:] = [4, 5]
    second.step(second.actions)
    assert list(second.observations[:, 0]) == [16.0, 25.0]


def test_a_failing_shared_init_is_a_clear_error(monkeypatch):
    import puffer_envs.cenv

    class Failing(SharedTable):
        @classmethod
        def init_shared(cls, shared, ffi, lib):
            shared.fail_with = 7
            return super().init_shared(shared, ffi, lib)

    monkeypatch.setattr(puffer_envs.cenv, "_SHARED", {})
    with pytest.raises(PufferError, match="Failing: c_shared_init in .*shared.h failed with code 7"):
        Failing(num_envs=1)
    assert puffer_envs.cenv._SHARED == {}  # nothing half-built is kept
