"""`puffer-train sweep --ray`: trials as Ray tasks on a two-node local Ray cluster, one study database
kept by the sweep process; a trial that hangs is cancelled after its budget."""

import sys
from pathlib import Path

import pytest
from puffer_train import sweep

ray = pytest.importorskip("ray", reason="sweep --ray needs puffer-core[ray]")
sys.path.append(str(Path(__file__).resolve().parents[2] / "puffer-core" / "tests"))
from ray_cluster import two_node_cluster  # noqa: E402  (shared with puffer-core's Ray tests)

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ENV = "sanity-bandit"
SPACE = {"train": {"learning_rate": {"distribution": "log_uniform", "min": 3e-3, "max": 3e-2}}}
FIXED = {"train": {"total_timesteps": 4096, "eval_episodes": 64}}


@pytest.fixture(scope="module")
def cluster():
    cluster = two_node_cluster()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_trials_run_as_ray_tasks_on_both_nodes(cluster, tmp_path):
    result = sweep(ENV, root=tmp_path, space=SPACE, fixed=FIXED, trials=4, repeats=0, workers=2, quiet=True,
                   ray=cluster.address)
    import optuna

    study = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path / ENV / 'study.db'}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 4 and result["best"] is not None
    nodes = {t.user_attrs["ray_node"] for t in done}
    assert len(nodes) == 2, "2 trials at a time with 1 CPU per node: both nodes run trials"
    assert result["trials"]["complete"] == 4


def test_a_hanging_ray_trial_is_cancelled_after_its_budget(cluster, tmp_path):
    fixed = {"train": {"total_timesteps": 50_000_000, "eval_episodes": 64}}
    result = sweep(ENV, root=tmp_path, space=SPACE, fixed=fixed, trials=1, repeats=0, workers=1, quiet=True,
                   trial_timeout=5, ray=cluster.address)
    assert result["best"] is None
    import optuna

    study = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path / ENV / 'study.db'}")
    (trial,) = study.trials
    assert "timeout" in trial.user_attrs["failure"]
