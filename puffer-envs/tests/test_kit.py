"""The conformance kit on deliberately broken C envs (tests/broken/): each bug must make the check
meant for it fail with a message that says what is wrong, and the bug-free control must pass."""

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from puffer_core.errors import ConfigError, PufferError, SpaceError
from puffer_envs import CEnv, HeaderError, testing
from puffer_envs.build import BuildError
from puffer_envs.testing import ConformanceError

BROKEN = Path(__file__).parent / "broken"
BUGS = {name: i for i, name in enumerate([
    "none", "writes_past_rows", "obs_out_of_bounds", "nan_reward", "terminal_two", "uses_rand",
    "obs_partly_written", "counts_n_twice", "ignores_seed", "indexes_by_action"])}


class Bugs(CEnv):
    header = str(BROKEN / "bugs.h")
    struct = "Bugs"
    config = {"bug": 0}

    @classmethod
    def make_spaces(cls, config):
        return spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2)


def bug(name):
    return lambda **kw: Bugs(**{"bug": BUGS[name], **kw})


KWARGS = {"num_envs": 8}
CHECKS = [testing.check_spaces, testing.check_determinism, testing.check_seeds_differ, testing.check_rollout,
          testing.check_observations_written, testing.check_no_writes_outside_rows, testing.check_log_abi,
          testing.check_bad_actions, testing.check_close, testing.check_garbage_actions]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_bug_free_control_passes_every_check(check):
    check(bug("none"), KWARGS)


def test_the_control_passes_the_kwarg_checks_and_a_soak():
    testing.check_bad_kwargs(bug("none"), KWARGS, env=Bugs)
    testing.check_soak(bug("none"), KWARGS, agent_steps=20_000)


@pytest.mark.parametrize("name, check, message", [
    ("writes_past_rows", testing.check_no_writes_outside_rows, r"wrote observations outside its own rows, 0 rows "
                                                               r"after"),
    ("indexes_by_action", testing.check_garbage_actions, r"with out-of-range actions: the env wrote observations "
                                                         r"outside its own rows"),
    ("obs_out_of_bounds", testing.check_rollout, r"step 2: observation \[1\] of agent 0 is 2.0, outside .*-1.0, 1.0"),
    ("nan_reward", testing.check_rollout, r"step 3: reward of agent 0 is nan; rewards must be finite"),
    ("terminal_two", testing.check_rollout, r"terminals\[\d\] is 2; terminals must be 0 or 1"),
    ("uses_rand", testing.check_determinism, r"not deterministic: .* differ in observations after reset.*rand\(\)"),
    ("obs_partly_written", testing.check_observations_written, r"never wrote observation elements \[2\] of agent 0"),
    ("counts_n_twice", testing.check_log_abi, r"Log n is \d+ but \d+ episodes ended"),
    ("ignores_seed", testing.check_seeds_differ, r"seeds 1 and 2 give identical trajectories"),
])
def test_each_bug_fails_its_check_with_a_useful_message(name, check, message):
    with pytest.raises(ConformanceError, match=message):
        check(bug(name), KWARGS)


def test_the_soak_catches_a_rare_bug():
    with pytest.raises(ConformanceError, match="reward of agent .* is nan"):
        testing.check_soak(bug("nan_reward"), KWARGS, agent_steps=1000)


def static_bug(header, **attrs):
    return type("Broken", (CEnv,), {"header": str(BROKEN / header), "struct": "Env", "config": {"level": 1},
                                    "make_spaces": classmethod(lambda cls, config: (
                                        spaces.Box(-1, 1, (3,), np.float32), spaces.Discrete(2))),
                                    **attrs})


