"""Where a training run's numbers go: the window of recent episodes, TensorBoard events and the terminal.

The window is defined by episodes, never by the clock: the dashboard redraws when it is due, but what it
shows, what checkpoints store, what `train` returns and what train.target is checked on are all the means
over the most recent train.target_episodes finished episodes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from .dashboard import Dashboard, machine, time_split


class EpisodeWindow:
    """Per-episode means over the most recent `episodes` finished episodes, weighted by episode count.

    Kept as whole batches of statistics (one per epoch, or per evaluation check): the oldest batch leaves
    once the newer ones hold `episodes` episodes. With episodes=math.inf every batch stays."""

    def __init__(self, episodes: float):
        self.episodes = episodes
        self.parts: list[dict] = []

    def add(self, stats: dict) -> None:
        if stats.get("n", 0) <= 0:
            return
        self.parts.append(stats)
        while len(self.parts) > 1 and sum(p["n"] for p in self.parts[1:]) >= self.episodes:
            self.parts.pop(0)

    @property
    def n(self) -> float:
        return sum(p["n"] for p in self.parts)

    def mean(self) -> dict:
        n = self.n
        if n <= 0:
            return {}
        keys = dict.fromkeys(k for p in self.parts for k in p if k != "n")
        out = {k: sum(p[k] * p["n"] for p in self.parts if k in p) / n for k in keys}
        out["n"] = n
        return out

    def mean_of(self, key: str) -> float:
        """`key`'s mean once the window holds `episodes` episodes, else -inf (what train.target compares)."""
        if self.n < self.episodes:
            return -math.inf
        return self.mean().get(key, -math.inf)


class Timers(dict):
    """Cumulative seconds per part of the training loop: env, forward (the rollout's policy steps), update,
    and other (everything else: logging, checkpoints). `lap()` ends an epoch and returns its own seconds."""

    def __init__(self):
        super().__init__(env=0.0, forward=0.0, update=0.0, other=0.0)
        self._last, self._mark = dict(self), time.perf_counter()

    def lap(self) -> dict[str, float]:
        now = time.perf_counter()
        self["other"] += max(0.0, now - self._mark - sum(self[k] - self._last[k] for k in self))
        lap = {k: self[k] - self._last[k] for k in self}
        self._last, self._mark = dict(self), now
        return lap


class Logger:
    """One run's logging: every epoch's statistics into the episode window, every value into TensorBoard
    (when `tensorboard`), and a dashboard or plain lines on the terminal (unless `quiet`)."""

    def __init__(self, title: str, run_dir: Path, *, window_episodes: int, tensorboard: bool, dashboard: bool,
                 interval: float, quiet: bool):
        self.window = EpisodeWindow(window_episodes)
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir))
        self.dashboard = None if quiet else Dashboard(title, live=dashboard, interval=interval)

    @property
    def episodes(self) -> dict:
        """The window's per-episode means ({} until an episode finished)."""
        return self.window.mean()

    def epoch(self, *, step: int, epoch: str, elapsed: float, sps: float, lr: float, stats: dict, losses: dict,
              timers: Timers) -> None:
        """Log one epoch (`stats`: its own finished episodes) and close its lap of `timers`."""
        epoch_times = timers.lap()
        self.window.add(stats)
        if self.writer is not None:
            self.writer.add_scalar("perf/sps", sps, step)
            self.writer.add_scalar("perf/lr", lr, step)
            for group, values in (("env", stats), ("loss", losses), ("time", timers)):
                for k, v in values.items():
                    self.writer.add_scalar(f"{group}/{k}", v, step)
        if self.dashboard is not None and self.dashboard.due():
            self.dashboard.show({
                "progress": {"epoch": epoch, "agent steps": step, "sps": sps, "elapsed s": elapsed},
                "episodes": self.episodes,
                "losses": losses,
                "time": {**time_split(epoch_times), **machine()},
            })

    def evaluation(self, step: int, stats: dict) -> None:
        if self.writer is not None:
            for k, v in stats.items():
                self.writer.add_scalar(f"eval/{k}", v, step)

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close what is open (what was logged stays readable, also after an error)."""
        if self.dashboard is not None:
            self.dashboard.close()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
