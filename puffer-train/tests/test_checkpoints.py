"""Checkpoints: exact resume, reproducible seeds, and clear errors for bad files, wrong envs and NaN losses."""

import os
import signal
from pathlib import Path

import numpy as np
import puffer_core
import puffer_train
import pytest
import torch
from puffer_core.registry import registry
from puffer_envs_sanity import Bandit
from puffer_train import checkpoint as ckpt

# LSTM, V-trace and prioritized sampling on: every source of state and randomness a resume must restore.
SECTIONS = {"policy": {"recurrent": True, "hidden_size": 16},
            "env": {"num_envs": 32}}
TRAIN = {"total_timesteps": 6 * 32 * 16, "horizon": 16, "minibatch_size": 128, "checkpoint_interval": 3,
         "vtrace": True, "prio_alpha": 0.6, "eval_episodes": 0, "seed": 7}


def weights(path) -> dict:
    return torch.load(path, weights_only=True)["model"]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("optimizer", ["adam", "muon"])
def test_resume_equals_uninterrupted(quick, optimizer):
    full = puffer_train.train("sanity-memory", **quick(**TRAIN, optimizer=optimizer), **SECTIONS)
    run = full.run_dir
    middle = run / "checkpoints" / "model_000003.pt"
    assert middle.is_file() and full.epochs == 6
    full_weights = weights(full.checkpoint)  # read now: the resumed run writes the same file name
    resumed = puffer_train.train("sanity-memory", resume=middle, **quick(**TRAIN))
    assert resumed.epochs == 6 and resumed.global_step == full.global_step
    assert resumed.run_dir == run  # continues in the run directory the checkpoint came from
    assert same(full_weights, weights(resumed.checkpoint))
    # ... and the resumed run really trained: the weights moved since the middle checkpoint.
    assert not same(weights(middle), weights(resumed.checkpoint))


def test_same_seed_same_weights_other_seed_differs(quick):
    train = {**TRAIN, "total_timesteps": 2 * 32 * 16, "vtrace": False, "prio_alpha": 0.0}
    a = puffer_train.train("sanity-bandit", **quick(**train), env={"num_envs": 32})
    b = puffer_train.train("sanity-bandit", **quick(**train), env={"num_envs": 32})
    c = puffer_train.train("sanity-bandit", **quick(**{**train, "seed": 8}), env={"num_envs": 32})
    assert same(weights(a.checkpoint), weights(b.checkpoint))
    assert not same(weights(a.checkpoint), weights(c.checkpoint))


def test_checkpoint_is_plain_data(quick):
    result = puffer_train.train("sanity-bandit", **quick(total_timesteps=1024, eval_episodes=0))
    data = ckpt.load(result.checkpoint, "sanity-bandit")  # weights_only=True: no code can run
    assert data["env"] == "sanity-bandit" and data["epoch"] == result.epochs
    assert data["config"]["train"]["total_timesteps"] == 1024
    assert set(data["rng"]) >= {"torch", "numpy", "python"}


def test_corrupt_checkpoint_is_a_clear_error_and_nothing_is_overwritten(quick, tmp_path):
    result = puffer_train.train("sanity-bandit", **quick(total_timesteps=1024, eval_episodes=0))
    good = result.checkpoint
    bad = good.with_name("model_999999.pt")
    bad.write_bytes(b"\x80\x04 definitely not a checkpoint")
    before = {p: p.read_bytes() for p in result.run_dir.rglob("*") if p.is_file()}
    with pytest.raises(puffer_train.CheckpointError, match="not a readable puffer-train checkpoint"):
        puffer_train.train("sanity-bandit", resume=bad, **quick(total_timesteps=4096))
    after = {p: p.read_bytes() for p in result.run_dir.rglob("*") if p.is_file()}
    assert after == before
    with pytest.raises(puffer_train.CheckpointError, match="no checkpoint file"):
        puffer_train.evaluate("sanity-bandit", tmp_path / "missing.pt")
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(puffer_train.CheckpointError, match="not a puffer-train checkpoint"):
        puffer_train.evaluate("sanity-bandit", tmp_path / "other.pt")


def test_checkpoint_of_another_env_is_refused(quick):
    result = puffer_train.train("sanity-bandit", **quick(total_timesteps=1024, eval_episodes=0))
    with pytest.raises(puffer_core.ConfigError, match="trained on env 'sanity-bandit', not 'sanity-coop'"):
        puffer_train.evaluate("sanity-coop", result.checkpoint)
    with pytest.raises(puffer_core.ConfigError, match="trained on env 'sanity-bandit'"):
        puffer_train.train("sanity-coop", resume=result.checkpoint, **quick())


class NanAfter(Bandit):
    """A bandit whose rewards turn to `bad_reward` (NaN, or a float32 so big the loss overflows) after
    `good_steps` steps."""

    def __init__(self, good_steps: int = 100, bad_reward: float = np.nan, **kwargs):
        super().__init__(**kwargs)
        self.good_steps, self.steps, self.bad_reward = good_steps, 0, bad_reward

    def _step(self):
        super()._step()
        self.steps += 1
        if self.steps > self.good_steps:
            self.rewards[:] = self.bad_reward


@pytest.fixture
def nan_env():
    """An in-process env, removed again so other packages' tests never see it."""
    puffer_core.register(puffer_core.EnvSpec(name="test-nan-bandit", make=NanAfter,
                                             default_kwargs={"num_envs": 16, "good_steps": 3 * 8}))
    yield "test-nan-bandit"
    registry().specs.pop("test-nan-bandit", None)


@pytest.mark.parametrize(("bad_reward", "error"), [
    (np.nan, r"^env 'test-nan-bandit' wrote NaN or infinite values into its rewards buffer \(agent rows 0, 1, 2, 3, "
             r"4, 5, 6, 7, \.\.\.\) in epoch 4 .*model_000003\.pt"),
    (3e38, r"^the loss became NaN or infinite in epoch 4 .*model_000003\.pt"),
])
def test_nan_loss_stops_with_the_epoch_and_keeps_the_last_checkpoint(quick, nan_env, bad_reward, error):
    with pytest.raises(puffer_train.TrainingError, match=error) as info:
        puffer_train.train(nan_env, env={"bad_reward": bad_reward},
                           **quick(horizon=8, total_timesteps=16 * 8 * 10, checkpoint_interval=1, minibatch_size=64))
    kept = Path(str(info.value).split("checkpoint is ")[1].split(". ")[0])
    assert sorted(p.name for p in kept.parent.iterdir()) == [f"model_00000{i}.pt" for i in (1, 2, 3)]
    data = ckpt.load(kept, nan_env)
    assert data["epoch"] == 3
    assert all(torch.isfinite(v).all() for v in data["model"].values())


def test_ctrl_c_finishes_the_epoch_and_saves(quick):
    """SIGINT (Ctrl-C) during training: the epoch completes, a final checkpoint is written, no eval runs."""
    def press_ctrl_c(info):
        if info["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    result = puffer_train.train("sanity-bandit", callback=press_ctrl_c, **quick(total_timesteps=20 * 1024))
    assert result.interrupted and result.epochs == 2 and result.eval == {}
    assert ckpt.load(result.checkpoint, "sanity-bandit")["epoch"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(quick):
    with pytest.raises(puffer_core.ConfigError, match="no CUDA GPU"):
        puffer_train.train("sanity-bandit", **quick(device="cuda"))
