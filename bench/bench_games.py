"""Agent-steps/s of the game plugins (breakout, snake, connect4) on one core and over 2 threads.

Goals: snake >= 3.2M agent-steps/s on one core with 1024 snakes (PufferLib's rate on this machine);
connect4 >= 1M agent-steps/s against the one-ply opponent. Every connect4 opponent strength gets a
row. Actions are random, drawn once into a table and copied in per step (no RNG in the loop); the
random connect4 agent also plays full columns, which ends those games early (illegal move).
"""

from __future__ import annotations

import numpy as np
import puffer_core
from harness import Row, interleaved, median

AGENTS = 1024


def _table(space, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, space.n, (64, n), dtype=np.int32)


def _serial(name: str, kwargs: dict):
    env = puffer_core.make(name, **kwargs)
    env.reset(seed=0)
    table, i = _table(env.single_action_space, env.num_agents), [0]

    def step():
        i[0] = (i[0] + 1) % len(table)
        env.actions[:] = table[i[0]]
        env.step(env.actions)

    return env, step


def _threads(name: str, kwargs: dict):
    vec = puffer_core.vector.make(name, backend="threads", num_env_objects=2, num_workers=2, seed=0, env_kwargs=kwargs)
    vec.async_reset(0)
    vec.recv()
    table, i = _table(vec.single_action_space, vec.num_agents), [0]

    def step():
        i[0] = (i[0] + 1) % len(table)
        vec.actions[:] = table[i[0]]
        vec.send(vec.actions)
        vec.recv()

    return vec, step


# (group, row name, env name, kwargs for one core, kwargs per thread object, note)
CASES = [
    ("envs: breakout", "frameskip 4", "breakout", {"num_envs": AGENTS, "frameskip": 4},
     {"num_envs": AGENTS // 2, "frameskip": 4}, ""),
    ("envs: snake", "4 worlds x 256 snakes", "snake", {"num_envs": 4, "num_snakes": 256},
     {"num_envs": 2, "num_snakes": 256}, "goal >= 3.2M on one core (PufferLib)"),
    ("envs: connect4", "opponent 1 (win/block)", "connect4", {"num_envs": AGENTS, "opponent": 1},
     {"num_envs": AGENTS // 2, "opponent": 1}, "goal >= 1M on one core"),
    ("envs: connect4", "self-play", "connect4-selfplay", {"num_envs": AGENTS // 2},
     {"num_envs": AGENTS // 4}, "2 agents per board, one moves per step"),
]
# One-core rows only: the other opponent strengths.
STRENGTHS = [0, 2, 3, 4, 5]


def rows(quick: bool) -> list[Row]:
    envs, candidates, meta = [], {}, {}
    threads_error = ""
    try:
        for group, name, env_name, one, _, note in CASES:
            env, step = _serial(env_name, one)
            envs.append(env)
            candidates[(group, name, 1)] = (step, env.num_agents)
            meta[(group, name, 1)] = (env.num_agents, note)
        for strength in STRENGTHS:
            key = ("envs: connect4", f"opponent {strength}" + (" (random)" if strength == 0 else " (negamax)"), 1)
            env, step = _serial("connect4", {"num_envs": AGENTS, "opponent": strength})
            envs.append(env)
            candidates[key] = (step, env.num_agents)
            meta[key] = (env.num_agents, "")
        try:
            for group, name, env_name, _, per_thread, _ in CASES:
                vec, step = _threads(env_name, per_thread)
                envs.append(vec)
                candidates[(group, name, 2)] = (step, vec.num_agents)
                meta[(group, name, 2)] = (vec.num_agents, "threads backend, 2 env objects")
        except (ImportError, puffer_core.PufferError) as e:
            threads_error = f"threads backend unavailable: {e}"
        runs = interleaved(candidates, repeats=3 if quick else 5, seconds=0.5 if quick else 1.0)
    finally:
        for env in envs:
            env.close()
    out = []
    for key in candidates:
        group, name, workers = key
        agents, note = meta[key]
        out.append(Row(group, name + (" threads" if workers > 1 else ""), agents, workers,
                       median(runs[key]), runs[key], note))
    if threads_error:
        out.append(Row("envs: games", "threads", AGENTS, 2, float("nan"), [], threads_error))
    return out
