"""Our C envs against PufferLib 3.0's (its "ocean" C envs), one core, 4096 agents, in the same run:
cartpole, and pong at frameskip 1 and 8.

Goals: our cartpole >= 1.5x PufferLib's, our pong >= 1x PufferLib's at the same frameskip.

PufferLib runs in a worker process of its own interpreter, timed on request over stdin and measured
round-robin with our envs, so the machine's drift hits all candidates alike (like EnvPool in
bench_envs.py). Per PufferLib env two candidates: its Python class's `step(actions)` (what its
users and its own test_performance call: copies the actions in, steps, and for Cartpole, whose
default report_interval is 1, also calls vec_log every step) and the bare `binding.vec_step` (its C
loop only). Ours: `env.step(env.actions)`. Actions are random, drawn once into a 64-row table (the
same values for both sides) and copied in per step; no RNG in the timed loop. Ratio rows are the
median over rounds of ours / theirs measured back to back.

Where PufferLib comes from, first that works:
  1. $PUFFERLIB_PYTHON: an interpreter that imports pufferlib.ocean.{cartpole,pong} (e.g. a manual
     build of the two bindings from the sdist);
  2. the bench's own interpreter, if pufferlib is installed there;
  3. bench/results/pufferlib-venv, made on first use with `pip install pufferlib` (torch pinned by
     constraints.txt, NO_TRAIN=1: no torch extension). PufferLib's setup.py downloads raylib and box2d
     from GitHub, so without network this fails; the failure is remembered for a week in
     bench/results/pufferlib-venv/install-failed.txt (delete it to retry) and the rows are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import numpy as np
import puffer_core
from harness import Row, median, rate

GROUP = "envs: vs PufferLib"
AGENTS = 4096
TABLE_ROWS = 64
HERE = Path(__file__).parent
VENV = HERE / "results" / "pufferlib-venv"
FAILED = VENV / "install-failed.txt"
CONSTRAINTS = HERE.parent / "constraints.txt"
RETRY_AFTER_S = 7 * 24 * 3600

CHECK = ("import pufferlib.ocean.cartpole.binding, pufferlib.ocean.cartpole.cartpole, "
         "pufferlib.ocean.pong.binding, pufferlib.ocean.pong.pong")

PUFFERLIB_WORKER = """
import sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[3])  # bench/: harness.py needs only the standard library
import numpy as np
from harness import rate
from pufferlib.ocean.cartpole import binding as cartpole_binding
from pufferlib.ocean.cartpole.cartpole import Cartpole
from pufferlib.ocean.pong import binding as pong_binding
from pufferlib.ocean.pong.pong import Pong

n, rows = int(sys.argv[1]), int(sys.argv[2])


def table(num_actions):  # the same values as the bench's table for our envs
    return np.random.default_rng(0).integers(0, num_actions, (rows, n), dtype=np.int32).astype(np.float32)


def steppers(env, binding, acts):
    i = [0]

    def python_step():
        i[0] = (i[0] + 1) % rows
        env.step(acts[i[0]])

    def c_step():
        i[0] = (i[0] + 1) % rows
        env.actions[:] = acts[i[0]]
        binding.vec_step(env.c_envs)

    return python_step, c_step


envs, steps = [], {}
for key, env, binding, acts in [("cartpole", Cartpole(num_envs=n), cartpole_binding, table(2)),
                                ("pong1", Pong(num_envs=n, frameskip=1), pong_binding, table(3)),
                                ("pong8", Pong(num_envs=n, frameskip=8), pong_binding, table(3))]:
    env.reset(seed=0)
    envs.append(env)
    steps[key], steps[key + " vec_step"] = steppers(env, binding, acts)
print("ready", flush=True)
for line in sys.stdin:
    seconds, name = line.split(maxsplit=1)
    print(rate(steps[name.strip()], n, float(seconds)), flush=True)
for env in envs:
    env.close()
