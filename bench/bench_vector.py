"""Vector backends: agent-steps/s of serial, threads and multiprocessing (2 workers, sync and async
batches) on the example NumpyCartPole and, when the plugin is installed, the C cartpole.

Each group's candidates live side by side and are measured interleaved (harness.interleaved), medians
reported. Groups with 1 agent per env object measure per-step overhead (the note gives µs per step);
groups with many agents per object measure throughput. Random actions are drawn once, outside the loop.
"""

from __future__ import annotations

import sys
from pathlib import Path

import harness
import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def numpy_cartpole_classes():
    # Workers unpickle the env class by module name: import the example as a module from examples/.
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    from numpy_cartpole import NumpyCartPole

    class GilReleasingCartPole(NumpyCartPole):
        """For the threads backend, which requires the flag: numpy drops the GIL inside its array loops
        only, so threads overlap only part of each step."""

        releases_gil = True

    return NumpyCartPole, GilReleasingCartPole


def stepper(vec, batch: bool):
    """(step function, agent-steps per call) for a sync or an async (recv/send) backend."""
    rng = np.random.default_rng(0)
    if not batch:
        actions = rng.integers(0, vec.single_action_space.n, vec.num_agents).astype(np.int32)
        vec.reset(seed=0)
        return (lambda: vec.step(actions)), vec.num_agents
    actions = rng.integers(0, vec.single_action_space.n, vec.envs_per_batch * vec.agents_per_env).astype(np.int32)
    vec.async_reset(seed=0)

    def step():
        vec.recv()
        vec.send(actions)

    return step, len(actions)


def group(title: str, creator, threads_creator, num_envs: int, env_kwargs: dict, quick: bool) -> list[harness.Row]:
    import puffer_core

    specs = [  # name, backend, workers, envs_per_batch, creator
        ("serial", "serial", None, None, creator),
        ("threads", "threads", 2, None, threads_creator),
        ("multiprocessing sync", "multiprocessing", 2, None, creator),
        ("multiprocessing async (half per recv)", "multiprocessing", 2, num_envs // 2, creator),
    ]
    vecs, candidates, workers = [], {}, {}
    try:
        for name, backend, num_workers, batch, make in specs:
            vec = puffer_core.vector.make(make, backend=backend, num_env_objects=num_envs, num_workers=num_workers,
                                          envs_per_batch=batch, env_kwargs=env_kwargs)
            vecs.append(vec)
            candidates[name] = stepper(vec, batch is not None)
            workers[name] = num_workers or 1
        runs = harness.interleaved(candidates, repeats=3 if quick else 5, seconds=0.3 if quick else 1.0)
    finally:
        for vec in vecs:
            vec.close()
    rows = []
    per_step_agents = {name: per_call for name, (_, per_call) in candidates.items()}
    for name, values in runs.items():
        rate = harness.median(values)
        note = f"{per_step_agents[name] / rate * 1e6:.1f} µs per step/recv+send"
        rows.append(harness.Row(group=title, name=name, agents=vecs[0].num_agents, workers=workers[name],
                                steps_per_s=rate, runs=values, note=note))
    return rows


def rows(quick: bool) -> list[harness.Row]:
    cartpole, gil_cartpole = numpy_cartpole_classes()
    out = []
    for agents in (1, 1024):
        out += group(f"vector: NumpyCartPole, 4 envs x {agents} agents", cartpole, gil_cartpole, 4,
                     {"num_envs": agents}, quick)
    try:
        import puffer_core

        spec = puffer_core.get_spec("cartpole")
        spec.factory()
    except Exception:  # the C plugin is not installed
        return out
    for agents in (1, 4096):
        out += group(f"vector: C cartpole, 4 envs x {agents} agents", "cartpole", "cartpole", 4,
                     {"num_envs": agents}, quick)
    return out


if __name__ == "__main__":
    for row in rows(quick="--quick" in sys.argv):
        print(f"{row.group} | {row.name}: {row.steps_per_s:,.0f} agent-steps/s ({row.note})")
