"""Data-parallel training over several processes with torch.distributed (gloo on CPU, NCCL on GPU).

    torchrun --nproc-per-node 2 -m puffer_train cartpole      # or: puffer-train cartpole --train.world-size 2

Every rank runs the same trainer on envs of its own (other seeds), starts from rank 0's weights, and
averages its gradients with the others' after every backward pass, so all ranks take the same optimizer
steps and keep identical weights. Episode statistics are merged exactly as the log ABI prescribes
(per-episode sums and episode counts added over ranks, never a mean of means). Only rank 0 writes
checkpoints, TensorBoard events and the dashboard. A run without torchrun is rank 0 of a world of 1,
and then nothing here talks to anyone.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import subprocess
import sys

import torch
from puffer_core.errors import ConfigError

_group: Group | None = None


class Group:
    """This process's place in a data-parallel run."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def device(self, device: torch.device) -> torch.device:
        """One GPU per rank: cuda means cuda:<local rank>."""
        if self.distributed and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def share_weights(self, module: torch.nn.Module) -> None:
        """Start every rank from rank 0's weights, and average gradients over ranks as backward
        produces them (a hook per parameter: the trainer's update loop stays as it is)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        with torch.no_grad():
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, 0)
        world = self.world_size

        def average(param: torch.Tensor) -> None:
            dist.all_reduce(param.grad)
            param.grad.div_(world)

        for param in module.parameters():
            if param.requires_grad:
                param.register_post_accumulate_grad_hook(average)

    def merge_stats(self, stats: dict, fields) -> dict:
        """Episode statistics of every rank as one (per-episode means over all of them, `n` summed)."""
        if not self.distributed:
            return stats
        import torch.distributed as dist
        from puffer_core.logs import summarize

        n = stats.get("n", 0.0)
        sums = torch.tensor([stats.get(f, 0.0) * n for f in fields[:-1]] + [n], dtype=torch.float64)
        dist.all_reduce(sums)
        return summarize(fields, sums.numpy())

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any (so all ranks stop at the same epoch)."""
        if not self.distributed:
            return flag
        import torch.distributed as dist

        value = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(value)
        return bool(value.item() > 0)

    def gather(self, obj) -> list:
        """Every rank's `obj`, in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def weights_agree(self, module: torch.nn.Module) -> bool:
        """Whether every rank holds bit-identical weights."""
        h = hashlib.sha256()
        for name, tensor in module.state_dict().items():
            h.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
        return len(set(self.gather(h.hexdigest()))) == 1


def join(config_world_size: int, device: torch.device) -> Group:
    """The process group of this run: joined once per process when launched by torchrun (WORLD_SIZE
    set), else a world of one. NCCL when training on GPUs, gloo on CPUs."""
    global _group
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        if config_world_size > 1:
            raise ConfigError(f"train.world_size = {config_world_size} needs one process per rank: run "
                              f"`puffer-train ... --train.world-size {config_world_size}` (which starts torchrun) "
                              f"or `torchrun --nproc-per-node {config_world_size} -m puffer_train ...`")
        return Group()
    if config_world_size not in (1, world):
        raise ConfigError(f"train.world_size = {config_world_size} but torchrun started {world} processes "
                          "(WORLD_SIZE): make them agree, or leave train.world_size at 1 under torchrun")
    if _group is None:
        import torch.distributed as dist

        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(local_rank)
            dist.init_process_group(backend)
            # Left to interpreter teardown, gloo's threads can outlive their process group and abort the
            # process ("terminate called without an active exception") after training succeeded.
            atexit.register(_leave_group, dist)
        _group = Group(dist.get_rank(), dist.get_world_size(), local_rank)
    return _group


def _leave_group(dist) -> None:
    """At exit: wait for the other ranks, then destroy the group, so that no rank tears down its store
    or sockets while another still talks to them (a rank aborted that way after a successful run)."""
    if not dist.is_initialized():
        return
    with contextlib.suppress(Exception):  # a rank that is already gone makes the barrier raise, not hang
        dist.barrier()
    dist.destroy_process_group()


def launch(world_size: int, argv: list[str]) -> int:
    """Run `puffer-train argv` on `world_size` local processes through torchrun; its exit code."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world_size}",
               "-m", "puffer_train", *argv]
    return subprocess.run(command).returncode


def seed_offset(rank: int, world_size: int, epoch: int, num_envs: int) -> int:
    """What rank `rank` adds to train.seed when it (re)seeds its envs at `epoch`: distinct env seeds
    for every rank and every reset, and exactly the single-process seeds for a world of one."""
    return (epoch * world_size + rank) * max(1, num_envs)


__all__ = ["Group", "join", "launch", "seed_offset"]
