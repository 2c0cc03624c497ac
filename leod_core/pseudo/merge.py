"""Merging test-time-augmentation views (LEOD ``EventSeqData._aggregate_results`` / ``tta_postprocess``).

Per frame: concatenate every view's (already filtered) boxes, keep obj * cls >= threshold, class-wise
NMS on obj * cls. With a single view LEOD does not re-run this step, and neither do we.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from leod_core.model.boxes_torch import batched_nms

__all__ = ["merge_frame", "merge_views"]


def merge_frame(boxes: np.ndarray, score_threshold: float = 0.01, nms_iou: float = 0.45) -> np.ndarray:
    """(N, 7) boxes of all views of one frame -> (M, 7) float32, by decreasing obj * cls."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 7)
    boxes = boxes[boxes[:, 6] * boxes[:, 5] >= score_threshold]
    if not len(boxes):
        return boxes
    t = torch.from_numpy(boxes.astype(np.float64))
    xyxy = torch.cat([t[:, :2], t[:, :2] + t[:, 2:4]], dim=1)
    keep = batched_nms(xyxy, t[:, 6] * t[:, 5], t[:, 4].long(), nms_iou)
    return boxes[keep.numpy()]


def merge_views(views: Sequence[Mapping[int, np.ndarray]], score_threshold: float = 0.01,
                nms_iou: float = 0.45) -> dict[int, np.ndarray]:
    """Per-view ``{frame: (N, 7)}`` dicts -> one ``{frame: (M, 7)}`` over the union of frames (sorted)."""
    if len(views) == 1:
        return {f: np.asarray(b, np.float32).reshape(-1, 7) for f, b in sorted(views[0].items())}
    frames = sorted(set().union(*(v.keys() for v in views)))
    out = {}
    for f in frames:
        parts = [np.asarray(v[f], np.float32).reshape(-1, 7) for v in views if f in v]
        out[f] = merge_frame(np.concatenate(parts), score_threshold, nms_iou)
    return out
