"""Elo: a trained player of a competitive toy rates above the random anchor, which stays at 1000."""

import json

import puffer_core
import puffer_train
import pytest
from puffer_train import cli
from puffer_train.elo import expected, rate, rate_checkpoints


def test_trained_checkpoint_outrates_random(quick, capsys):
    result = puffer_train.train("sanity-duel", **quick(checkpoint_interval=100, eval_episodes=0))  # self-play
    folder = result.checkpoint.parent
    out = rate_checkpoints("sanity-duel", folder, games=64, quiet=True)
    ratings = out["ratings"]
    assert ratings["random"] == 1000.0
    trained = ratings[result.checkpoint.stem]
    # 4 actions: a perfect player beats random in 3/4 of games and draws the rest (score 0.875, ~+340).
    assert trained > 1200
    saved = json.loads((folder / "elo.json").read_text())
    assert saved["ratings"] == ratings and saved["results"][0]["games"] == 128  # both sides played

    code = cli.main(["elo", "sanity-duel", "--checkpoints", str(folder), "--games", "16"])
    assert code == 0 and "random" in capsys.readouterr().out


def test_rating_updates_follow_the_logistic_curve():
    assert expected(1400, 1000) == pytest.approx(1 / (1 + 10 ** -1))
    ratings = rate({("a", "random"): 0.9, ("b", "random"): 0.5, ("a", "b"): 0.9}, ["random", "a", "b"], k=16,
                   passes=500, seed=0)
    assert ratings["random"] == 1000.0 and ratings["a"] > ratings["b"] > 900
    assert rate({("a", "random"): 0.5}, ["random", "a"], k=16, passes=10, seed=0)["a"] == pytest.approx(1000.0)


def test_non_competitive_env_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(puffer_core.ConfigError, match="not registered as competitive"):
        rate_checkpoints("sanity-bandit", tmp_path)
    with pytest.raises(puffer_core.ConfigError, match="no checkpoints"):
        rate_checkpoints("sanity-duel", tmp_path)
