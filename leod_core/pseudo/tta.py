"""Test-time views for pseudo-labelling (REFERENCE 6 step 4): original, hflip, tflip, hflip + tflip.

The streaming itself (flips, tflip re-indexing by ``camera.tflip_offset``) is
:mod:`leod_core.inference.stream`; here we pick the views from the config, run them in one batched pass,
and drop the prediction of each stream's first step (LEOD ``skip_first_t`` -> at least 1 step).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from leod_core.cameras import CameraSpec
from leod_core.config import TTAConfig
from leod_core.inference.stream import SequenceJob, View, predict_sequences
from leod_core.layout import SequencePaths

__all__ = ["views_from_config", "first_step_frame", "predict_views"]


def views_from_config(tta: TTAConfig) -> tuple[View, ...]:
    """Original view plus the enabled flips (hflip and tflip together also give the combined view)."""
    views = [View(False, False)]
    if tta.hflip:
        views.append(View(True, False))
    if tta.tflip:
        views.append(View(False, True))
    if tta.hflip and tta.tflip:
        views.append(View(True, True))
    return tuple(views)


def first_step_frame(view: View, start_repr: int, num_reprs: int, tflip_offset: int) -> int:
    """Frame the prediction of a stream's first step belongs to (LEOD never keeps it)."""
    return num_reprs - 1 + tflip_offset if view.tflip else start_repr


def predict_views(model: torch.nn.Module, seq: SequencePaths, camera: CameraSpec, start_repr: int, seq_len: int,
                  num_reprs: int, predict_at: Iterable[int], views: Iterable[View], conf_threshold: float,
                  nms_iou: float, device: str | torch.device = "cpu",
                  batch_size: int = 8) -> dict[View, dict[int, np.ndarray]]:
    """Stream every view over one sequence; ``{view: {frame: (N, 7) float32 repr-pixel boxes}}``."""
    views = tuple(views)
    job = SequenceJob(seq, start_repr, frozenset(int(i) for i in predict_at))
    res = predict_sequences(model, [job], camera, seq_len, views, conf_threshold, nms_iou, device,
                            batch_size=max(batch_size, len(views)))[0]
    out = {}
    for view in views:
        skip = first_step_frame(view, start_repr, num_reprs, camera.tflip_offset)
        out[view] = {f: b for f, b in res.get(view, {}).items() if f != skip}
    return out
