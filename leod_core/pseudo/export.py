"""Export a round's label table in LEOD's pseudo-dataset layout (REFERENCE 6 step 6), so LEOD/RVT code
can train on it: per sequence ``labels_v2/labels.npz`` (LEOD_BBOX_DTYPE: pseudo boxes t = 0, GT boxes
keep t; full-sensor pixels; ``objframe_idx_2_label_idx``) and
``event_representations_v2/<repr>/objframe_idx_2_repr_idx.npy`` (every repr with >= 1 box), the event
HDF5 (and repr timestamps) as relative symlinks to the original dataset, never copies. ``val``/``test``
link to the original splits, as LEOD does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.atomic import atomic_dir
from leod_core.cameras import CameraSpec
from leod_core.labels.boxes import LEOD_BBOX_DTYPE
from leod_core.labels.rvt_labels import write_labels_npz
from leod_core.labels.table import validate_labels
from leod_core.layout import SequencePaths, list_sequences

__all__ = ["leod_arrays", "export_leod_layout"]


def leod_arrays(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One sequence's table rows (sorted by frame) -> (labels LEOD_BBOX_DTYPE, objframe_idx_2_label_idx,
    objframe_idx_2_repr_idx), both index arrays int64."""
    frame = rows["frame_idx"].to_numpy(np.int64)
    if len(frame) and np.any(np.diff(frame) < 0):
        raise ValueError("leod_arrays: rows not sorted by frame_idx")
    labels = np.zeros(len(rows), LEOD_BBOX_DTYPE)
    labels["t"] = np.where(rows["is_gt"].to_numpy(bool), rows["t"].to_numpy(np.int64), 0)
    for col in ("x", "y", "w", "h", "class_confidence", "objectness"):
        labels[col] = rows[col].to_numpy(np.float32)
    labels["class_id"] = rows["class_id"].to_numpy(np.uint32)
    starts = np.flatnonzero(np.r_[True, frame[1:] != frame[:-1]]) if len(frame) else np.zeros(0, np.int64)
    return labels, starts.astype(np.int64), frame[starts].astype(np.int64)


def _link(target: Path, link: Path, final_link_dir: Path) -> None:
    """Symlink ``link`` -> ``target``, relative to where the link will live after the atomic rename."""
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target.resolve(), final_link_dir.resolve()), link)


def export_leod_layout(df: pd.DataFrame, dataset_root: str | Path, out_dir: str | Path, camera: CameraSpec,
                       split: str = "train") -> Path:
    """Write ``out_dir/<split>/<sequence>/...`` for every sequence of the dataset split (sequences without
    rows get empty labels), atomically. Returns ``out_dir``."""
    dataset_root, out_dir = Path(dataset_root), Path(out_dir)
    seqs = list_sequences(dataset_root, split, camera)
    df = validate_labels(df, "export table")
    unknown = sorted(set(df["sequence"].unique()) - {s.name for s in seqs})
    if unknown:
        raise ValueError(f"export: sequences {unknown[:3]} are not in {dataset_root / split}")
    groups = {str(k): v for k, v in df.groupby("sequence", sort=False)}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    final_root = out_dir.parent.resolve() / out_dir.name
    with atomic_dir(out_dir) as tmp:
        for seq in seqs:
            rows = groups.get(seq.name, df.iloc[:0])
            labels, label_idx, repr_idx = leod_arrays(rows)
            new = SequencePaths(tmp / split / seq.name, camera)
            final = SequencePaths(final_root / split / seq.name, camera)
            new.labels_npz.parent.mkdir(parents=True)
            new.repr_dir.mkdir(parents=True)
            write_labels_npz(new.labels_npz, labels, label_idx)
            np.save(new.objframe_idx_2_repr_idx, repr_idx)
            if not seq.repr_h5.exists():
                raise FileNotFoundError(f"export: missing {seq.repr_h5}")
            _link(seq.repr_h5, new.repr_h5, final.repr_dir)
            if seq.repr_timestamps.exists():
                _link(seq.repr_timestamps, new.repr_timestamps, final.repr_dir)
                np.save(new.label_timestamps, np.load(seq.repr_timestamps)[repr_idx].astype(np.int64))
        for other in ("val", "test"):
            if other != split and (dataset_root / other).is_dir():
                _link(dataset_root / other, tmp / other, final_root)
    return out_dir
