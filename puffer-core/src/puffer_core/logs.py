"""The Python side of the log-struct ABI (DESIGN.md).

A Log is a row of float fields whose last field is `n`, the number of finished episodes summed in.
Envs add each finished episode into their Log; aggregation sums rows over envs and workers, then
divides every field but `n` by the summed `n`. That is the exact per-episode mean whatever the
number of envs or workers, which averaging per-worker means is not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_fields(fields: Sequence[str]) -> tuple[str, ...]:
    fields = tuple(fields)
    if not fields or fields[-1] != "n":
        raise ValueError(f"a Log's last field must be 'n' (episodes summed in); got {list(fields)}")
    if len(set(fields)) != len(fields):
        raise ValueError(f"Log fields repeat a name: {list(fields)}")
    return fields


def summarize(fields: Sequence[str], sums: np.ndarray) -> dict[str, float]:
    """Per-episode means from summed Log rows; {} when no episode finished."""
    sums = np.asarray(sums, dtype=np.float64)
    n = float(sums[-1])
    if n <= 0:
        return {}
    out = {name: float(value) / n for name, value in zip(fields[:-1], sums[:-1])}
    out["n"] = n
    return out


class LogAccumulator:
    """Episode statistics kept in Python for envs that are not C structs (emulation, numpy envs).

    `add(returns=..., lengths=...)` adds finished episodes; `pop()` returns the summed row (n last)
    and zeroes it, exactly like a C env's Log.
    """

    def __init__(self, fields: Sequence[str]):
        self.fields = check_fields(fields)
        self.sums = np.zeros(len(self.fields), np.float64)

    def add(self, count: int = 1, **values) -> None:
        for name, value in values.items():
            self.sums[self.fields.index(name)] += float(np.sum(value))
        self.sums[-1] += count

    def pop(self) -> np.ndarray:
        out = self.sums.copy()
        self.sums[:] = 0
        return out
