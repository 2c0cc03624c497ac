"""Per-sequence label index for the loaders: repr index -> float32 ``(N, 7)`` boxes at repr resolution.

Table rows (full-sensor pixels) become ``FRAME_LABEL_COLUMNS`` arrays scaled by ``camera.label_scale``;
ignore boxes (class 1024) pass through. A sequence's *label frames* are its kept frames plus its
withheld frames (LEOD's ``objframe_idx_2_repr_idx`` of the real GT); withheld boxes are carried for
quality checks only and never used as supervision.
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
    withheld: FrameDict = field(default_factory=dict)  # GT of dropped frames (quality checks only)
    frame_repr_idx: np.ndarray = field(init=False)  # sorted repr idx of all label frames
    kept_repr_idx: np.ndarray = field(init=False)  # sorted repr idx of kept label frames

    def __post_init__(self) -> None:
        overlap = set(self.kept) & set(self.withheld)
        if overlap:
            raise ValueError(f"sequence {self.name}: frames {sorted(overlap)[:5]} are both kept and withheld")
        object.__setattr__(self, "kept_repr_idx", np.array(sorted(self.kept), dtype=np.int64))
        object.__setattr__(self, "frame_repr_idx",
                           np.array(sorted(set(self.kept) | set(self.withheld)), dtype=np.int64))

    def get(self, repr_idx: int) -> np.ndarray | None:
        """Kept boxes at a repr (a copy), or None when that repr has no kept label."""
        boxes = self.kept.get(int(repr_idx))
        return None if boxes is None else boxes.copy()

    def get_withheld(self, repr_idx: int) -> np.ndarray | None:
        boxes = self.withheld.get(int(repr_idx))
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


def build_sequence_labels(kept_df: pd.DataFrame, withheld_df: pd.DataFrame | None,
                          camera: CameraSpec) -> dict[str, SequenceLabels]:
    """Per-sequence label index of every sequence with at least one kept frame."""
    kept = frames_from_table(kept_df, camera.label_scale)
    withheld = frames_from_table(withheld_df, camera.label_scale) if withheld_df is not None else {}
    return {name: SequenceLabels(name, frames, withheld.get(name, {})) for name, frames in kept.items()}


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
                         withheld_df: pd.DataFrame | None = None) -> list[TrainSequence]:
    """Training sequences = sequences of the label table with >= 1 kept frame, sorted by name.

    Raises FileNotFoundError when a labelled sequence has no folder or representation file, ValueError
    when a label points past the sequence's last representation.
    """
    labels = build_sequence_labels(kept_df, withheld_df, camera)
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
