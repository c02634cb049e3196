"""Shared timing for `nox -s bench`: every bench module measures with these and returns rows.

This machine's speed drifts by up to 30% from minute to minute, so rows that are compared are
measured interleaved in one run (round-robin over the candidates), repeated, and reported as medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class Row:
    group: str  # e.g. "core: emulated CartPole-v1"
    name: str  # e.g. "puffer multiprocessing"
    agents: int
    workers: int
    steps_per_s: float  # median agent-steps/s (or the group's unit, see note)
    runs: list[float] = field(default_factory=list)
    note: str = ""

    def dict(self):
        return asdict(self)


def rate(step: Callable[[], None], agent_steps_per_call: int, seconds: float = 1.0, warmup: int = 3) -> float:
    """Agent-steps/s of calling `step` repeatedly for about `seconds`."""
    for _ in range(warmup):
        step()
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        step()
        calls += 1
        now = time.perf_counter()
        if now >= deadline:
            return calls * agent_steps_per_call / (now - start)


def interleaved(candidates: dict[str, tuple[Callable[[], None], int]], repeats: int = 5,
                seconds: float = 1.0) -> dict[str, list[float]]:
    """Measure each candidate `repeats` times, round-robin, so drift hits all of them alike."""
    runs: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, (step, per_call) in candidates.items():
            runs[name].append(rate(step, per_call, seconds))
    return runs


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
