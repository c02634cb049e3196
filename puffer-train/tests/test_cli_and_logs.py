"""The CLI (help, list, eval, bad input) and the files a run leaves (TensorBoard events, config)."""

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import puffer_core
import puffer_train
import pytest
from puffer_train import cli
from puffer_train import config as cfg
from tensorboard.backend.event_processing import event_accumulator


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_documents_every_option(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    lines = out.splitlines()
    for flag, _, default, doc in cfg.option_docs():
        line = next(x for x in lines if x.strip().startswith(flag + " "))
        assert doc in line and (repr(default) in line or default == float("inf"))
    assert "--env.<kwarg>" in out and "--resume" in out and "--checkpoint" in out


def test_help_for_an_env_shows_its_defaults(capsys):
    _, out, _ = run_cli(capsys, "sanity-memory", "--help")
    assert "defaults for sanity-memory" in out
    line = next(x for x in out.splitlines() if "--policy.recurrent" in x)
    assert "True" in line  # the plugin's TOML turns the LSTM on


def test_console_script_help():
    exe = Path(sys.executable).parent / "puffer-train"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--train.learning-rate" in out.stdout


def test_unknown_flag_names_the_closest(capsys):
    code, _, err = run_cli(capsys, "sanity-bandit", "--train.learnin-rate", "3e-4")
    assert code == 2 and "unknown option --train.learnin-rate" in err and "Did you mean --train.learning-rate?" in err
    code, _, err = run_cli(capsys, "sanity-bandit", "--polcy.hidden-size", "8")
    assert code == 2 and "--policy.hidden-size" in err


def test_ill_typed_flag(capsys):
    code, _, err = run_cli(capsys, "sanity-bandit", "--train.horizon", "many")
    assert code == 2 and "train.horizon" in err and "must be an integer" in err


def test_env_flags_are_typed_by_the_env_config(capsys):
    """A C env's config types its --env flags: listed in --help, a wrong type refused before any env is built."""
    if "cartpole" not in puffer_core.list_envs():
        pytest.skip("the cartpole plugin is not installed")
    _, out, _ = run_cli(capsys, "cartpole", "--help")
    line = next(x for x in out.splitlines() if x.strip().startswith("--env.max-steps "))
    assert "INT" in line and "(default 500)" in line
    code, _, err = run_cli(capsys, "cartpole", "--env.max-steps", "2.5")
    assert code == 2 and "env.max_steps in flag --env.max-steps must be an integer, got 2.5" in err


def test_unknown_env_is_the_registry_error(capsys):
    with pytest.raises(puffer_core.EnvNotFoundError, match="Did you mean 'sanity-bandit'"):
        puffer_train.train("sanity-bandt")
    code, _, err = run_cli(capsys, "sanity-bandt")
    assert code == 2 and "sanity-bandit" in err and "Installed:" in err


def test_unknown_env_kwarg_is_the_envs_own_error(quick):
    with pytest.raises(puffer_core.ConfigError, match="bogus"):
        puffer_train.train("sanity-bandit", **quick(), env={"bogus": 1})


def test_unknown_key_in_a_config_file(tmp_path, capsys):
    path = tmp_path / "my.toml"
    path.write_text("[train]\nlearning_rat = 0.1\n")
    code, _, err = run_cli(capsys, "sanity-bandit", "--config", str(path))
    assert code == 2 and "unknown option train.learning_rat" in err and "learning_rate" in err


def test_list(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "sanity-bandit" in out and "sanity-memory" in out


def test_layers_and_files_of_a_run(tmp_path, capsys):
    """defaults < plugin TOML < --config < flags; the run dir holds the resolved config and TensorBoard events."""
    path = tmp_path / "my.toml"
    path.write_text("[train]\nlearning_rate = 0.02\nhorizon = 4\n[env]\narms = 3\n")
    code, out, _ = run_cli(capsys, "sanity-bandit", "--config", str(path), "--train.horizon", "8",
                           "--train.total-timesteps=4096", "--train.dashboard", "false", "--env.num-envs", "64",
                           "--train.data-dir", str(tmp_path / "runs"), "--train.eval-episodes", "50")
    assert code == 0, out
    run = next((tmp_path / "runs").iterdir())
    saved = tomllib.loads((run / "config.toml").read_text())
    assert saved["train"]["learning_rate"] == 0.02  # from --config
    assert saved["train"]["horizon"] == 8  # the flag beats the file
    assert saved["train"]["update_epochs"] == 2  # plugin TOML
    assert saved["train"]["adam_eps"] == 1e-5  # trainer default
    assert saved["env"] == {"num_envs": 64, "arms": 3}
    assert "final evaluation over" in out and "checkpoint:" in out

    acc = event_accumulator.EventAccumulator(str(run))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"env/score", "loss/policy", "loss/value", "perf/sps", "eval/score"} <= set(tags)
    steps = [e.step for e in acc.Scalars("loss/policy")]
    assert steps == sorted(steps) and len(steps) == 4096 // (64 * 8) and steps[-1] == 4096
    assert all(0 <= e.value <= 1 for e in acc.Scalars("env/score"))


def test_eval_command_plays_a_checkpoint(quick, capsys):
    result = puffer_train.train("sanity-bandit", **quick(target=0.98, target_metric="score", eval_episodes=0))
    code, out, _ = run_cli(capsys, "eval", "sanity-bandit", "--checkpoint", str(result.checkpoint), "--episodes", "300")
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("sanity-bandit:") and "score" in last
    score = float(last.split("score ")[1].split(",")[0])
    assert score >= 0.95


def test_eval_needs_a_checkpoint(capsys):
    code, _, err = run_cli(capsys, "eval", "sanity-bandit")
    assert code == 2 and "--checkpoint" in err


def test_eval_render_draws_a_real_env(quick, capsys, puffer_display):
    """`eval --render` on the C cartpole plugin: render_mode='human' in a (virtual) X display."""
    if "cartpole" not in puffer_core.list_envs():
        pytest.skip("the cartpole plugin is not installed")
    result = puffer_train.train("cartpole", **quick(total_timesteps=4096, eval_episodes=0))
    code, out, _ = run_cli(capsys, "eval", "cartpole", "--checkpoint", str(result.checkpoint), "--episodes", "1",
                           "--render")
    assert code == 0 and out.strip().splitlines()[-1].startswith("cartpole: 1 episodes")
    path = result.run_dir / "frames.npz"
    stats = puffer_train.evaluate("cartpole", result.checkpoint, episodes=1, frames=path)
    frames = np.load(path)["frames"]
    assert frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3
    assert len(frames) >= stats["episode_length"]  # a frame per step (the episode, then up to 7 more steps)
    assert frames.std() > 0  # something was drawn


def bandit_without_rendering(num_envs: int = 1, buffers=None):
    """The sanity bandit behind a factory that takes no render_mode (the sanity envs themselves render)."""
    from puffer_envs_sanity import Bandit

    return Bandit(num_envs=num_envs, buffers=buffers)


def test_eval_render_of_an_env_without_rendering(quick):
    from puffer_core.registry import registry

    puffer_core.register(puffer_core.EnvSpec(name="test-plain-bandit", make=bandit_without_rendering,
                                             default_kwargs={"num_envs": 8}))
    try:
        result = puffer_train.train("test-plain-bandit", **quick(total_timesteps=1024, eval_episodes=0))
        with pytest.raises(puffer_core.ConfigError, match="does not take render_mode, so it cannot be rendered"):
            puffer_train.evaluate("test-plain-bandit", result.checkpoint, render=True)
    finally:
        registry().specs.pop("test-plain-bandit", None)
