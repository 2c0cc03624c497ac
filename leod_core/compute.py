"""Where a model runs: the torch thread count and the device, one rule for every stage that runs one.

``train.threads`` is a result-changing parameter (oneDNN splits its reductions by thread, so the floats
depend on the count; tracked by every such stage in dvc.yaml), which is why training, evaluation,
pseudo-labelling, frame suggestion and prediction all set it here, the same way.
"""

from __future__ import annotations

import torch

__all__ = ["use_threads", "pick_device"]


def use_threads(threads: int) -> None:
    """Run torch on ``threads`` intra-op threads (``train.threads``); 0 keeps torch's default (all cores)."""
    if threads > 0:
        torch.set_num_threads(threads)


def pick_device(device: str | torch.device | None = None, local_rank: int = 0) -> torch.device:
    """``device`` when given; else this rank's CUDA device when there is one, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
