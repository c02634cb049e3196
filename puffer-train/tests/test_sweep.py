"""`puffer-train sweep`: the [sweep] TOML, failures, SIGKILL + resume, best.toml round trip and the plots.

Real sweeps on the sanity bandit with tiny budgets: each trial is a real process that trains for a
fraction of a second (most of a trial's few seconds is starting Python and torch).
"""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import matplotlib.image
import numpy as np
import optuna
import pytest
from puffer_core.errors import ConfigError
from puffer_train import cli, sweep
from puffer_train.sweep import SweepError, create, load, make_plan, parse_sweep_table

ENV = "sanity-bandit"
# A two-parameter space and budgets that keep a trial well under a second of training.
SPACE = {"train": {"learning_rate": {"distribution": "log_uniform", "min": 3e-3, "max": 3e-2},
                   "update_epochs": {"distribution": "int", "min": 1, "max": 3}}}
FIXED = {"train": {"total_timesteps": 4096, "eval_episodes": 64, "tensorboard": True}}


# -- the [sweep] table -------------------------------------------------------------------------------

def test_sweep_table_parses_every_distribution():
    table = {
        "cost": "seconds", "trials": 7, "target": 500,
        "env": {"num_envs": {"distribution": "choice", "values": [32, 64]}},
        "train": {"learning_rate": {"distribution": "log_uniform", "min": 1e-4, "max": 1e-2},
                  "gamma": {"distribution": "uniform", "min": 0.9, "max": 0.999},
                  "total_timesteps": {"distribution": "int", "min": 1000, "max": 100_000, "log": True},
                  "update_epochs": {"distribution": "int", "min": 1, "max": 8, "step": 1}},
        "policy": {"hidden_size": {"distribution": "choice", "values": [32, 64, 128]}},
    }
    settings, space = parse_sweep_table(table, "test")
    assert settings == {"cost": "seconds", "trials": 7, "target": 500.0}
    d = optuna.distributions
    assert space["train.learning_rate"] == d.FloatDistribution(1e-4, 1e-2, log=True)
    assert space["train.gamma"] == d.FloatDistribution(0.9, 0.999)
    assert space["train.total_timesteps"] == d.IntDistribution(1000, 100_000, log=True)
    assert space["train.update_epochs"] == d.IntDistribution(1, 8)
    assert space["env.num_envs"] == d.CategoricalDistribution([32, 64])
    assert space["policy.hidden_size"] == d.CategoricalDistribution([32, 64, 128])


@pytest.mark.parametrize("spec, message", [
    ({"distribution": "loguniform", "min": 1e-4, "max": 1e-2}, "Did you mean 'log_uniform'"),
    ({"distribution": "gaussian", "min": 0, "max": 1}, "not one of log_uniform, uniform, int, choice"),
    ({"distribution": "uniform", "min": 0.1}, "needs min and max"),
    ({"distribution": "uniform", "min": 0.5, "max": 0.1}, "min < max"),
    ({"distribution": "log_uniform", "min": 0, "max": 0.1}, "needs min > 0"),
    ({"distribution": "uniform", "min": 0, "max": 1, "values": [1]}, "not values"),
    ({"distribution": "choice", "values": []}, "at least one value"),
    ({"distribution": "choice", "values": 3}, "values = [a, b, ...]"),
    (0.01, "must be a table"),
])
def test_bad_distributions_are_clear_config_errors(spec, message):
    with pytest.raises(ConfigError, match=None) as info:
        parse_sweep_table({"train": {"learning_rate": spec}}, "my.toml")
    assert message in str(info.value) and "sweep.train.learning_rate in my.toml" in str(info.value)


@pytest.mark.parametrize("table, message", [
    ({"train": {"lerning_rate": {"distribution": "uniform", "min": 0.1, "max": 0.2}}}, "Did you mean 'learning_rate'"),
    ({"train": {"update_epochs": {"distribution": "uniform", "min": 1, "max": 4}}}, "integer options take"),
    ({"train": {"update_epochs": {"distribution": "int", "min": 1.5, "max": 4}}}, "integer min, max"),
    ({"policy": {"recurrent": {"distribution": "choice", "values": [1, 2]}}}, "must be true or false"),
    ({"tirals": 5}, "Did you mean 'trials'"),
    ({"trials": "many"}, "sweep.trials in my.toml must be an int"),
])
def test_bad_sweep_tables_name_the_option(table, message):
    with pytest.raises(ConfigError) as info:
        parse_sweep_table(table, "my.toml")
    assert message in str(info.value)


