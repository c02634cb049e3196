"""Learning benchmark: each env trained with its shipped config on several seeds.

    python bench/bench_learn.py [ENV ...] [--seeds N] [--solved X]     # default: cartpole, 5 seeds
    nox -s learn -- cartpole pong --seeds 3

Per env: the final evaluation (the trainer's `score`, mean over its eval episodes) as mean and min over
seeds, how many seeds reached the solved level, training wall-clock seconds (excluding the final
evaluation), the seconds and agent steps until the config's `train.target` was reached, and training
SPS. Writes bench/results/learn.md and learn.json (envs not run keep their last rows). `--solved X` is
the final evaluation of `train.target_metric` that counts as solved (default: the env's `train.target`,
else its `[sweep]` target). Each seed trains in this process, one after the other; on a shared
machine the seconds vary with the load.

Also a module of `bench/run.py` (`rows(quick)`): cartpole on 5 seeds (2 with --quick).
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def learn(env: str, seeds: int, solved: float | None = None) -> dict:
    import puffer_core
    import puffer_train
    from puffer_train.trainer import resolve_config

    config, _ = resolve_config(env)
    target = config.train.target
    if solved is None:  # the config's early-stop target, else the score its [sweep] section aims for
        import tomllib

        swept = tomllib.loads(puffer_core.get_spec(env).config or "").get("sweep", {}).get("target", math.inf)
        solved = target if math.isfinite(target) else float(swept)
    runs = []
    for seed in range(1, seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            r = puffer_train.train(env, quiet=True, train={"seed": seed, "data_dir": tmp, "dashboard": False,
                                                          "tensorboard": False})
        # "Solved" is judged on the final evaluation of the metric the target is set on (pong: win_fraction).
        measured = (r.eval or {}).get(config.train.target_metric, r.score)
        runs.append({"seed": seed, "score": r.score, "measured": measured, "seconds": r.wall_time,
                     "steps": r.global_step, "sps": r.sps, "target_time": r.target_time,
                     "target_steps": r.target_steps})
        print(f"   {env} seed {seed}: final evaluation {r.score:.4g} ({config.train.target_metric} "
              f"{measured:.4g}), {r.wall_time:.1f} s, "
              f"{r.global_step:,} steps, {r.sps:,.0f} SPS"
              + (f", target after {r.target_time:.1f} s / {r.target_steps:,} steps" if r.target_reached else ""),
              flush=True)
    scores = [r["score"] for r in runs]
    reached = [r for r in runs if r["target_time"] is not None]
    return {"env": env, "version": puffer_core.get_spec(env).version, "seeds": seeds,
            "metric": config.train.target_metric, "target": target, "solved_at": solved,
            "eval_mean": statistics.fmean(scores), "eval_min": min(scores),
            "solved": sum(1 for r in runs if math.isfinite(solved) and r.get("measured", r["score"]) >= solved),
            "train_seconds_mean": statistics.fmean(r["seconds"] for r in runs),
            "train_seconds_max": max(r["seconds"] for r in runs),
            "target_reached": len(reached),
            "target_seconds_mean": statistics.fmean(r["target_time"] for r in reached) if reached else None,
            "target_seconds_median": statistics.median(r["target_time"] for r in reached) if reached else None,
            "target_steps_mean": statistics.fmean(r["target_steps"] for r in reached) if reached else None,
            "sps_mean": statistics.fmean(r["sps"] for r in runs), "runs": runs}


def table(results: list[dict]) -> str:
    lines = ["| env | seeds | final eval mean | final eval min | solved | train s mean (max) | "
             "to target: s, steps (seeds) | SPS |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        solved = f"{r['solved']}/{r['seeds']} (>= {r['solved_at']:g})" if math.isfinite(r["solved_at"]) else "-"
        to_target = "-"
        if r["target_reached"]:
            median = r.get("target_seconds_median")
            to_target = (f"{r['target_seconds_mean']:.1f} s"
                         + (f" (median {median:.1f} s)" if median is not None else "")
                         + f", {r['target_steps_mean']:,.0f} ({r['target_reached']}/{r['seeds']})")
        lines.append(f"| {r['env']} | {r['seeds']} | {r['eval_mean']:.4g} | {r['eval_min']:.4g} | {solved} | "
                     f"{r['train_seconds_mean']:.1f} ({r['train_seconds_max']:.1f}) | {to_target} | "
                     f"{r['sps_mean']:,.0f} |")
    return "\n".join(lines)


def rows(quick: bool):
    from harness import Row

    r = learn("cartpole", seeds=2 if quick else 5)
    note = (f"unit: seconds of training (mean of {r['seeds']} seeds, max {r['train_seconds_max']:.1f}); final "
            f"eval mean {r['eval_mean']:.4g}, min {r['eval_min']:.4g}, {r['solved']}/{r['seeds']} solved")
    return [Row("learn: shipped config", "puffer cartpole", 0, 1, r["train_seconds_mean"],
                [x["seconds"] for x in r["runs"]], note)]


def main(argv: list[str]) -> int:
    envs, seeds, solved = [], 5, None
    args = iter(argv)
    for arg in args:
        if arg == "--seeds":
            seeds = int(next(args))
        elif arg == "--solved":
            solved = float(next(args))
        elif arg.startswith("--"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            envs.append(arg)
    results = []
    for env in envs or ["cartpole"]:
        print(f"== learn {env}: {seeds} seeds", flush=True)
        results.append(learn(env, seeds, solved))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    # Envs not run this time keep their last results, so the table can be filled one env at a time.
    path, ran = out / "learn.json", {r["env"] for r in results}
    kept = [r for r in json.loads(path.read_text())["results"] if r["env"] not in ran] if path.exists() else []
    results = sorted(kept + results, key=lambda r: r["env"])
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    text = table(results)
    (out / "learn.md").write_text(text + "\n")
    print(text + f"\n\nwrote {out / 'learn.md'} and {out / 'learn.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