"""


def _imports_pufferlib(python: str) -> bool:
    with tempfile.TemporaryDirectory() as cwd:  # pufferlib's __init__ symlinks resources/ into the cwd
        try:
            done = subprocess.run([python, "-c", CHECK], cwd=cwd, capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if "Error" in line and "exited-with-error" not in line]
    return (lines or [line.strip() for line in text.splitlines() if line.strip()] or ["?"])[-1][-300:]


def pufferlib_python() -> str:
    """An interpreter that can import PufferLib's cartpole and pong, or RuntimeError saying why not."""
    given = os.environ.get("PUFFERLIB_PYTHON")
    if given:
        if not _imports_pufferlib(given):
            raise RuntimeError(f"PUFFERLIB_PYTHON={given} cannot import pufferlib.ocean.cartpole/pong")
        return given
    python = VENV / "bin" / "python"
    for candidate in (Path(sys.executable), python):
        if candidate.exists() and _imports_pufferlib(str(candidate)):
            return str(candidate)
    if FAILED.exists() and time.time() - FAILED.stat().st_mtime < RETRY_AFTER_S:
        raise RuntimeError(f"{FAILED.read_text().strip()} (delete {FAILED.relative_to(HERE.parent)} to retry, "
                           "or set PUFFERLIB_PYTHON)")
    venv.create(VENV, with_pip=False, clear=True)
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--timeout", "20", "--retries",
           "1", "-c", str(CONSTRAINTS), "pufferlib>=3,<4"]
    # PIP_CONSTRAINT also reaches pip's isolated build env, whose unpinned torch would pull CUDA wheels.
    env = {**os.environ, "PIP_CONSTRAINT": str(CONSTRAINTS), "NO_TRAIN": "1"}
    try:
        done = subprocess.run(pip, capture_output=True, text=True, timeout=1800, env=env)
        error = "" if done.returncode == 0 else _last_error(done.stderr)
    except subprocess.TimeoutExpired:
        error = "timed out after 1800s"
    if not error and not _imports_pufferlib(str(python)):
        error = "installed, but pufferlib.ocean.cartpole/pong do not import"
    if "URLError" in error:
        error += " (PufferLib's setup.py downloads raylib and box2d from GitHub)"
    if error:
        FAILED.write_text(f"pip install pufferlib failed {time.strftime('%Y-%m-%d')}: {error}\n")
        raise RuntimeError(FAILED.read_text().strip())
    return str(python)