def test_plan_layers_plugin_file_and_flags(tmp_path):
    # sanity-bandit ships no [sweep]: the default PPO space, around its own budget.
    plan = make_plan(ENV)
    assert {"train.learning_rate", "train.total_timesteps", "train.update_epochs"} <= set(plan.space)
    assert plan.space["train.total_timesteps"].high == 2 * 60_000
    # A --sweep-config file replaces the space; its other sections are fixed values; flags fix options.
    path = tmp_path / "space.toml"
    path.write_text('[sweep]\ncost = "seconds"\n[sweep.train]\nlearning_rate = { distribution = "uniform", '
                    'min = 0.001, max = 0.01 }\ngamma = { distribution = "uniform", min = 0.9, max = 0.99 }\n'
                    '[train]\nhorizon = 4\n')
    plan = make_plan(ENV, sweep_config=path, fixed={"train": {"gamma": 0.95}}, settings={"trials": 3})
    assert set(plan.space) == {"train.learning_rate"} and plan.settings.cost == "seconds"
    assert plan.settings.trials == 3
    assert ({"train": {"horizon": 4}}, str(path)) in plan.layers
    with pytest.raises(ConfigError, match="sweep.cost .* must be one of steps, seconds"):
        make_plan(ENV, settings={"cost": "dollars"})
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nhorizon = 4\n")
    with pytest.raises(ConfigError, match="has no \\[sweep\\] section"):
        make_plan(ENV, sweep_config=bad)


def test_plugin_sweep_section_is_not_a_training_option():
    """cartpole's TOML carries a [sweep] section; training from it ignores that section."""
    from puffer_train.trainer import resolve_config

    config, _ = resolve_config("cartpole")
    assert "sweep" not in config.to_dict()
    assert make_plan("cartpole").settings.cost == "seconds"


# -- real sweeps -------------------------------------------------------------------------------------

def not_blank(path: Path) -> bool:
    image = matplotlib.image.imread(str(path))
    return image.ndim == 3 and float(np.var(image[..., :3])) > 0


