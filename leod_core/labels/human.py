"""The human ground-truth table (``paths.human_labels``): every frame a person reviewed, with its boxes.

One Parquet file with the label schema (LABEL_SCHEMA; ``is_gt``, ``source = "human"``) holding the boxes,
and, in the file's key-value metadata under :data:`REVIEWED_KEY`, the list of reviewed frames as JSON
``[[sequence, frame_idx, t], ...]``: a frame the person left empty (no object) has no row, yet it is
ground truth ("nothing here") and must still replace the pseudo boxes of that frame. One file, so one DVC
dependency and one atomic write; ``read_labels`` reads it as a plain label table (the boxes).

``leod import-labels`` merges into it (:func:`merge_reviewed`); ``leod pseudo-label`` of every round
k >= 1 treats it as ground truth beside round 0's kept sparse GT (:func:`with_human_gt`). A missing file
counts as an empty table (runs outside the repository need none; the repository commits an empty one
so that DVC's dependency exists).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leod_core.atomic import atomic_path
from leod_core.labels.table import LABEL_SCHEMA, empty_labels, validate_labels

__all__ = ["REVIEWED_KEY", "HumanLabels", "empty_human", "read_human", "write_human", "merge_reviewed",
           "with_human_gt"]

REVIEWED_KEY = b"leod.reviewed_frames"
_FRAME_COLS = ["sequence", "frame_idx", "t"]


def _frames(rows: list | pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=_FRAME_COLS)
    df = df.astype({"sequence": str, "frame_idx": np.int64, "t": np.int64})
    return df.drop_duplicates(["sequence", "frame_idx"], keep="last").sort_values(
        ["sequence", "frame_idx"], kind="stable").reset_index(drop=True)


def _mask(df: pd.DataFrame, keep) -> np.ndarray:
    """Boolean row mask of ``keep((sequence, frame_idx))`` (an array, also when ``df`` is empty)."""
    return np.fromiter((keep(k) for k in zip(df["sequence"].astype(str), df["frame_idx"].astype(int))), bool,
                       count=len(df))


@dataclass(frozen=True)
class HumanLabels:
    """The person's boxes (label table, ground truth) and every frame reviewed (sequence, frame_idx, t),
    with or without boxes."""

    boxes: pd.DataFrame
    reviewed: pd.DataFrame

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", validate_labels(self.boxes, "human labels"))
        object.__setattr__(self, "reviewed", _frames(self.reviewed))
        b = self.boxes
        if len(b) and not (b["is_gt"].all() and (b["source"] == "human").all()):
            raise ValueError("human labels: every box must be ground truth with source 'human'")
        missing = set(zip(b["sequence"], b["frame_idx"])) - self.keys
        if missing:
            s, f = sorted(missing)[0]
            raise ValueError(f"human labels: frame {s}@{f} holds boxes but is not in the reviewed frames")

    @property
    def keys(self) -> set[tuple[str, int]]:
        """The reviewed (sequence, frame_idx)."""
        return set(zip(self.reviewed["sequence"], self.reviewed["frame_idx"].astype(int)))

    @property
    def empty_frames(self) -> pd.DataFrame:
        """Reviewed frames without any box (sequence, frame_idx, t)."""
        boxed = set(zip(self.boxes["sequence"], self.boxes["frame_idx"].astype(int)))
        r = self.reviewed
        return r[_mask(r, lambda k: k not in boxed)].reset_index(drop=True)


def empty_human() -> HumanLabels:
    return HumanLabels(empty_labels(), _frames([]))


def read_human(path: str | Path) -> HumanLabels:
    """The table at ``path``; a missing file is an empty one. Frames with boxes count as reviewed even
    when the metadata does not list them (a table rewritten by a plain ``write_labels``)."""
    path = Path(path)
    if not path.is_file():
        return empty_human()
    table = pq.read_table(path)
    boxes = validate_labels(table.to_pandas(), where=str(path))
    meta = (table.schema.metadata or {}).get(REVIEWED_KEY)
    try:
        listed = json.loads(meta) if meta else []
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: reviewed frames are not JSON ({exc})") from None
    frames = _frames([*listed, *boxes[_FRAME_COLS].itertuples(index=False, name=None)])
    try:
        return HumanLabels(boxes, frames)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def write_human(human: HumanLabels, path: str | Path) -> Path:
    """Write the table atomically (temporary file renamed into place), reviewed frames in its metadata."""
    table = pa.Table.from_pandas(human.boxes, schema=LABEL_SCHEMA, preserve_index=False)
    frames = [[s, int(f), int(t)] for s, f, t in human.reviewed.itertuples(index=False, name=None)]
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           REVIEWED_KEY: json.dumps(frames).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def merge_reviewed(old: HumanLabels, new: HumanLabels) -> HumanLabels:
    """``old`` with every frame ``new`` reviewed replaced by ``new``'s boxes (none for a frame left empty);
    the other frames of ``old`` are kept as they are."""
    keys = new.keys
    ob = old.boxes
    kept = ob[_mask(ob, lambda k: k not in keys)]
    parts = [p for p in (kept, new.boxes) if len(p)]
    boxes = pd.concat(parts, ignore_index=True) if parts else empty_labels()
    orow = old.reviewed
    frames = pd.concat([orow[_mask(orow, lambda k: k not in keys)], new.reviewed], ignore_index=True)
    return HumanLabels(boxes, frames)


def with_human_gt(kept: pd.DataFrame, human: HumanLabels) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Round k's ground truth: round 0's kept sparse GT plus the person's boxes, and the reviewed frames
    left empty (sequence, frame_idx, t), which are ground truth without boxes. A reviewed frame that also
    holds kept GT is an error. Without human labels ``kept`` is returned as it is."""
    if not len(human.reviewed):
        return kept, human.empty_frames
    gt_keys = set(zip(kept["sequence"].astype(str), kept["frame_idx"].astype(int)))
    clash = sorted(gt_keys & human.keys)
    if clash:
        raise ValueError(f"human labels: frame {clash[0][0]}@{clash[0][1]} already holds round 0's ground truth")
    parts = [p for p in (kept, human.boxes) if len(p)]
    gt = validate_labels(pd.concat(parts, ignore_index=True), "ground truth") if parts else empty_labels()
    return gt, human.empty_frames
