"""Pong agent-steps/s: 4096 agents on one core at frameskip 1 and 8, and over 2 threads.

Goal (PufferLib 3.0's pong on this machine's one core): ~22M agent-steps/s at frameskip 1, ~4.4M at
frameskip 8. Actions are random, drawn once into a table and copied in per step (no RNG in the loop).
"""

from __future__ import annotations

import numpy as np
import puffer_core
from harness import Row, interleaved, median

AGENTS = 4096
GROUP = "envs: pong"


def _actions(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, (64, n), dtype=np.int32)


def _serial(frameskip: int):
    env = puffer_core.make("pong", num_envs=AGENTS, frameskip=frameskip)
    env.reset(seed=0)
    table, i = _actions(AGENTS), [0]

    def step():
        i[0] = (i[0] + 1) % len(table)
        env.actions[:] = table[i[0]]
        env.step(env.actions)

    return env, step


def _threads(frameskip: int):
    vec = puffer_core.vector.make("pong", backend="threads", num_env_objects=2, num_workers=2, seed=0,
                                  env_kwargs={"num_envs": AGENTS // 2, "frameskip": frameskip})
    vec.async_reset(0)
    vec.recv()
    table, i = _actions(vec.num_agents), [0]

    def step():
        i[0] = (i[0] + 1) % len(table)
        vec.actions[:] = table[i[0]]
        vec.send(vec.actions)
        vec.recv()

    return vec, step


def rows(quick: bool) -> list[Row]:
    envs, candidates, notes = [], {}, {}
    try:
        for frameskip in (1, 8):
            env, step = _serial(frameskip)
            envs.append(env)
            candidates[(frameskip, 1)] = (step, AGENTS)
            notes[(frameskip, 1)] = "goal ~22M (PufferLib 3.0)" if frameskip == 1 else "goal ~4.4M (PufferLib 3.0)"
        threads_error = ""
        try:
            for frameskip in (1, 8):
                vec, step = _threads(frameskip)
                envs.append(vec)
                candidates[(frameskip, 2)] = (step, AGENTS)
                notes[(frameskip, 2)] = "threads backend, 2 x 2048 agents"
        except (ImportError, puffer_core.PufferError) as e:  # no threads backend in this build
            threads_error = f"threads backend unavailable: {e}"
        runs = interleaved(candidates, repeats=3 if quick else 7, seconds=0.5 if quick else 1.0)
    finally:
        for env in envs:
            env.close()
    out = [Row(GROUP, f"frameskip {fs}" + (" threads" if workers > 1 else ""), AGENTS, workers,
               median(runs[(fs, workers)]), runs[(fs, workers)], notes[(fs, workers)])
           for (fs, workers) in candidates]
    if threads_error:
        out.append(Row(GROUP, "threads", AGENTS, 2, float("nan"), [], threads_error))
    return out
