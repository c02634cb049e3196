"""The episode window: what a run reports is the mean over its most recent episodes, however often the
terminal is redrawn."""

import puffer_train
import pytest
from puffer_train import checkpoint as ckpt

WINDOW = 3000  # episodes; sanity-bandit finishes 1024 per epoch (128 envs x 8 steps, one-step episodes)


def recent_mean(epochs: list[dict], episodes: int, key: str) -> float:
    """The reference: whole epochs, newest first, until they hold `episodes` episodes."""
    kept = []
    for stats in reversed([s for s in epochs if s.get("n", 0) > 0]):
        kept.append(stats)
        if sum(s["n"] for s in kept) >= episodes:
            break
    return sum(s[key] * s["n"] for s in kept) / sum(s["n"] for s in kept)


@pytest.mark.parametrize("log_interval", [0.0, 1e9])
def test_the_window_is_set_by_episodes_not_by_redraws(quick, capsys, log_interval):
    """A redraw every epoch (log_interval 0) or never (1e9): the same window, the same reported means."""
    epochs = []
    sections = quick(total_timesteps=8 * 1024, eval_episodes=0, target_episodes=WINDOW, log_interval=log_interval)
    sections["quiet"] = False  # the terminal output is on: plain lines, as when stdout is not a TTY
    result = puffer_train.train("sanity-bandit", callback=lambda info: epochs.append(info["episodes"]), **sections)
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("[sanity-bandit]")]
    assert len(lines) == (8 if log_interval == 0 else 1)  # the first epoch is always shown
    assert len(epochs) == 8 and all(s["n"] == 1024 for s in epochs)
    assert result.train["n"] == 3 * 1024  # the last three epochs hold the window's 3000 episodes
    assert result.train["score"] == pytest.approx(recent_mean(epochs, WINDOW, "score"))
    assert ckpt.load(result.checkpoint, "sanity-bandit")["stats"] == result.train
