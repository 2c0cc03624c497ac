"""Per-frame signals of what labelling a frame would teach the model, from one pseudo-labelling pass.

Three signals, each in "boxes" so they add up on one scale:

- ``disagreement``: over the merged boxes of a frame, how many test-time views missed each one
  (``sum(1 - support / views)``; a box every view found counts 0, a box one view of four found 0.75).
- ``rejected`` / ``inpainted``: boxes the track filter turned into ignore boxes, and boxes it painted where
  the detector missed a tracked object: both mark frames where the detector and the tracker disagree.
- ``uncertain``: the score mass (objectness x class confidence, averaged over the views) of raw
  detections at or above ``low`` that the per-class pseudo-label thresholds dropped: objects the model
  half sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from leod_core.pseudo.filter import score_mask
from leod_core.pseudo.pipeline import SequencePass

__all__ = ["SIGNAL_COLUMNS", "unlabelled_frames", "view_disagreement", "uncertain_mass", "sequence_signals",
           "signals_frame"]

#: one row per candidate frame: the frame, then the signal values
SIGNAL_COLUMNS = ("sequence", "frame_idx", "t", "boxes", "disagreement", "rejected", "inpainted", "uncertain")
_EMPTY = np.zeros((0, 7), np.float32)


def unlabelled_frames(label_frames: Iterable[int], kept_frames: Iterable[int]) -> np.ndarray:
    """Sorted unique label frames (repr indices) of a sequence that hold no kept ground truth."""
    frames = np.unique(np.fromiter(label_frames, np.int64))
    return np.setdiff1d(frames, np.fromiter(kept_frames, np.int64))


def _iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (K, >=4) and (N, >=4) top-left xywh boxes -> (K, N)."""
    ax2, ay2 = a[:, None, 0] + a[:, None, 2], a[:, None, 1] + a[:, None, 3]
    bx2, by2 = b[None, :, 0] + b[None, :, 2], b[None, :, 1] + b[None, :, 3]
    iw = np.maximum(0.0, np.minimum(ax2, bx2) - np.maximum(a[:, None, 0], b[None, :, 0]))
    ih = np.maximum(0.0, np.minimum(ay2, by2) - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = iw * ih
    union = a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def view_disagreement(merged: np.ndarray, views: Sequence[np.ndarray], iou: float = 0.5) -> float:
    """``sum over merged boxes of (1 - views holding a same-class box with IoU >= iou / number of views)``.

    All boxes (N, >=5) top-left xywh + class in one pixel scale. One view (or none) cannot disagree: 0.
    """
    merged = np.asarray(merged, np.float64)
    if len(views) < 2 or not len(merged):
        return 0.0
    support = np.zeros(len(merged))
    for v in views:
        v = np.asarray(v, np.float64)
        if not len(v):
            continue
        match = (_iou_xywh(merged, v) >= iou) & (merged[:, None, 4] == v[None, :, 4])
        support += match.any(axis=1)
    return float(np.sum(1.0 - support / len(views)))


def uncertain_mass(raw_views: Sequence[np.ndarray], obj_thresh: Sequence[float], cls_thresh: Sequence[float],
                   low: float) -> float:
    """Mean over views of the summed ``objectness x class confidence`` of raw (N, 7) detections scoring
    at least ``low`` that fail the per-class pseudo-label thresholds."""
    if not len(raw_views):
        return 0.0
    total = 0.0
    for raw in raw_views:
        raw = np.asarray(raw, np.float32).reshape(-1, 7)
        score = raw[:, 5].astype(np.float64) * raw[:, 6]
        dropped = ~score_mask(raw, obj_thresh, cls_thresh) & (score >= low)
        total += float(score[dropped].sum())
    return total / len(raw_views)


def sequence_signals(name: str, p: SequencePass, candidates: Iterable[int], obj_thresh: Sequence[float],
                     cls_thresh: Sequence[float], label_scale: float, low: float,
                     iou: float = 0.5) -> pd.DataFrame:
    """One row per candidate frame of one sequence (:data:`SIGNAL_COLUMNS`), from its pseudo-labelling pass.

    ``label_scale``: representation pixels per sensor pixel (the views' boxes are in representation
    pixels, the merged and tracked ones in sensor pixels).
    """
    rows = []
    for f in sorted(int(c) for c in candidates):
        merged = p.frames.get(f, _EMPTY) if f not in p.gt_by_frame else _EMPTY
        # only the views whose stream reached the frame: a time-flipped stream drops its first step (the
        # sequence's last frame), which is no vote against the boxes the other views found there
        seen = [i for i, v in enumerate(p.views) if f in p.raw[v]]
        views = [np.asarray(p.filtered[i].get(f, _EMPTY), np.float64) for i in seen]
        for v in views:
            v[:, :4] /= label_scale
        keep = p.tracked.keep.get(f, np.ones(len(merged), bool)) if len(merged) else np.zeros(0, bool)
        rows.append({
            "sequence": name, "frame_idx": f, "t": int(p.timestamps[f]) if f < len(p.timestamps) else -1,
            "boxes": int(keep.sum()),
            "disagreement": view_disagreement(merged, views, iou),
            "rejected": int((~keep).sum()),
            "inpainted": len(p.tracked.inpainted.get(f, ())),
            "uncertain": uncertain_mass([p.raw[p.views[i]][f] for i in seen], obj_thresh, cls_thresh, low),
        })
    return signals_frame(rows)


def signals_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a table with :data:`SIGNAL_COLUMNS` and fixed dtypes (also when empty)."""
    df = pd.DataFrame(rows, columns=list(SIGNAL_COLUMNS))
    return df.astype({"sequence": str, "frame_idx": np.int64, "t": np.int64, "boxes": np.int64,
                      "disagreement": np.float64, "rejected": np.int64, "inpainted": np.int64,
                      "uncertain": np.float64})
