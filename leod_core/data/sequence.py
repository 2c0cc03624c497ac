"""Per-sequence label index for the loaders: repr index -> float32 ``(N, 7)`` boxes at repr resolution.

Table rows (full-sensor pixels) become ``FRAME_LABEL_COLUMNS`` arrays scaled by ``camera.label_scale``;
ignore boxes (class 1024) pass through. A sequence's *label frames* are its kept frames plus, for a
table of ground truth (round 0), every frame the dataset labels (LEOD's ``objframe_idx_2_repr_idx``, read
from the sequence's folder): LEOD's loaders know where the dropped labels were, never what they hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.cameras import CameraSpec
from leod_core.labels.boxes import FRAME_LABEL_COLUMNS
from leod_core.layout import SequencePaths

__all__ = ["SequenceLabels", "TrainSequence", "frames_from_table", "build_sequence_labels",
           "load_train_sequences", "count_reprs"]

log = logging.getLogger(__name__)

FrameDict = dict[int, np.ndarray]


@dataclass(frozen=True)
class SequenceLabels:
    """Labels of one sequence, keyed by representation index."""

    name: str
    kept: FrameDict  # supervision
    label_frames: tuple[int, ...] = ()  # repr idx of the dataset's label frames (ground-truth tables only)
    frame_repr_idx: np.ndarray = field(init=False)  # sorted repr idx of all label frames
    kept_repr_idx: np.ndarray = field(init=False)  # sorted repr idx of kept label frames

    def __post_init__(self) -> None:
        object.__setattr__(self, "kept_repr_idx", np.array(sorted(self.kept), dtype=np.int64))
        object.__setattr__(self, "frame_repr_idx",
                           np.array(sorted(set(self.kept) | set(self.label_frames)), dtype=np.int64))

    def get(self, repr_idx: int) -> np.ndarray | None:
        """Kept boxes at a repr (a copy), or None when that repr has no kept label."""
        boxes = self.kept.get(int(repr_idx))
        return None if boxes is None else boxes.copy()


@dataclass(frozen=True)
class TrainSequence:
    """A training sequence: its files, number of representations and labels."""

    paths: SequencePaths
    num_reprs: int
    labels: SequenceLabels

    @property
    def name(self) -> str:
        return self.paths.name


def frames_from_table(df: pd.DataFrame, scale: float) -> dict[str, FrameDict]:
    """Group a label table into ``{sequence: {frame_idx: (N, 7) float32}}`` with coords scaled by ``scale``."""
    if len(df) == 0:
        return {}
    df = df.sort_values(["sequence", "frame_idx"], kind="stable")
    arr = np.empty((len(df), len(FRAME_LABEL_COLUMNS)), dtype=np.float32)
    for j, col in enumerate(FRAME_LABEL_COLUMNS):
        arr[:, j] = df[col].to_numpy(dtype=np.float32)
    arr[:, :4] *= np.float32(scale)
    seqs = df["sequence"].astype(str).to_numpy()
    frames = df["frame_idx"].to_numpy(dtype=np.int64)
    change = np.flatnonzero((seqs[1:] != seqs[:-1]) | (frames[1:] != frames[:-1])) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(df)]])
    out: dict[str, FrameDict] = {}
    for a, b in zip(starts, stops):
        out.setdefault(str(seqs[a]), {})[int(frames[a])] = arr[a:b]
    return out


def build_sequence_labels(kept_df: pd.DataFrame, camera: CameraSpec,
                          label_frames: dict[str, np.ndarray] | None = None) -> dict[str, SequenceLabels]:
    """Per-sequence label index of every sequence with at least one kept frame; ``label_frames``: the
    dataset's label frames per sequence (for a ground-truth table)."""
    kept = frames_from_table(kept_df, camera.label_scale)
    frames_of = label_frames or {}
    return {name: SequenceLabels(name, frames, tuple(int(i) for i in frames_of.get(name, ())))
            for name, frames in kept.items()}


def count_reprs(paths: SequencePaths) -> int:
    """Number of representations of a sequence, from its repr ``timestamps_us.npy`` (no HDF5 open)."""
    if paths.repr_timestamps.exists():
        return int(np.load(paths.repr_timestamps, mmap_mode="r").shape[0])
    from leod_core.data.clip import default_reader_factory

    reader = default_reader_factory(paths.repr_h5)
    try:
        return len(reader)
    finally:
        getattr(reader, "close", lambda: None)()


def load_train_sequences(dataset_root: str | Path, split: str, camera: CameraSpec, kept_df: pd.DataFrame,
                         all_label_frames: bool = False) -> list[TrainSequence]:
    """Training sequences = sequences of the label table with >= 1 kept frame, sorted by name.
    ``all_label_frames``: the table holds ground truth (round 0), so the dataset's label frames
    (``objframe_idx_2_repr_idx.npy``) are label frames too, kept or not.

    Raises FileNotFoundError when a labelled sequence has no folder or representation file (or, with
    ``all_label_frames``, no label index), ValueError when a label points past the sequence's last
    representation.
    """
    names = sorted(kept_df["sequence"].astype(str).unique()) if len(kept_df) else []
    frames = {}
    if all_label_frames:
        for name in names:
            path = SequencePaths(Path(dataset_root) / split / name, camera).objframe_idx_2_repr_idx
            if not path.is_file():
                raise FileNotFoundError(f"sequence {name}: label index not found: {path}")
            frames[name] = np.load(path)
    labels = build_sequence_labels(kept_df, camera, frames)
    out = []
    for name in sorted(labels):
        paths = SequencePaths(Path(dataset_root) / split / name, camera)
        if not paths.repr_h5.exists():
            raise FileNotFoundError(f"sequence {name}: representation file not found: {paths.repr_h5}")
        n = count_reprs(paths)
        lab = labels[name]
        if len(lab.frame_repr_idx) and lab.frame_repr_idx[-1] >= n:
            raise ValueError(f"sequence {name}: label at repr {lab.frame_repr_idx[-1]} but only {n} reprs")
        out.append(TrainSequence(paths, n, lab))
    log.info("%d training sequences with labels in %s/%s", len(out), dataset_root, split)
    return out
