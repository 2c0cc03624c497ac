"""An evaluation's detections on disk, and its ground truth per label frame.

``leod evaluate`` writes every evaluated frame's detections to ``detections.parquet`` (one row per box, in
the evaluation's pixel space, Prophesee fields). Evaluating them again against the split's ground truth
(:func:`evaluate_frames`) gives the numbers of ``metrics.json`` exactly; the study's bootstrap over test
sequences (:mod:`leod_core.eval.bootstrap`) resamples them without running the model again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.atomic import atomic_path
from leod_core.cameras import IGNORE_CLASS_ID, CameraSpec
from leod_core.eval.prophesee import DetectionEvaluator
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.labels.table import read_labels
from leod_core.layout import labels_full_path

__all__ = ["DETECTION_COLUMNS", "FrameKey", "table_to_prophesee", "frame_to_prophesee", "split_ground_truth",
           "frame_key", "write_detections", "read_detections", "evaluate_frames"]

#: detections.parquet's columns: the frame (sequence, label-frame index) and the Prophesee box fields
DETECTION_COLUMNS = ("sequence", "frame_idx", "t", "x", "y", "w", "h", "class_id", "class_confidence")
FrameKey = tuple[str, int]  # (sequence, label-frame index)


def table_to_prophesee(rows: pd.DataFrame, scale: float) -> np.ndarray:
    """Label-table rows (full-res pixels) -> Prophesee array scaled by ``scale`` (repr pixels)."""
    out = np.zeros(len(rows), PROPHESEE_BBOX_DTYPE)
    out["t"] = rows["t"].to_numpy()
    for c in ("x", "y", "w", "h"):
        out[c] = rows[c].to_numpy(np.float32) * np.float32(scale)
    out["class_id"] = rows["class_id"].to_numpy()
    out["track_id"] = np.maximum(rows["track_id"].to_numpy(), 0) if "track_id" in rows else 0
    out["class_confidence"] = rows["class_confidence"].to_numpy()
    return out


def frame_to_prophesee(boxes: np.ndarray, t_us: int) -> np.ndarray:
    """(N, 7) FRAME_LABEL_COLUMNS predictions -> Prophesee array stamped with ``t_us``."""
    b = np.asarray(boxes, np.float32).reshape(-1, 7)
    out = np.zeros(len(b), PROPHESEE_BBOX_DTYPE)
    out["t"] = t_us
    out["x"], out["y"], out["w"], out["h"] = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    out["class_id"] = b[:, 4].astype(np.uint32)
    out["class_confidence"] = b[:, 5]
    return out


def split_ground_truth(dataset_root: str | Path, split: str, camera: CameraSpec) -> tuple[dict[FrameKey, np.ndarray],
                                                                                        dict[FrameKey, int]]:
    """The split's ground truth per label frame in the evaluation's pixel space (``camera.label_scale``):
    ({(sequence, frame): Prophesee boxes}, {(sequence, frame): label time}); ignore boxes and pseudo rows
    are not ground truth."""
    table = read_labels(labels_full_path(dataset_root, split))
    table = table[(table["class_id"] != IGNORE_CLASS_ID) & (table["source"] == "gt")]
    gt: dict[FrameKey, np.ndarray] = {}
    frame_t: dict[FrameKey, int] = {}
    for (name, frame), rows in table.groupby(["sequence", "frame_idx"], sort=True):
        gt[(name, int(frame))] = table_to_prophesee(rows, camera.label_scale)
        frame_t[(name, int(frame))] = int(rows["t"].iloc[0])
    return gt, frame_t


def frame_key(key: FrameKey) -> str:
    """The evaluator's key of a label frame: one key per frame, as RVT's per-frame lists (the +-50 ms
    matching window never mixes frames)."""
    return f"{key[0]}:{key[1]:06d}"


def write_detections(frames: Mapping[FrameKey, np.ndarray], path: str | Path) -> Path:
    """Every frame's Prophesee detections as one table, sorted by frame (atomically)."""
    parts = []
    for (name, frame), boxes in sorted(frames.items()):
        part = pd.DataFrame({c: boxes[c] for c in DETECTION_COLUMNS[2:]})
        part.insert(0, "frame_idx", np.full(len(boxes), frame, np.int64))
        part.insert(0, "sequence", name)
        parts.append(part)
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(DETECTION_COLUMNS))
    path = Path(path)
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return path


def read_detections(path: str | Path, frames: Iterable[FrameKey] = ()) -> dict[FrameKey, np.ndarray]:
    """{(sequence, frame): Prophesee detections} of ``detections.parquet``; ``frames`` listed but without a
    row map to an empty array (the model found nothing there)."""
    df = pd.read_parquet(path)
    missing = set(DETECTION_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"{path}: not a detections table (missing columns {sorted(missing)})")
    out = {key: np.zeros(0, PROPHESEE_BBOX_DTYPE) for key in frames}
    for (name, frame), rows in df.groupby(["sequence", "frame_idx"], sort=True):
        boxes = np.zeros(len(rows), PROPHESEE_BBOX_DTYPE)
        for c in DETECTION_COLUMNS[2:]:
            boxes[c] = rows[c].to_numpy()
        out[(str(name), int(frame))] = boxes
    return out


def evaluate_frames(gt: Mapping[FrameKey, np.ndarray], dets: Mapping[FrameKey, np.ndarray],
                    camera: CameraSpec) -> DetectionEvaluator:
    """A filled :class:`DetectionEvaluator` (``.result()`` = the evaluation's metrics): every frame of
    ``gt`` with its detections (none where ``dets`` has no entry)."""
    evaluator = DetectionEvaluator(camera, downsampled_by_2=camera.downsample_by_2)
    empty = np.zeros(0, PROPHESEE_BBOX_DTYPE)
    for key in sorted(gt):
        evaluator.add(frame_key(key), gt[key], dets.get(key, empty))
    return evaluator
