"""RVT ``labels_v2/labels.npz`` -> rows of the Parquet label table (LABEL_SCHEMA), and ``labels_full``.

Works on our imports and on RVT's downloaded ``gen1.tar``/``gen4.tar`` alike (they ship no table).
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.cameras import CameraSpec
from leod_core.labels.table import LABEL_SCHEMA, empty_labels, validate_labels, write_labels
from leod_core.layout import SequencePaths, labels_full_path, list_sequences

__all__ = ["write_labels_npz", "read_sequence_labels", "sequence_label_table", "build_labels_full"]

log = logging.getLogger(__name__)

#: zip entry time of every labels.npz: np.savez stamps the wall clock, so two identical imports would
#: differ in bytes and in their DVC hash
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _zeroed_padding(arr: np.ndarray) -> np.ndarray:
    """A structured array's fields copied into a zeroed one: the padding bytes of an aligned dtype (RVT's
    box dtype has 4 after ``class_confidence``) are whatever memory held, and would be written as is."""
    if arr.dtype.names is None:
        return arr
    out = np.zeros(arr.shape, arr.dtype)
    for name in arr.dtype.names:
        out[name] = arr[name]
    return out


def write_labels_npz(path: str | Path, labels: np.ndarray, objframe_idx_2_label_idx: np.ndarray) -> None:
    """Write RVT's ``labels_v2/labels.npz`` (the keys and layout ``np.load`` and RVT read), byte-stable:
    the same arrays always give the same file."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in (("labels", labels), ("objframe_idx_2_label_idx", objframe_idx_2_label_idx)):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, _zeroed_padding(np.asanyarray(arr)), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH), buf.getvalue())


def read_sequence_labels(seq: SequencePaths) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels, objframe_idx_2_label_idx, objframe_idx_2_repr_idx)`` of a sequence, checked for consistency."""
    for f in (seq.labels_npz, seq.objframe_idx_2_repr_idx):
        if not f.is_file():
            raise FileNotFoundError(f"sequence {seq.name}: missing {f}")
    try:
        with np.load(seq.labels_npz, allow_pickle=False) as npz:
            labels, starts = npz["labels"], np.asarray(npz["objframe_idx_2_label_idx"], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"{seq.labels_npz}: missing key {exc}") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{seq.labels_npz}: cannot read ({exc})") from None
    repr_idx = np.asarray(np.load(seq.objframe_idx_2_repr_idx, allow_pickle=False), dtype=np.int64)
    if labels.dtype.names is None or not {"t", "x", "y", "w", "h", "class_id"} <= set(labels.dtype.names):
        raise ValueError(f"{seq.labels_npz}: 'labels' is not a box array (dtype {labels.dtype})")
    if len(starts) != len(repr_idx):
        raise ValueError(f"sequence {seq.name}: {len(starts)} label frames in labels.npz but "
                         f"{len(repr_idx)} in objframe_idx_2_repr_idx.npy")
    if len(starts) and (starts[0] != 0 or np.any(np.diff(starts) < 0) or starts[-1] > len(labels)):
        raise ValueError(f"{seq.labels_npz}: objframe_idx_2_label_idx is not a sorted list of offsets")
    return labels, starts, repr_idx


def sequence_label_table(seq: SequencePaths, split: str) -> pd.DataFrame:
    """All ground-truth boxes of one sequence as LABEL_SCHEMA rows (full-resolution pixels, source 'gt').

    ``frame_idx`` is the representation index of the box's label frame; objectness = class confidence
    (GT has no objectness, LEOD's loader does the same); track_id is -1 when the file has none.
    """
    labels, starts, repr_idx = read_sequence_labels(seq)
    if len(labels) == 0:
        return empty_labels()
    frame_of_box = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(labels))))
    names = labels.dtype.names
    conf = (labels["class_confidence"] if "class_confidence" in names else np.ones(len(labels))).astype(np.float32)
    track = labels["track_id"].astype(np.int64) if "track_id" in names else np.full(len(labels), -1)
    df = pd.DataFrame({
        "sequence": seq.name,
        "frame_idx": repr_idx[frame_of_box],
        "t": labels["t"].astype(np.int64),
        "x": labels["x"], "y": labels["y"], "w": labels["w"], "h": labels["h"],
        "class_id": labels["class_id"],
        "class_confidence": conf,
        "objectness": conf,
        "is_gt": True,
        "track_id": np.where(track > np.iinfo(np.int32).max, -1, track),
        "source": "gt",
    })
    return validate_labels(df, where=f"{split}/{seq.name}")


def build_labels_full(dataset_root: str | Path, split: str, camera: CameraSpec) -> Path:
    """Write ``<root>/<split>/labels_full.parquet`` with all GT of the split; returns its path."""
    seqs = list_sequences(dataset_root, split, camera)
    tables = [sequence_label_table(seq, split) for seq in seqs]
    df = pd.concat(tables, ignore_index=True) if tables else empty_labels()
    out = labels_full_path(dataset_root, split)
    write_labels(df[[f.name for f in LABEL_SCHEMA]], out)
    log.info("%s: %d boxes of %d sequences -> %s", split, len(df), len(seqs), out)
    return out
