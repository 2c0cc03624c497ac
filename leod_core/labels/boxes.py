"""Box records: Prophesee and LEOD structured dtypes, conversions, IoU."""

from __future__ import annotations

import numpy as np

__all__ = [
    "PROPHESEE_BBOX_DTYPE", "LEOD_BBOX_DTYPE", "FRAME_LABEL_COLUMNS",
    "xywh_to_xyxy", "box_iou", "validate_prophesee_boxes",
]

#: Prophesee ``*_bbox.npy`` record (40 bytes): top-left x, y, width, height in sensor pixels, t in us.
PROPHESEE_BBOX_DTYPE = np.dtype({
    "names": ["t", "x", "y", "w", "h", "class_id", "track_id", "class_confidence"],
    "formats": ["<i8", "<f4", "<f4", "<f4", "<f4", "<u4", "<u4", "<f4"],
    "offsets": [0, 8, 12, 16, 20, 24, 28, 32],
    "itemsize": 40,
})

#: LEOD's pseudo-label ``labels.npz`` record (40 bytes, no track_id; pseudo boxes have t == 0).
LEOD_BBOX_DTYPE = np.dtype({
    "names": ["t", "x", "y", "w", "h", "class_id", "class_confidence", "objectness"],
    "formats": ["<i8", "<f4", "<f4", "<f4", "<f4", "<u4", "<f4", "<f4"],
    "offsets": [0, 8, 12, 16, 20, 24, 28, 32],
    "itemsize": 40,
})

#: Columns of the per-frame label array the loaders hand to the model: float32 (N, 7), top-left xywh
#: in representation pixels (after augmentation), class id (1024 = ignore), class conf, objectness.
FRAME_LABEL_COLUMNS = ("x", "y", "w", "h", "class_id", "class_confidence", "objectness")


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) top-left xywh -> (N, 4) x1y1x2y2."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:4]], axis=1)


def box_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) x1y1x2y2 boxes -> (N, M)."""
    a = np.asarray(a_xyxy, dtype=np.float64)[:, None, :]
    b = np.asarray(b_xyxy, dtype=np.float64)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def validate_prophesee_boxes(boxes: np.ndarray, source: str = "boxes") -> np.ndarray:
    """Check a ``*_bbox.npy`` array and return it in PROPHESEE_BBOX_DTYPE.

    Accepts the legacy field names ``ts``/``confidence``. Raises ValueError with a one-line message for a
    wrong dtype, NaN coordinates or negative sizes.
    """
    if boxes.dtype.names is None:
        raise ValueError(f"{source}: not a structured array (dtype {boxes.dtype}); expected Prophesee bbox dtype")
    rename = {"ts": "t", "confidence": "class_confidence"}
    names = [rename.get(n, n) for n in boxes.dtype.names]
    required = {"t", "x", "y", "w", "h", "class_id"}
    missing = required - set(names)
    if missing:
        raise ValueError(f"{source}: bbox dtype lacks fields {sorted(missing)} (has {list(boxes.dtype.names)})")
    out = np.zeros(len(boxes), dtype=PROPHESEE_BBOX_DTYPE)
    for src_name, dst_name in zip(boxes.dtype.names, names):
        if dst_name in PROPHESEE_BBOX_DTYPE.names:
            out[dst_name] = boxes[src_name]
    if "class_confidence" not in names:
        out["class_confidence"] = 1.0
    coords = np.stack([out["x"], out["y"], out["w"], out["h"]], axis=1) if len(out) else np.zeros((0, 4))
    if not np.all(np.isfinite(coords)):
        raise ValueError(f"{source}: NaN or infinite box coordinates")
    if np.any(out["w"] < 0) or np.any(out["h"] < 0):
        raise ValueError(f"{source}: negative box width or height")
    if np.any(out["t"] < 0):
        raise ValueError(f"{source}: negative box timestamps")
    return out
