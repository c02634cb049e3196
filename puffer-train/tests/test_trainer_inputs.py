"""Bad trainer inputs: damaged checkpoints, NaN/inf options, an env writing NaN observations, SIGTERM."""

import dataclasses
import math
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import puffer_core
import puffer_train
import pytest
import torch
from gymnasium import spaces
from puffer_core.registry import registry
from puffer_train import checkpoint as ckpt
from puffer_train import cli
from puffer_train import config as cfg
from puffer_train.trainer import NonFiniteBuffer, check_finite

HEADERS = Path(__file__).parent / "headers"


def files_under(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# -- damaged checkpoints ---------------------------------------------------------------------------

def flip_bytes_in_a_weight(path: Path) -> None:
    """XOR a few bytes in the middle of the biggest weight tensor's data, found where torch.save's zip
    stores it raw."""
    model = torch.load(path, weights_only=True)["model"]
    weight = max(model.values(), key=lambda t: t.numel()).contiguous().numpy().tobytes()
    raw = bytearray(path.read_bytes())
    start = raw.find(weight) + len(weight) // 2
    assert raw.count(weight) == 1 and len(weight) > 64
    for i in range(start, start + 3):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))


def test_flipped_bytes_in_a_weight_tensor_are_detected_and_nothing_is_touched(quick):
    result = puffer_train.train("sanity-bandit", **quick(total_timesteps=1024, eval_episodes=0))
    good = result.checkpoint
    bad = good.with_name("model_damaged.pt")
    bad.write_bytes(good.read_bytes())
    flip_bytes_in_a_weight(bad)
    # torch itself reads the damaged file without complaint, with other weights: only the digest sees it.
    plain_good, plain_bad = (torch.load(p, weights_only=True)["model"] for p in (good, bad))
    assert any(not torch.equal(plain_good[k], plain_bad[k]) for k in plain_good)

    run = result.run_dir
    before = files_under(run)
    for attempt in (lambda: ckpt.load(bad, "sanity-bandit"),
                    lambda: puffer_train.train("sanity-bandit", resume=bad, **quick(total_timesteps=4096)),
                    lambda: puffer_train.evaluate("sanity-bandit", bad)):
        with pytest.raises(puffer_train.CheckpointError) as info:
            attempt()
        assert str(info.value).startswith(f"{bad} is damaged: its contents no longer match the digest")
        assert f"an earlier one in {bad.parent}" in str(info.value)
    assert files_under(run) == before  # nothing written, nothing removed
    assert ckpt.load(good, "sanity-bandit")["epoch"] == result.epochs  # the intact one still loads


def test_checkpoints_from_before_digests_load_with_a_warning(quick, tmp_path):
    result = puffer_train.train("sanity-bandit", **quick(total_timesteps=1024, eval_episodes=0))
    data = torch.load(result.checkpoint, weights_only=True)
    assert len(data.pop("digest")) == 64
    old = tmp_path / "old.pt"
    torch.save(data, old)
    with pytest.warns(ckpt.CheckpointWarning, match="written before checkpoints stored a digest"):
        loaded = ckpt.load(old, "sanity-bandit")
    assert all(torch.equal(loaded["model"][k], data["model"][k]) for k in data["model"])


# -- NaN and inf options ----------------------------------------------------------------------------

FLOATS = [f.name for f in dataclasses.fields(cfg.TrainConfig) if f.type in ("float", float)]
INF_OK = {f.name for f in dataclasses.fields(cfg.TrainConfig) if f.metadata.get("inf_ok")}


def test_the_float_options_are_the_ones_expected():
    assert "learning_rate" in FLOATS and "target" in INF_OK and "learning_rate" not in INF_OK
    assert len(FLOATS) >= 15