class PufferLib:
    """PufferLib's cartpole and pong in a worker process, each step function timed on request."""

    def __init__(self, python: str, agents: int, worker: str = PUFFERLIB_WORKER):
        """`worker`: the script run in PufferLib's interpreter (argv: agents, table rows, bench/); it prints
        "ready", then answers each "seconds name" line on stdin with one rate."""
        self.dir = tempfile.TemporaryDirectory(prefix="bench-pufferlib-")
        self.stderr = open(Path(self.dir.name) / "stderr", "w+")  # a file: a full pipe would block the worker
        self.proc = subprocess.Popen([python, "-c", worker, str(agents), str(TABLE_ROWS),
                                      str(Path(__file__).parent)],
                                     cwd=self.dir.name, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"PufferLib worker failed to start: {self._stderr_tail()}")

    def _stderr_tail(self) -> str:
        self.stderr.flush()
        self.stderr.seek(0)
        return _last_error(self.stderr.read())

    def measure(self, name: str, seconds: float) -> float:
        self.proc.stdin.write(f"{seconds} {name}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            raise RuntimeError(f"PufferLib worker died (rc {self.proc.returncode}): {self._stderr_tail()}")
        return float(line)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()
        self.dir.cleanup()


def _ours(name: str, **kwargs):
    env = puffer_core.make(name, num_envs=AGENTS, **kwargs)
    env.reset(seed=0)
    num_actions = int(env.single_action_space.n)
    table = np.random.default_rng(0).integers(0, num_actions, (TABLE_ROWS, AGENTS), dtype=np.int32)
    i = [0]

    def step():
        i[0] = (i[0] + 1) % TABLE_ROWS
        env.actions[:] = table[i[0]]
        env.step(env.actions)

    return env, step


# (ours, our make kwargs, PufferLib's python-level step, PufferLib's bare C step, ratio goal)
MATCHUPS = {
    "cartpole": (("cartpole", {}), "cartpole", "cartpole vec_step", 1.5),
    "pong frameskip 1": (("pong", {"frameskip": 1}), "pong1", "pong1 vec_step", 1.0),
    "pong frameskip 8": (("pong", {"frameskip": 8}), "pong8", "pong8 vec_step", 1.0),
}


def _names(matchup: str) -> tuple[str, str, str]:
    python_api = "Cartpole.step" if matchup == "cartpole" else f"Pong.step {matchup.removeprefix('pong ')}"
    return (f"ours {matchup} env.step", f"PufferLib {python_api}",
            f"PufferLib {matchup} binding.vec_step")


def _skipped(note: str) -> list[Row]:
    out = []
    for matchup in MATCHUPS:
        for name in _names(matchup):
            out.append(Row(GROUP, name, AGENTS, 1, float("nan"), [], note))
        out.append(Row(GROUP, f"{matchup}: ours / PufferLib step", AGENTS, 1, float("nan"), [], note))
        out.append(Row(GROUP, f"{matchup}: ours / PufferLib vec_step", AGENTS, 1, float("nan"), [], note))
    return out


def rows(quick: bool) -> list[Row]:
    repeats, seconds = (3, 0.5) if quick else (7, 1.0)
    try:
        pufferlib = PufferLib(pufferlib_python(), AGENTS)
    except Exception as e:  # no network to build it, no PUFFERLIB_PYTHON, worker crash, ...
        return _skipped(f"skipped: {e}")
    made, ours, runs, error = [], {}, {}, ""
    try:
        for matchup, ((name, kwargs), *_) in MATCHUPS.items():
            env, ours[matchup] = _ours(name, **kwargs)
            made.append(env)
        keys = [(side, m) for m in MATCHUPS for side in ("ours", "step", "vec_step")]
        runs = {key: [] for key in keys}
        for _ in range(repeats):  # round-robin, so drift hits every candidate alike
            for side, matchup in keys:
                if side == "ours":
                    runs[side, matchup].append(rate(ours[matchup], AGENTS, seconds))
                    continue
                _, theirs, theirs_c, _ = MATCHUPS[matchup]
                try:
                    runs[side, matchup].append(pufferlib.measure(theirs if side == "step" else theirs_c, seconds))
                except (RuntimeError, ValueError, OSError) as e:
                    error = f"failed: {e}"
                    break
            if error:
                break
    finally:
        for env in made:
            env.close()
        pufferlib.close()

    out = []
    for matchup, (*_, goal) in MATCHUPS.items():
        names = _names(matchup)
        for name, side in zip(names, ("ours", "step", "vec_step")):
            values = runs[side, matchup]
            failed = bool(error) and side != "ours"  # keep what it measured, report no median
            out.append(Row(GROUP, name, AGENTS, 1, float("nan") if failed else median(values), values,
                           error if failed else ""))
        for side, what in (("step", f"its {names[1].removeprefix('PufferLib ')}"), ("vec_step", "its bare C loop")):
            ratios = [a / b for a, b in zip(runs["ours", matchup], runs[side, matchup])]
            note = error or f"x, paired per round, vs {what}" + (f" (goal >= {goal:g}x)" if side == "step" else "")
            out.append(Row(GROUP, f"{matchup}: ours / PufferLib {side}", AGENTS, 1,
                           float("nan") if error else median(ratios), ratios, note))
    return out
