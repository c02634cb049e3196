"""C CartPole agent-steps/s: the env itself and the serial backend on one core (4096 agents), the
threads and multiprocessing backends on 2 cores (8192 and 65536 agents, with 1-core rows at the
same sizes for the scaling), against Gymnasium CartPole-v1 in SyncVectorEnv and EnvPool's CartPole-v1.

Goals: C cartpole >= 35M agent-steps/s on one core, >= 300x Gymnasium SyncVectorEnv.
Actions are random, drawn once and left in the actions buffer: this measures the env loop, not an RNG.
Scaling is the median over rounds of threads/serial measured back to back (this VM's speed swings
within seconds), next to a ceiling: two threads stepping halves with one hand-off per 20 steps.
EnvPool runs in its own venv (bench/results/envpool-venv, made on first use) so that its pinned
dependencies never touch the bench's; with no network the row is skipped with a note.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import venv
from pathlib import Path

import gymnasium
import numpy as np
import puffer_core
from harness import Row, median, rate

GROUP = "envs: cartpole"
AGENTS = 4096
GYM_ENVS = 64
ENVPOOL_VENV = Path(__file__).parent / "results" / "envpool-venv"

ENVPOOL_WORKER = """
import sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, envpool
n = int(sys.argv[1])
env = envpool.make("CartPole-v1", env_type="gymnasium", num_envs=n, batch_size=n, num_threads=1,
                   thread_affinity_offset=-1)
env.reset()
actions = np.random.default_rng(0).integers(0, 2, n)
for _ in range(3):
    env.step(actions)
print("ready", flush=True)
for line in sys.stdin:
    seconds, calls = float(line), 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        env.step(actions)
        calls += 1
    print(calls * n / (time.perf_counter() - start), flush=True)
