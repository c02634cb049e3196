"""The Ray backend beside multiprocessing and serial, 2 workers, on one machine (a local Ray instance):
agent-steps/s for the C cartpole (a fast step, where the hand-off dominates) and for envs whose step
takes 1 ms and 5 ms (where a Ray actor's higher cost per hand-off is small beside the step).

Candidates of a group are measured interleaved (harness.interleaved), medians reported; the note gives
the time per step. Skipped when Ray is not installed (`pip install 'puffer-core[ray]'`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import harness
import numpy as np

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"


def group(title: str, creator, num_envs: int, env_kwargs: dict, quick: bool) -> list[harness.Row]:
    import puffer_core

    specs = [("serial", "serial", None, {}), ("multiprocessing sync", "multiprocessing", 2, {}),
             ("ray sync", "ray", 2, {"actor_options": {"num_cpus": 1}})]
    vecs, candidates = [], {}
    try:
        for name, backend, workers, kwargs in specs:
            vec = puffer_core.vector.make(creator, backend=backend, num_env_objects=num_envs, num_workers=workers,
                                          env_kwargs=env_kwargs, **kwargs)
            vecs.append(vec)
            actions = np.random.default_rng(0).integers(0, 2, vec.num_agents).astype(np.int32)
            vec.reset(seed=0)
            candidates[name] = ((lambda vec=vec, actions=actions: vec.step(actions)), vec.num_agents)
        runs = harness.interleaved(candidates, repeats=3 if quick else 5, seconds=0.5 if quick else 1.0)
    finally:
        for vec in vecs:
            vec.close()
    workers = {name: w or 1 for name, _, w, _ in specs}
    rows = []
    for name, values in runs.items():
        rate = harness.median(values)
        rows.append(harness.Row(group=title, name=name, agents=vecs[0].num_agents, workers=workers[name],
                                steps_per_s=rate, runs=values,
                                note=f"{vecs[0].num_agents / rate * 1e3:.2f} ms per step"))
    return rows


def rows(quick: bool) -> list[harness.Row]:
    try:
        import ray
    except ImportError:
        return []
    for path in (str(HERE), str(EXAMPLES)):  # spawned workers and Ray actors import the envs by name
        if path not in sys.path:
            sys.path.insert(0, path)
    from sleepy_env import Sleepy

    paths = [str(HERE), str(EXAMPLES)]  # where Ray's workers import the envs from
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             job_config=ray.job_config.JobConfig(code_search_path=paths))
    try:
        import puffer_core

        out = []
        if "cartpole" in puffer_core.list_envs():  # the C plugin is installed
            out += group("ray: C cartpole, 2 envs x 4096 agents", "cartpole", 2, {"num_envs": 4096}, quick)
        for ms in (1, 5):
            out += group(f"ray: {ms} ms steps, 2 envs x 64 agents", Sleepy, 2, {"num_envs": 64, "step_ms": ms}, quick)
        return out
    finally:
        ray.shutdown()


if __name__ == "__main__":
    for row in rows(quick="--quick" in sys.argv):
        print(f"{row.group} | {row.name}: {row.steps_per_s:,.0f} agent-steps/s ({row.note})")
