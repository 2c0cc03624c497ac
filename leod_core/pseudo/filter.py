"""Per-view filtering of raw detections into pseudo labels (LEOD ``pred2label``, ``filter_pred_boxes``).

REFERENCE 6 step 3: keep a box iff objectness > obj_thresh[class] AND class confidence > cls_thresh[class]
(strict, per class), then the "conservative" preprocessing filter at representation resolution: crop to
the field of view ``[0, W-1] x [0, H-1]``, drop boxes with w < 5 or h < 5 and boxes wider than
``(9 * W) // 10``. Boxes are float32 (N, 7) FRAME_LABEL_COLUMNS, top-left xywh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["MIN_BOX_SIDE", "score_mask", "crop_to_fov", "geometric_mask", "pred2label", "pred2label_frames"]

MIN_BOX_SIDE = 5.0  # px at representation resolution (RVT's gen4 "conservative" filter)


def score_mask(boxes: np.ndarray, obj_thresh: Sequence[float], cls_thresh: Sequence[float]) -> np.ndarray:
    """(N,) bool: objectness and class confidence strictly above their class's thresholds.

    Boxes of a class without a threshold (e.g. ignore boxes) are dropped, as in LEOD's per-class mask.
    """
    cls = boxes[:, 4].astype(np.int64)
    known = (cls >= 0) & (cls < min(len(obj_thresh), len(cls_thresh)))
    idx = np.where(known, cls, 0)
    # compare in float32 like LEOD's torch code (float32(0.6) > 0.6 would hold in float64)
    obj_t = np.asarray(obj_thresh, np.float32)[idx]
    cls_t = np.asarray(cls_thresh, np.float32)[idx]
    scores = np.asarray(boxes[:, 5:7], np.float32)
    return known & (scores[:, 1] > obj_t) & (scores[:, 0] > cls_t)


def crop_to_fov(boxes: np.ndarray, image_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Clip corners to ``[0, W-1] x [0, H-1]`` -> (cropped copy, (N,) bool non-empty after cropping)."""
    h, w = image_hw
    out = np.array(boxes, dtype=np.float32, copy=True)
    x1 = np.clip(out[:, 0], 0.0, w - 1.0)
    y1 = np.clip(out[:, 1], 0.0, h - 1.0)
    x2 = np.clip(out[:, 0] + out[:, 2], 0.0, w - 1.0)
    y2 = np.clip(out[:, 1] + out[:, 3], 0.0, h - 1.0)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = x1, y1, x2 - x1, y2 - y1
    return out, (out[:, 2] > 0) & (out[:, 3] > 0)


def geometric_mask(cropped: np.ndarray, image_w: int) -> np.ndarray:
    """(N,) bool: sides >= MIN_BOX_SIDE and width <= (9 * W) // 10 (RVT's faulty-huge-box rule)."""
    return (cropped[:, 2] >= MIN_BOX_SIDE) & (cropped[:, 3] >= MIN_BOX_SIDE) & (cropped[:, 2] <= (9 * image_w) // 10)


def pred2label(boxes: np.ndarray, obj_thresh: Sequence[float], cls_thresh: Sequence[float],
               image_hw: tuple[int, int]) -> np.ndarray:
    """Raw detections of one frame -> kept, FOV-cropped pseudo boxes (float32 (M, 7), input order kept)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 7)
    cropped, inside = crop_to_fov(boxes, image_hw)
    keep = score_mask(boxes, obj_thresh, cls_thresh) & inside & geometric_mask(cropped, image_hw[1])
    return cropped[keep]


def pred2label_frames(preds: Mapping[int, np.ndarray], obj_thresh: Sequence[float], cls_thresh: Sequence[float],
                      image_hw: tuple[int, int]) -> dict[int, np.ndarray]:
    """:func:`pred2label` on every frame of one view."""
    return {f: pred2label(b, obj_thresh, cls_thresh, image_hw) for f, b in preds.items()}