"""


def _fill(env, seed=0):
    env.actions[:] = np.random.default_rng(seed).integers(0, 2, env.num_agents, dtype=np.int32)


def _env(agents: int):
    env = puffer_core.make("cartpole", num_envs=agents)
    env.reset(seed=0)
    _fill(env)
    return env, lambda: env.step(env.actions)


def _backend(backend: str, agents: int, workers: int):
    kwargs = {"num_workers": workers} if backend != "serial" else {}
    vec = puffer_core.vector.make("cartpole", backend=backend, num_env_objects=workers, seed=0,
                                  env_kwargs={"num_envs": agents // workers}, **kwargs)
    vec.reset()
    _fill(vec)
    return vec, lambda: vec.step(vec.actions)


CEILING_STEPS = 20


class TwoThreadCeiling:
    """Two halves of the agents in two threads, CEILING_STEPS steps per hand-off: what 2 threads get
    on this machine at that moment with (almost) no synchronization."""

    def __init__(self, agents: int):
        self.halves = [puffer_core.make("cartpole", num_envs=agents // 2) for _ in range(2)]
        for seed, env in enumerate(self.halves):
            env.reset(seed=seed)
            _fill(env, seed)
        self.go, self.done = threading.Semaphore(0), threading.Semaphore(0)
        self.running = True
        self.thread = threading.Thread(target=self._helper, daemon=True)
        self.thread.start()

    def _steps(self, env):
        for _ in range(CEILING_STEPS):
            env.step(env.actions)

    def _helper(self):
        while True:
            self.go.acquire()
            if not self.running:
                return
            self._steps(self.halves[1])
            self.done.release()

    def step(self):
        self.go.release()
        self._steps(self.halves[0])
        self.done.acquire()

    def close(self):
        self.running = False
        self.go.release()
        self.thread.join()
        for env in self.halves:
            env.close()


def _ceiling(agents: int):
    ceiling = TwoThreadCeiling(agents)
    return ceiling, ceiling.step


def _gymnasium():
    sync = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make("CartPole-v1")] * GYM_ENVS)
    sync.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, GYM_ENVS)
    return sync, lambda: sync.step(actions)


class EnvPool:
    """EnvPool's CartPole-v1 (one thread) in a worker process of its own venv, timed on request."""

    def __init__(self, agents: int):
        python = self.python()
        self.proc = subprocess.Popen([str(python), "-c", ENVPOOL_WORKER, str(agents)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"envpool worker failed: {self.proc.stderr.read()[-500:]}")

    @staticmethod
    def python() -> Path:
        try:  # installed in the bench's own env: use it
            import envpool  # noqa: F401

            return Path(sys.executable)
        except ImportError:
            pass
        python = ENVPOOL_VENV / "bin" / "python"
        check = [str(python), "-c", "import envpool"]
        if not python.exists() or subprocess.run(check, capture_output=True).returncode != 0:
            venv.create(ENVPOOL_VENV, with_pip=False, clear=True)
            pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--timeout", "20",
                   "--retries", "1", "envpool"]
            done = subprocess.run(pip, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                raise RuntimeError(f"pip install envpool failed: {done.stderr.strip().splitlines()[-1:]}")
        return python

    def measure(self, seconds: float) -> float:
        self.proc.stdin.write(f"{seconds}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def rows(quick: bool) -> list[Row]:
    repeats, seconds = (3, 0.3) if quick else (11, 0.5)
    local = {  # name -> (make, agents, workers, note)
        "C env.step, 1 core": (lambda: _env(AGENTS), AGENTS, 1, "goal >= 35M"),
        "serial backend, 1 core": (lambda: _backend("serial", AGENTS, 1), AGENTS, 1, ""),
        "serial backend, 8192": (lambda: _backend("serial", 8192, 1), 8192, 1, "1-core baseline for threads"),
        "threads backend, 8192": (lambda: _backend("threads", 8192, 2), 8192, 2, ""),
        "serial backend, 65536": (lambda: _backend("serial", 65536, 1), 65536, 1, "1-core baseline for threads"),
        "threads backend, 65536": (lambda: _backend("threads", 65536, 2), 65536, 2, ""),
        "multiprocessing backend, 8192": (lambda: _backend("multiprocessing", 8192, 2), 8192, 2,
                                          "sync: 1 process + caller"),
        "multiprocessing backend, 65536": (lambda: _backend("multiprocessing", 65536, 2), 65536, 2,
                                           "sync: 1 process + caller"),
        "ceiling: 2 threads, 8192": (lambda: _ceiling(8192), 8192, 2, "one hand-off per 20 steps"),
        "ceiling: 2 threads, 65536": (lambda: _ceiling(65536), 65536, 2, "one hand-off per 20 steps"),
        "gymnasium SyncVectorEnv": (_gymnasium, GYM_ENVS, 1, f"CartPole-v1 x {GYM_ENVS}"),
    }
    made, steps, skipped = [], {}, {}
    envpool = None
    try:
        for name, (make, *_) in local.items():
            try:
                env, step = make()
            except (ImportError, puffer_core.PufferError) as e:
                skipped[name] = f"unavailable: {e}"
                continue
            made.append(env)
            steps[name] = step
        try:
            envpool = EnvPool(AGENTS)
        except Exception as e:  # no network, no wheel for this platform, ...
            skipped["envpool"] = f"skipped: {e}"
        runs: dict[str, list[float]] = {name: [] for name in [*steps, *(["envpool"] if envpool else [])]}
        for _ in range(repeats):  # round-robin, so drift hits every candidate alike
            for name, step in steps.items():
                calls = CEILING_STEPS if name.startswith("ceiling") else 1  # env steps per call of `step`
                runs[name].append(rate(step, local[name][1] * calls, seconds))
            if envpool:
                runs["envpool"].append(envpool.measure(seconds))
    finally:
        for env in made:
            env.close()
        if envpool:
            envpool.close()

    out = []
    for name, (_, agents, workers, note) in local.items():
        if name in skipped:
            out.append(Row(GROUP, name, agents, workers, float("nan"), [], skipped[name]))
        else:
            out.append(Row(GROUP, name, agents, workers, median(runs[name]), runs[name], note))
    if envpool:
        out.append(Row(GROUP, "envpool CartPole-v1", AGENTS, 1, median(runs["envpool"]), runs["envpool"],
                       "1 thread, batch = all envs"))
    else:
        out.append(Row(GROUP, "envpool CartPole-v1", AGENTS, 1, float("nan"), [], skipped["envpool"]))
    by_name = {r.name: r.steps_per_s for r in out}
    for size in (8192, 65536):
        def paired(a, b):
            return statistics.median(x / y for x, y in zip(runs[a], runs[b])) if runs.get(a) and runs.get(b) else 0
        ceiling = paired(f"ceiling: 2 threads, {size}", f"serial backend, {size}")
        for backend in ("threads", "multiprocessing"):
            scaling = paired(f"{backend} backend, {size}", f"serial backend, {size}")
            out.append(Row(GROUP, f"{backend} scaling, {size}", size, 2, scaling, [],
                           f"x over 1 core (goal >= 1.7x at 65536; ideal 2x); the 2-thread ceiling is {ceiling:.2f}x "
                           "(medians of per-round ratios)"))
    ratio = by_name["C env.step, 1 core"] / by_name["gymnasium SyncVectorEnv"]
    out.append(Row(GROUP, "C 1 core / gymnasium SyncVectorEnv", AGENTS, 1, ratio, [], "x (goal >= 300x)"))
    if envpool:
        out.append(Row(GROUP, "C 1 core / envpool 1 thread", AGENTS, 1,
                       by_name["C env.step, 1 core"] / by_name["envpool CartPole-v1"], [], "x"))
    return out
