"""First `make()` of a C env in a fresh process: from the plugin wheel's prebuilt extension, from a
cold compile cache (gcc runs), and from a warm cache. Milliseconds, imports excluded.

The plugins in the bench venv are installed from wheels (nox installs them as users do), so the
prebuilt extension is there; `PUFFER_PREBUILT=0` makes the same install use the cache instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Row, median

GROUP = "envs: first make() (ms)"
ENVS = ("pong", "moba")

FIRST_MAKE = """
import sys, time
import puffer_core, puffer_envs
start = time.perf_counter()
env = puffer_core.make(sys.argv[1], num_envs=1)
elapsed = time.perf_counter() - start
assert env.build().prebuilt == (sys.argv[2] == "prebuilt"), env.build().path
print(elapsed * 1000)
"""


def first_make_ms(name: str, how: str, cache: Path) -> float:
    env = {**os.environ, "PUFFER_CACHE_DIR": str(cache), "PUFFER_PREBUILT": "1" if how == "prebuilt" else "0"}
    for var in ("PUFFER_SANITIZE", "PUFFER_CFLAGS"):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-c", FIRST_MAKE, name, how], capture_output=True, text=True, env=env,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"first make({name!r}) [{how}] failed: {done.stderr.strip()[-2000:]}")
    return float(done.stdout.split()[-1])


def rows(quick: bool) -> list[Row]:
    repeats = 1 if quick else 3
    runs: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="puffer-bench-cache-") as tmp:
        for i in range(repeats):  # round-robin, so drift hits every candidate alike
            for name in ENVS:
                cold = Path(tmp) / f"{name}-{i}"  # empty: this process compiles
                for how, cache in (("prebuilt", Path(tmp) / "unused"), ("cold cache", cold), ("warm cache", cold)):
                    runs.setdefault((name, how), []).append(first_make_ms(name, how, cache))
    out = []
    for name in ENVS:
        for how, note in (("prebuilt", "wheel's extension: no compiler"), ("cold cache", "compiles the header (gcc)"),
                          ("warm cache", "cache entry verified (sha256) and loaded")):
            values = runs[(name, how)]
            out.append(Row(GROUP, f"{name}: {how}", 1, 1, median(values), values, f"ms; {note}"))
        ratio = median(runs[(name, "cold cache")]) / median(runs[(name, "prebuilt")])
        out.append(Row(GROUP, f"{name}: cold cache / prebuilt", 1, 1, ratio, [], "x"))
    return out
