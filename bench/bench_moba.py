"""MOBA agent-steps/s: self-play (10 agents per game) on one core, over 2 threads, and 5 agents per
game against scripted heroes on one core.

Goal: >= 300k agent-steps/s on one core (2x PufferLib's moba, ~140k); a million is the moonshot.
Actions are random, drawn once into a table and copied in per step (no RNG in the loop).
"""

from __future__ import annotations

import time

import numpy as np
import puffer_core
from harness import Row, interleaved, median

GAMES = 64
GROUP = "envs: moba"
NVEC = (7, 7, 3, 2, 2, 2)


def _actions(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, NVEC, (64, n, len(NVEC)), dtype=np.int32)


def _serial(**kwargs):
    env = puffer_core.make("moba", num_envs=GAMES, **kwargs)
    env.reset(seed=0)
    table, i = _actions(env.num_agents), [0]

    def step():
        i[0] = (i[0] + 1) % len(table)
        env.actions[:] = table[i[0]]
        env.step(env.actions)

    return env, step


def _threads():
    vec = puffer_core.vector.make("moba", backend="threads", num_env_objects=2, num_workers=2, seed=0,
                                  env_kwargs={"num_envs": GAMES // 2})
    vec.async_reset(0)
    vec.recv()
    table, i = _actions(vec.num_agents), [0]

    def step():
        i[0] = (i[0] + 1) % len(table)
        vec.actions[:] = table[i[0]]
        vec.send(vec.actions)
        vec.recv()

    return vec, step


def _per_cpu_second(step, agents: int, seconds: float) -> float:
    """Agent-steps per second of this process's CPU time: one core's speed even on a busy machine."""
    cpu, wall = time.process_time(), time.perf_counter()
    calls = 0
    while time.perf_counter() - wall < seconds:
        step()
        calls += 1
    return calls * agents / max(time.process_time() - cpu, 1e-9)


def rows(quick: bool) -> list[Row]:
    envs, candidates, notes = [], {}, {}
    try:
        env, step = _serial()
        envs.append(env)
        candidates["self-play"] = (step, env.num_agents, 1)
        notes["self-play"] = f"{GAMES} games x 10 agents; goal >= 300k (PufferLib ~140k)"
        env, step = _serial(script_opponents=1)
        envs.append(env)
        candidates["vs scripted"] = (step, env.num_agents, 1)
        notes["vs scripted"] = f"{GAMES} games x 5 agents + 5 scripted heroes"
        threads_error = ""
        try:
            vec, step = _threads()
            envs.append(vec)
            candidates["self-play threads"] = (step, vec.num_agents, 2)
            notes["self-play threads"] = f"threads backend, 2 x {GAMES // 2} games"
        except (ImportError, puffer_core.PufferError) as e:  # no threads backend in this build
            threads_error = f"threads backend unavailable: {e}"
        runs = interleaved({k: v[:2] for k, v in candidates.items()}, repeats=3 if quick else 7,
                           seconds=0.5 if quick else 1.0)
        step, agents, _ = candidates["self-play"]
        cpu_rate = _per_cpu_second(step, agents, 1.0 if quick else 3.0)
        notes["self-play"] += f"; {cpu_rate / 1e3:.0f}k per CPU-second"
    finally:
        for env in envs:
            env.close()
    out = [Row(GROUP, name, agents, workers, median(runs[name]), runs[name], notes[name])
           for name, (_, agents, workers) in candidates.items()]
    if threads_error:
        out.append(Row(GROUP, "self-play threads", GAMES * 10, 2, float("nan"), [], threads_error))
    return out
