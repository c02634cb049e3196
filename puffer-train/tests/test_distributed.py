"""Data-parallel training: two real processes started by torchrun, talking over gloo on this CPU."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import puffer_train
import pytest
import torch
from puffer_core.errors import ConfigError

pytestmark = pytest.mark.slow

# One rank's run: train, then record the hash of the weights this rank ended with and what train() returned.
SCRIPT = textwrap.dedent('''
    import hashlib, json, os, sys
    import puffer_train

    out, kwargs = sys.argv[1], json.loads(sys.argv[2])
    last = {}

    def callback(info):
        last["weights"] = {k: v.clone() for k, v in info["agent"].state_dict().items()}

    result = puffer_train.train("sanity-memory", callback=callback, quiet=True, **kwargs)
    h = hashlib.sha256()
    for name, tensor in last["weights"].items():
        h.update(name.encode() + tensor.numpy().tobytes())
    rank = os.environ["RANK"]
    keep = {"score": result.score, "epochs": result.epochs, "global_step": result.global_step,
            "checkpoint": str(result.checkpoint), "world_size": result.world_size}
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"weights": h.hexdigest(), **keep}, f)
''')

SECTIONS = {"policy": {"recurrent": True, "hidden_size": 16}, "env": {"num_envs": 32}}


def torchrun(tmp_path: Path, name: str, **kwargs) -> list[dict]:
    """Run SCRIPT on 2 ranks with train(**kwargs); what each rank recorded."""
    out = tmp_path / name
    out.mkdir()
    script = tmp_path / "rank.py"
    script.write_text(SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(script),
               str(out), json.dumps(kwargs)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def sections(tmp_path: Path, **train) -> dict:
    return {"train": {"data_dir": str(tmp_path / "runs"), "dashboard": False, "seed": 3, **train}, **SECTIONS}


def test_two_ranks_end_with_identical_weights_and_solve_like_one_process(tmp_path):
    ranks = torchrun(tmp_path, "ddp", **sections(tmp_path, total_timesteps=40_000, horizon=16, minibatch_size=256,
                                                 eval_episodes=100))
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert ranks[0]["world_size"] == 2 and ranks[0]["score"] == ranks[1]["score"]  # merged over both ranks
    # The global step budget is shared: each rank runs half the epochs of a single process.
    single = puffer_train.train("sanity-memory", quiet=True, **SECTIONS,
                                train={"data_dir": str(tmp_path / "one"), "dashboard": False, "seed": 3,
                                       "total_timesteps": 40_000, "horizon": 16, "minibatch_size": 256,
                                       "eval_episodes": 100})
    assert ranks[0]["global_step"] == single.global_step and ranks[0]["epochs"] * 2 == single.epochs
    assert single.score > 0.95 and ranks[0]["score"] > 0.95


def test_two_ranks_resume_exactly_from_a_checkpoint(tmp_path):
    train = {"total_timesteps": 6 * 2 * 32 * 16, "horizon": 16, "minibatch_size": 128, "checkpoint_interval": 3,
             "eval_episodes": 0, "prio_alpha": 0.6}
    full = torchrun(tmp_path, "full", **sections(tmp_path, **train))
    middle = Path(full[0]["checkpoint"]).with_name("model_000003.pt")
    final = torch.load(full[0]["checkpoint"], weights_only=True)
    assert full[0]["epochs"] == 6 and middle.is_file()
    assert len(torch.load(middle, weights_only=True)["rank_rngs"]) == 2
    resumed = torchrun(tmp_path, "resumed", resume=str(middle))
    assert resumed[0]["weights"] == resumed[1]["weights"] and resumed[0]["checkpoint"] == full[0]["checkpoint"]
    again = torch.load(Path(full[0]["checkpoint"]), weights_only=True)
    assert final["model"].keys() == again["model"].keys()
    assert all(torch.equal(final["model"][k], again["model"][k]) for k in final["model"])
    # One process cannot continue a two-rank run exactly, and says so.
    with pytest.raises(ConfigError, match="written by a run of 2 process"):
        puffer_train.train("sanity-memory", resume=middle, quiet=True, train={"world_size": 1})


def test_world_size_without_torchrun_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="torchrun"):
        puffer_train.train("sanity-bandit", quiet=True, train={"world_size": 2, "data_dir": str(tmp_path)})
