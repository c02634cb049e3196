"""Checkpoints: written atomically, loaded without executing code.

A checkpoint is a dict of tensors and plain data (no pickled classes), so `torch.load(weights_only=True)`
reads it: model and optimizer state, RNG states (torch, numpy, python) as lists and tensors, the
epoch and step counters, the env name and the resolved config as plain data.

Each checkpoint also stores `digest`, a SHA-256 of everything else in it (every tensor's dtype, shape and
bytes, every plain value), taken when it is written and checked when it is read: a file damaged on disk
or in a copy is refused by name instead of loading silently with other weights. Checkpoints written
before digests existed still load, with a CheckpointWarning that they cannot be verified.
"""

from __future__ import annotations

import hashlib
import random
import warnings
from pathlib import Path

import numpy as np
import torch
from puffer_core.errors import ConfigError, PufferError

from .files import write_atomically

FORMAT = "puffer-train/1"


class CheckpointError(PufferError):
    """A checkpoint that cannot be read, is damaged, or does not belong to the requested env."""


class CheckpointWarning(UserWarning):
    """A checkpoint that loads but cannot be verified (written before checkpoints stored a digest)."""


def content_digest(data) -> str:
    """SHA-256 of nested dicts/lists of tensors and plain values: dtypes, shapes, bytes, keys and values."""
    h = hashlib.sha256()
    _feed(h, data)
    return h.hexdigest()


def _feed(h, value) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, dict):
        h.update(b"D%d:" % len(value))
        for key in sorted(value, key=repr):  # str keys, and the optimizer state's int keys
            _feed(h, key)
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(b"L%d:" % len(value))
        for item in value:
            _feed(h, item)
    else:  # str, int, float, bool, None
        h.update(f"{type(value).__name__}={value!r};".encode())


def rng_state(device: torch.device) -> dict:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, state, gauss_next = random.getstate()
    out = {"torch": torch.get_rng_state(),
           "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
           "python": [version, list(state), gauss_next]}
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state(device)
    return out


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, np.array(keys, np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save(path: Path, *, env: str, config: dict, agent, optimizer, epoch: int, global_step: int,
         device: torch.device, stats: dict | None = None, rank_rngs: list[dict] | None = None) -> Path:
    """Write the checkpoint (never half-written).
    `rank_rngs`: every rank's RNG states in a data-parallel run, for its exact resume."""
    data = {"format": FORMAT, "env": env, "config": config, "model": agent.state_dict(),
            "optimizer": optimizer.state_dict(), "epoch": epoch, "global_step": global_step,
            "rng": rng_state(device), "stats": dict(stats or {})}
    if rank_rngs is not None:
        data["rank_rngs"] = rank_rngs
    data["digest"] = content_digest(data)
    return write_atomically(path, lambda f: torch.save(data, f))


def load(path: str | Path, env: str | None = None) -> dict:
    """Read a checkpoint (data only, no code runs). With `env`, check that it was trained on that env."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of foreign files
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable puffer-train checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else 'no detail'}); "
                              "pass a .pt file written by puffer-train") from None
    missing = {"format", "env", "config", "model", "optimizer", "epoch", "global_step", "rng"} - set(
        data if isinstance(data, dict) else {})
    if not isinstance(data, dict) or data.get("format") != FORMAT or missing:
        raise CheckpointError(f"{path} is a torch file but not a puffer-train checkpoint "
                              f"(format {data.get('format') if isinstance(data, dict) else type(data).__name__!r}, "
                              f"missing {sorted(missing)})")
    stored = data.pop("digest", None)
    if stored is None:
        warnings.warn(f"{path} was written before checkpoints stored a digest: it cannot be checked for damage",
                      CheckpointWarning, stacklevel=2)
    elif stored != content_digest(data):
        raise CheckpointError(f"{path} is damaged: its contents no longer match the digest stored when it was "
                              "written (changed on disk or in a copy); resume from another checkpoint, e.g. an "
                              f"earlier one in {path.parent}")
    if env is not None and data["env"] != env:
        raise ConfigError(f"checkpoint {path} was trained on env {data['env']!r}, not {env!r}; "
                          f"run it with `{data['env']}` or pick a checkpoint of {env!r}")
    return data


def load_weights(agent, data: dict, path) -> None:
    try:
        agent.load_state_dict(data["model"])
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {path} does not fit this policy (was [policy] changed?): "
                              f"{str(e).splitlines()[0]} ...") from None
