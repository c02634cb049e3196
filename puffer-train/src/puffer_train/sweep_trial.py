"""One trial of `puffer-train sweep`, in a process of its own: `python -m puffer_train.sweep_trial SPEC.json`.

The sweep writes SPEC.json (env, config layers, the sweep's pid), this process trains quietly through
`puffer_train.train` and writes `result.json` beside the spec, atomically:
`{"ok": true, "score", "steps", "seconds", "sps", "curve", "config", ...}` or `{"ok": false, "failure": why}`.
It never touches the sweep's database: the sweep process records what this file says.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tomllib
import traceback
from pathlib import Path

from .files import write_atomically


def die_with_parent(parent_pid: int) -> None:
    """A trial must not outlive its sweep (a sweep killed with SIGKILL leaves no orphan training on)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the sweep died before prctl took effect
        sys.exit(1)


def score_key(stats: dict) -> str:
    """The statistic the trainer reports as its score: `score` when the env logs one, else the return."""
    return "score" if "score" in stats else "episode_return"


def run(spec: dict) -> dict:
    from puffer_core.errors import PufferError

    from .trainer import TrainingError, train

    curve = []  # (agent steps, seconds, training score of that epoch's finished episodes)

    def record(info):
        episodes = info["episodes"]
        if episodes.get("n", 0) > 0:
            curve.append((info["global_step"], round(info["elapsed"], 3), episodes.get(score_key(episodes))))
        return False

    try:
        result = train(spec["env"], layers=[(layer, source) for layer, source in spec["layers"]], quiet=True,
                       callback=record)
    except TrainingError as e:
        return {"ok": False, "failure": f"diverged: {e}", "curve": curve}
    except PufferError as e:  # e.g. a sampled combination the trainer rejects
        return {"ok": False, "failure": f"bad config: {e}", "curve": curve}
    score = result.score
    out = {"ok": True, "score": score, "steps": result.global_step, "seconds": result.wall_time,
           "sps": result.sps, "eval_episodes": result.eval.get("n", 0), "target_reached": result.target_reached,
           "run_dir": str(result.run_dir), "curve": curve,
           "config": tomllib.loads((result.run_dir / "config.toml").read_text())}
    if not isinstance(score, (int, float)) or not math.isfinite(score):
        out.update(ok=False, failure=f"diverged: the final evaluation score is {score}")
    elif not result.eval:
        out.update(ok=False, failure="no episode finished in the final evaluation: the score would be a guess")
    return out


def main(argv: list[str]) -> int:
    spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text())
    die_with_parent(spec["parent_pid"])
    out = spec_path.with_name("result.json")
    try:
        result = run(spec)
    except Exception as e:  # a crash is the trial's result, recorded as a failure
        traceback.print_exc()
        write_atomically(out, json.dumps({"ok": False, "failure": f"crashed: {type(e).__name__}: {e}"}, indent=1))
        return 1
    write_atomically(out, json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
