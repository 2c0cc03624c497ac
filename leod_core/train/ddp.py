"""Data-parallel training helpers: process group from torchrun's environment, gradient averaging.

Gradients are averaged with one flattened all-reduce per step instead of wrapping the model in
``DistributedDataParallel``: a training step calls ``forward_backbone`` L times and then ``loss``, never
``forward``, which DDP's reducer needs to see. A rank whose batch has no labelled frame contributes zero
gradients (DDP would hang on unused parameters). Buffers (BatchNorm running stats) are broadcast from
rank 0 every step, as DDP's ``broadcast_buffers=True`` does; on CUDA BatchNorm is converted to
SyncBatchNorm (REFERENCE section 8).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo", "dist_info_from_env", "init_distributed", "shutdown_distributed", "broadcast_module",
    "average_gradients", "sum_across", "torchrun_command",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def dist_info_from_env() -> DistInfo:
    """Read RANK / WORLD_SIZE / LOCAL_RANK as set by ``torch.distributed.run``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"bad torchrun environment: RANK={rank} WORLD_SIZE={world}")
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def init_distributed(info: DistInfo, device: torch.device) -> None:
    """Join the process group (gloo on CPU, nccl on CUDA) when running under torchrun with > 1 process."""
    if not info.distributed or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)  # object collectives (checkpoint gathering) use the current device
    kwargs = {"device_id": device} if device.type == "cuda" else {}
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size, **kwargs)


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@torch.no_grad()
def broadcast_module(module: nn.Module, params: bool = True, buffers: bool = True) -> None:
    """Copy rank 0's parameters and/or buffers to every rank (no-op without a process group)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    tensors = ([p.data for p in module.parameters()] if params else []) + \
              ([b for b in module.buffers() if b.is_floating_point() or b.dtype == torch.long] if buffers else [])
    for t in tensors:
        dist.broadcast(t, src=0)


@torch.no_grad()
def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """All-reduce the mean gradient in one flat buffer; a missing ``.grad`` counts as zeros."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    plist = [p for p in params if p.requires_grad]
    for p in plist:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in plist])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for p in plist:
        n = p.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def sum_across(value: float, device: torch.device) -> float:
    """Sum a number over ranks (identity without a process group)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item())


def torchrun_command(nproc: int, module: str, args: Sequence[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N -m <module> <args>``."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", module, *args]
