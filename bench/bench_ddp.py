"""Data-parallel training: `puffer-train cartpole` in the throughput configuration (4096 agents x 32
steps per rank, minibatch 32k, 1 epoch) on 1 process and on 2 torchrun ranks (gloo on this CPU), in
this order, twice, medians. Each rank brings its own 4096 agents, so 2 ranks train on twice the
experience per update; the row is agent-steps/s over all ranks, read off the trainer's summary line.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile

from harness import Row, median

FLAGS = ["--env.num-envs", "4096", "--train.horizon", "32", "--train.minibatch-size", "32768",
         "--train.update-epochs", "1", "--train.eval-episodes", "0", "--train.tensorboard", "false",
         "--train.dashboard", "false", "--train.checkpoint-interval", "1000"]
SUMMARY = re.compile(r"finished cartpole: ([\d,]+) agent steps in ([\d.]+) s \(([\d,]+) steps/s\)")


def run(ranks: int, steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"]
                    if ranks > 1 else [sys.executable])
        command = [*launcher, "-m", "puffer_train", "cartpole", *FLAGS, "--train.total-timesteps", str(steps),
                   "--train.data-dir", tmp]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    found = SUMMARY.search(done.stdout)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return float(found.group(3).replace(",", ""))


def rows(quick: bool) -> list[Row]:
    try:
        import puffer_core
        import puffer_train  # noqa: F401

        puffer_core.get_spec("cartpole")
    except Exception:  # the trainer or the C cartpole is not installed
        return []
    steps = 1_000_000 if quick else 4_000_000
    runs = {1: [], 2: []}
    for _ in range(2):
        for ranks in runs:
            runs[ranks].append(run(ranks, steps * ranks))
    one = median(runs[1])
    return [Row("train SPS: data-parallel cartpole", f"{ranks} rank(s) x 4096 agents (throughput config)",
                4096 * ranks, ranks, median(values), values,
                f"{median(values) / one:.2f}x one process" if ranks > 1 else "gloo, torchrun --standalone")
            for ranks, values in runs.items()]


if __name__ == "__main__":
    for row in rows("--quick" in sys.argv):
        print(row)
