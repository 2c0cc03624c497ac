"""One truncated-BPTT training step of the recurrent detector (REFERENCE section 7, "RNN states / BPTT").

Reset the states of samples that start a sequence, unroll the backbone over the L timesteps with gradients
through time, keep the backbone features of the labelled (t, b) pairs, run FPN + head + loss once on all of
them, and store the final states detached for the next chunk of each streaming slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from leod_core.train.rnn_state import RnnStateStore

__all__ = ["BatchLike", "StepOutput", "labelled_pairs", "bptt_forward"]

_FPN_STAGES = (2, 3, 4)


class BatchLike(Protocol):
    """What the trainer reads from a loader batch (``leod_core.data.TrainBatch``)."""

    ev: Any  # (L, B, 20, Hp, Wp) float32 tensor or array
    labels: list[list[np.ndarray | None]]  # L x B; (N, 7) arrays, None = no label at that step
    is_first: Any  # (B,) bool
    is_padded: Any  # (L, B) bool
    state_keys: list[Any]  # (B,) hashable or None


@dataclass
class StepOutput:
    """The loss of a step (``None`` when the batch holds no labelled frame) and its detached parts.

    Parts stay tensors so a CUDA step does not synchronise; the loop converts them when it logs.
    """

    loss: torch.Tensor | None
    parts: dict[str, torch.Tensor]
    num_frames: int  # labelled (t, b) pairs in the loss


def labelled_pairs(labels: list[list[np.ndarray | None]], is_padded: Any) -> list[tuple[int, int]]:
    """(t, b) pairs with a label set (possibly empty = all background), padded steps excluded; t-major."""
    padded = np.asarray(is_padded.cpu() if isinstance(is_padded, torch.Tensor) else is_padded, dtype=bool)
    return [(t, b) for t, row in enumerate(labels) for b, lab in enumerate(row)
            if lab is not None and not padded[t, b]]


def bptt_forward(model: Any, batch: BatchLike, store: RnnStateStore, device: torch.device,
                 loss_settings: Any) -> StepOutput:
    """Forward (and loss) of one step; the caller runs backward and the optimizer.

    ``model`` is a ``Detector`` (``forward_backbone``, ``loss``); ``loss_settings`` is passed to its loss.
    """
    ev = torch.as_tensor(batch.ev).to(device, non_blocking=True)
    if ev.ndim != 5:
        raise ValueError(f"batch.ev must be (L, B, C, H, W), got shape {tuple(ev.shape)}")
    steps, bsz = ev.shape[:2]
    if len(batch.labels) != steps or any(len(row) != bsz for row in batch.labels):
        raise ValueError(f"batch.labels must be {steps} x {bsz} (L x B)")
    pairs = labelled_pairs(batch.labels, batch.is_padded)
    by_t: dict[int, list[int]] = {}
    for t, b in pairs:
        by_t.setdefault(t, []).append(b)

    states = store.gather(batch.state_keys, batch.is_first, device)
    kept: list[dict[int, torch.Tensor]] = []
    for t in range(steps):
        feats, states = model.forward_backbone(ev[t], states)
        if t in by_t:  # features of the labelled samples only, so the rest of the graph can be freed early
            idx = torch.tensor(by_t[t], device=device)
            kept.append({s: feats[s].index_select(0, idx) for s in _FPN_STAGES})
    store.store(batch.state_keys, states)
    if not pairs:
        return StepOutput(loss=None, parts={}, num_frames=0)
    features = {s: torch.cat([k[s] for k in kept], dim=0) for s in _FPN_STAGES}
    targets = [batch.labels[t][b] for t, b in pairs]  # same t-major order as ``features``
    loss, parts = model.loss(features, targets, loss_settings)
    return StepOutput(loss=loss, parts={k: torch.as_tensor(v).detach() for k, v in parts.items()}, num_frames=len(pairs))