@pytest.mark.slow
def test_sweep_writes_best_toml_that_trains_unchanged(tmp_path, capsys):
    result = sweep(ENV, root=tmp_path, space=SPACE, fixed=FIXED, trials=2, repeats=1, repeat_points=1,
                   workers=1, seed=5)
    folder = Path(result["folder"])
    best = result["best"]
    assert best is not None and best["seeds"] == 2  # the chosen config was re-run on a fresh seed
    assert set(best["params"]) == {"train.learning_rate", "train.update_epochs"}
    out = capsys.readouterr().out
    assert "[sweep sanity-bandit] trial 0:" in out and "best " in out and "searched" in out

    # Every trial trained in its own run dir under the sweep, with TensorBoard events, on its own seed.
    study, _plan = load(folder)
    trials = study.get_trials()
    assert len(trials) == 3 and {t.user_attrs["seed"] for t in trials} == {5, 6, 7}
    for t in trials:
        run_dir = Path(t.user_attrs["run_dir"])
        assert run_dir.parent == (folder / "trials").resolve()
        assert list(run_dir.glob("events.out.tfevents.*"))

    # best.toml trains unchanged through the CLI, with exactly the chosen values.
    best_toml = Path(result["best_toml"])
    data = tomllib.loads(best_toml.read_text())
    assert data["train"]["learning_rate"] == best["params"]["train.learning_rate"]
    assert "seed" not in data["train"] and "data_dir" not in data["train"]
    runs = tmp_path / "again"
    code = cli.main([ENV, "--config", str(best_toml), "--train.data-dir", str(runs), "--train.dashboard", "false"])
    assert code == 0
    (run_dir,) = runs.iterdir()
    used = tomllib.loads((run_dir / "config.toml").read_text())
    for name, value in best["params"].items():
        section, key = name.split(".")
        assert used[section][key] == value

    for name in ("pareto", "curves"):
        assert Path(result["plots"][name]).is_file() and not_blank(Path(result["plots"][name]))

    # `sweep show` prints the configs as a table, by folder or by name.
    capsys.readouterr()
    assert cli.main(["sweep", "show", ENV, "--dir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "learning_rate" in table and "chosen" in table and f"{best['score']:.4g}" in table
    assert cli.main(["sweep", "show", str(tmp_path / "nothing")]) == 2
    # A second sweep into the same folder needs --resume.
    with pytest.raises(SweepError, match="--resume"):
        sweep(ENV, root=tmp_path, space=SPACE, fixed=FIXED, trials=1)


@pytest.mark.slow
def test_diverging_and_crashing_trials_are_failures_not_scores(tmp_path):
    space = {"train": {"learning_rate": {"distribution": "choice", "values": [1e8, 0.01]}},
             "env": {"arms": {"distribution": "choice", "values": [4, 0]}}}
    fixed = {"train": {**FIXED["train"], "max_grad_norm": 1e9}}
    plan = make_plan(ENV, sweep_layers=[(space, "test")], fixed=fixed, settings={"trials": 3, "repeats": 0})
    folder = tmp_path / "s"
    study = create(folder, plan)
    for lr, arms in [(1e8, 4), (0.01, 0), (0.01, 4)]:  # diverges, crashes (no arms), works
        study.enqueue_trial({"train.learning_rate": lr, "env.arms": arms})
    result = sweep(ENV, root=tmp_path, name="s", resume=True, workers=1, quiet=True)
    study, _plan = load(folder)
    by_lr_arms = {(t.params["train.learning_rate"], t.params["env.arms"]): t for t in study.get_trials()}
    diverged, crashed, good = by_lr_arms[(1e8, 4)], by_lr_arms[(0.01, 0)], by_lr_arms[(0.01, 4)]
    for failed, reason in ((diverged, "diverged"), (crashed, "")):
        assert failed.state == optuna.trial.TrialState.PRUNED and failed.values is None
        assert failed.constraints == {"failed": 1.0} and failed.user_attrs["failure"].startswith(reason)
    assert "NaN" in diverged.user_attrs["failure"]
    assert good.state == optuna.trial.TrialState.COMPLETE and good.constraints == {"failed": 0.0}
    assert result["best"]["trial"] == good.number and result["trials"] == {"failed": 2, "complete": 1}
    # The constrained TPE ranks failures below every feasible trial: the search moves away from them.
    from optuna.samplers._tpe.sampler import _split_trials

    below, above = _split_trials(study, study.get_trials(), 1)
    assert [t.number for t in below] == [good.number]
    assert not_blank(Path(result["plots"]["pareto"]))


@pytest.mark.slow
def test_a_hanging_trial_is_killed_after_the_timeout(tmp_path):
    fixed = {"train": {**FIXED["train"], "total_timesteps": 10**9}}
    start = time.monotonic()
    result = sweep(ENV, root=tmp_path, space=SPACE, fixed=fixed, trials=1, repeats=0, workers=1,
                   trial_timeout=6, quiet=True)
    assert time.monotonic() - start < 60
    study, _ = load(Path(result["folder"]))
    (trial,) = study.get_trials()
    assert trial.user_attrs["failure"].startswith("timeout") and result["best"] is None


def trial_processes(folder: Path) -> list[int]:
    import psutil

    pids = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "puffer_train.sweep_trial" in cmd and any(str(folder) in c for c in cmd):
            pids.append(p.pid)
    return pids


@pytest.mark.slow
def test_sigkill_mid_trial_then_resume_counts_no_trial_twice(tmp_path):
    """SIGKILL the sweep while a trial trains; --resume marks that trial lost, re-runs its params and seed,
    and finishes with exactly `trials` search results."""
    space = tmp_path / "space.toml"
    space.write_text("[sweep]\nheartbeat = 1\n[sweep.train]\nlearning_rate = { distribution = \"log_uniform\", "
                     "min = 3e-3, max = 3e-2 }\n[train]\ntotal_timesteps = 100_000\neval_episodes = 64\n")
    argv = [sys.executable, "-m", "puffer_train.cli", "sweep", ENV, "--dir", str(tmp_path), "--trials", "3",
            "--repeats", "0", "--workers", "1", "--sweep-config", str(space)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder = tmp_path / ENV
    deadline = time.monotonic() + 90
    running = None
    while time.monotonic() < deadline and running is None:
        time.sleep(0.3)
        assert proc.poll() is None, proc.stderr.read().decode()
        if not (folder / "study.db").exists():
            continue
        try:
            study, _ = load(folder)
            trials = study.get_trials()
        except Exception:  # noqa: BLE001 (the database is still being created)
            continue
        done = [t for t in trials if t.state.is_finished()]
        live = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        # Kill once a trial has finished and the next one is training (its process is up).
        if done and live and (folder / "trials" / f"trial_{live[0].number:04d}" / "log.txt").exists():
            time.sleep(1.0)
            running = live[0]
    assert running is not None, "the sweep never got to its second trial"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop = time.monotonic() + 10  # the orphaned trial dies with its sweep (PR_SET_PDEATHSIG)
    while trial_processes(folder) and time.monotonic() < stop:
        time.sleep(0.2)
    assert not trial_processes(folder)

    result = sweep(ENV, root=tmp_path, resume=True, quiet=True)
    study, _ = load(folder)
    trials = study.get_trials()
    states = {t.number: t.state for t in trials}
    assert states[running.number] == optuna.trial.TrialState.FAIL  # lost, not a result
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == running.number]
    assert retry.params == running.params and retry.user_attrs["seed"] == running.user_attrs["seed"]
    assert retry.state == optuna.trial.TrialState.COMPLETE
    results = [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    assert len(results) == 3 and len({t.number for t in results}) == 3
    assert result["trials"] == {"complete": 3, "lost": 1}
    # No trial wrote its result twice: the lost one's folder has no result, the others one each.
    assert not (folder / "trials" / f"trial_{running.number:04d}" / "result.json").exists()
    for t in results:
        assert json.loads((Path(t.user_attrs["run_dir"]) / "result.json").read_text())["ok"]