@pytest.mark.parametrize("header, error, message", [
    ("log_n_not_last.h", HeaderError, r"must end with `float n;`"),
    ("log_int_field.h", HeaderError, r"Log fields must all be `float`.*episode_length \(int\)"),
    ("obs_float64.h", SpaceError, r"Env.observations is `double \*`.*buffer is float32.*declare it `float\* obs"),
    ("actions_float.h", SpaceError, r"Env.actions is `float \*`.*buffer is int32.*declare it `int\* actions;`"),
    ("terminals_bool.h", SpaceError, r"Env.terminals is `_Bool \*`.*declare it `unsigned char\* terminals;`"),
    ("obs_size_mismatch.h", SpaceError, r"declares OBS_SIZE = 4 but the observation space .* has 3 values"),
    ("no_c_step.h", HeaderError, r"defines no `void c_step\(Env\* env\)`"),
    ("self_reset_without_member.h", HeaderError, r"defines PUFFER_SELF_RESET but has no member `float\* final_obs"),
    ("member_without_self_reset.h", HeaderError, r"has a member `final_observations`, which only envs that define "
                                                 r"PUFFER_SELF_RESET declare"),
    ("syntax_error.h", BuildError, r"(?s)compiling .*syntax_error.h failed.*undeclared_variable"),
])
def test_convention_violations_fail_every_check_at_construction(header, error, message):
    with pytest.raises(error, match=message):
        testing.check_spaces(static_bug(header), KWARGS)


def test_a_config_key_that_is_not_a_struct_field():
    broken = static_bug("obs_float64.h", config={"levle": 1})
    with pytest.raises(ConfigError, match=r"config has 'levle', which is not a field of struct Env.*Did you mean "
                                          r"'level'"):
        testing.check_spaces(broken, KWARGS)


def test_bad_kwargs_check_fails_for_an_env_that_accepts_anything():
    class Lenient(Bugs):
        def __init__(self, num_envs=1, buffers=None, **kwargs):
            super().__init__(num_envs=num_envs, buffers=buffers)

    with pytest.raises(ConformanceError, match="definitely_not_a_kwarg=1 raised no error"):
        testing.check_bad_kwargs(Lenient, KWARGS, env=Lenient)


def test_bad_actions_check_fails_for_an_env_that_skips_validation():
    class Unchecked(Bugs):
        def step(self, actions):
            self._step()
            return self.observations, self.rewards, self.terminals, self.truncations, self.infos

    with pytest.raises(ConformanceError, match="were accepted: env.step must raise ActionError"):
        testing.check_bad_actions(Unchecked, KWARGS)


def test_the_conformance_class_runs_through_pytest(pytester_subprocess):
    """A third-party test file subclassing Conformance: pytest collects and runs the inherited checks."""
    result = pytester_subprocess(f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_kit import bug
from puffer_envs.testing import Conformance

class TestGood(Conformance):
    env = staticmethod(bug("none"))
    soak_steps = 5000

class TestLeaky(Conformance):
    env = staticmethod(bug("writes_past_rows"))
    soak_steps = 5000
""")
    assert "TestGood::test_soak PASSED" in result.stdout
    assert "TestLeaky::test_no_writes_outside_rows FAILED" in result.stdout
    assert "TestLeaky::test_determinism PASSED" in result.stdout
    assert "wrote observations outside its own rows" in result.stdout


def test_a_closed_env_refuses_to_step():
    env = bug("none")(num_envs=2)
    env.reset(seed=0)
    env.close()
    with pytest.raises(PufferError, match="closed"):
        env.step(env.actions)



def test_the_pytest_plugin_provides_markers_and_a_closing_fixture(pytester_subprocess):
    """Loaded through the pytest11 entry point: no conftest, yet `make_puffer_env` and `soak` exist."""
    result = pytester_subprocess(f"""
import sys
import pytest
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_kit import bug
made = []

@pytest.mark.soak
def test_make(make_puffer_env):
    made.append(make_puffer_env(bug("none"), num_envs=2))
    made[0].reset(seed=0)
    assert made[0]._finalizer.alive

def test_closed_after_the_test():
    assert not made[0]._finalizer.alive
""", "-W", "error::pytest.PytestUnknownMarkWarning")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