@pytest.mark.parametrize("key", FLOATS)
def test_nan_and_inf_options_are_refused_from_toml_and_flags(tmp_path, monkeypatch, capsys, key):
    monkeypatch.chdir(tmp_path)  # where a run that got through would write runs/
    bad = ["nan", "-inf"] + ([] if key in INF_OK else ["inf"])
    for value in bad:
        path = tmp_path / "bad.toml"
        path.write_text(f"[train]\n{key} = {value}\n")
        assert cli.main(["sanity-bandit", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"error: train.{key} in {path} must be a finite number" in err, err
        flag = f"--train.{key.replace('_', '-')}"
        assert cli.main(["sanity-bandit", f"{flag}={value}"]) == 2
        err = capsys.readouterr().err
        assert f"error: train.{key} in flag {flag} must be a finite number" in err, err
        with pytest.raises(puffer_core.ConfigError, match=f"train.{key} in keyword train= must be a finite"):
            puffer_train.train("sanity-bandit", train={key: float(value)})
    assert not (tmp_path / "runs").exists()


def test_inf_means_never_or_no_clip_where_it_makes_sense(quick):
    result = puffer_train.train("sanity-bandit", **quick(total_timesteps=1024, eval_episodes=0, target=math.inf,
                                                         max_grad_norm=math.inf, clip_coef=math.inf))
    assert result.epochs >= 1 and not result.target_reached


@pytest.mark.parametrize(("key", "value", "words"), [
    ("adam_eps", 0.0, "must be positive"), ("ent_coef", -0.1, "must be 0 or more"),
    ("prio_beta0", 1.5, "must lie in [0, 1]"), ("max_grad_norm", -1.0, "must be positive"),
])
def test_out_of_range_floats_are_refused(key, value, words):
    with pytest.raises(puffer_core.ConfigError, match=rf"train\.{key} {re.escape(words)}"):
        puffer_train.train("sanity-bandit", train={key: value})


# -- an env writing NaN observations ----------------------------------------------------------------

@pytest.fixture
def nan_obs_env(tmp_path, monkeypatch):
    """A real compiled C env (tests/headers/nan_obs.h) whose env 3 writes NaN observations after 24 steps."""
    from puffer_envs import CEnv

    monkeypatch.setenv("PUFFER_CACHE_DIR", str(tmp_path / "cache"))

    class NanObs(CEnv):
        header = str(HEADERS / "nan_obs.h")
        struct = "NanObs"
        config = {"bad_env": 3, "good_steps": 24, "bad_kind": 0}  # 0 NaN, 1 inf

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for i in range(self.num_agents):
                self.envs[i].env_id = i

        @classmethod
        def make_spaces(cls, config):
            return spaces.Box(0, 1, (2,), np.float32), spaces.Discrete(2)

    puffer_core.register(puffer_core.EnvSpec(name="test-nan-obs", make=NanObs, default_kwargs={"num_envs": 16}))
    yield "test-nan-obs"
    registry().specs.pop("test-nan-obs", None)


@pytest.mark.parametrize("bad_kind", [0, 1])
def test_nan_observations_name_the_env_the_buffer_and_the_last_checkpoint(quick, nan_obs_env, bad_kind):
    with pytest.raises(puffer_train.TrainingError) as info:
        puffer_train.train(nan_obs_env, env={"bad_kind": bad_kind},
                           **quick(horizon=8, total_timesteps=16 * 8 * 10, checkpoint_interval=1, minibatch_size=64))
    message = str(info.value)
    assert message.startswith("env 'test-nan-obs' wrote NaN or infinite values into its observations buffer "
                              "(agent rows 3) in epoch 4 (step 384); the last good checkpoint is "), message
    kept = Path(message.split("checkpoint is ")[1].split(". ")[0])
    assert kept.name == "model_000003.pt"
    assert sorted(p.name for p in kept.parent.iterdir()) == [f"model_00000{i}.pt" for i in (1, 2, 3)]
    assert all(torch.isfinite(v).all() for v in ckpt.load(kept, nan_obs_env)["model"].values())


def test_the_check_names_the_agents_and_leaves_huge_finite_and_integer_values_alone():
    rewards, ids = np.zeros(16, np.float32), np.arange(100, 116)  # a batch of agents 100..115
    check_finite(np.full((16, 2), 3e38, np.float32), rewards, ids)  # finite float32, although its sum is not
    check_finite(np.full((16, 2), 255, np.uint8), rewards, ids)  # integer observations: nothing to check
    obs = np.zeros((16, 2, 3), np.float32)
    obs[5, 1, 2] = np.nan
    obs[9, 0, 0] = -np.inf
    with pytest.raises(NonFiniteBuffer) as info:
        check_finite(obs, rewards, ids)
    assert info.value.buffer == "observations" and info.value.rows.tolist() == [105, 109]
    rewards[2] = np.inf
    with pytest.raises(NonFiniteBuffer) as info:
        check_finite(np.zeros((16, 2), np.float32), rewards, ids)
    assert info.value.buffer == "rewards" and info.value.rows.tolist() == [102]


# -- SIGTERM ----------------------------------------------------------------------------------------

def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    """A real `puffer-train` process gets SIGTERM mid-run: it finishes the epoch, writes the final
    checkpoint, leaves no temporary file and exits with the interrupted status (130), as after Ctrl-C."""
    data_dir = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "puffer_train.cli", "sanity-bandit", "--train.total-timesteps", "100000000",
         "--train.data-dir", str(data_dir), "--train.run-name", "term", "--train.dashboard", "false",
         "--train.log-interval", "0", "--train.tensorboard", "false"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:  # the first progress line: training is under way
            if line.startswith("[sanity-bandit]"):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=100)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "SIGTERM: stopping after this epoch and saving a checkpoint" in out
    assert "interrupted: no final evaluation; resume with --resume" in out
    final = sorted((data_dir / "term" / "checkpoints").iterdir())[-1]
    assert ckpt.load(final, "sanity-bandit")["epoch"] == int(final.stem.split("_")[1]) >= 1
    assert f"checkpoint: {final}" in out
    assert not [p for p in (data_dir / "term").rglob("*") if ".tmp" in p.name]


def test_the_signal_handlers_are_restored(quick):
    before = signal.getsignal(signal.SIGTERM)
    puffer_train.train("sanity-bandit", **quick(total_timesteps=1024, eval_episodes=0))
    assert signal.getsignal(signal.SIGTERM) is before and signal.getsignal(signal.SIGINT) is signal.default_int_handler
