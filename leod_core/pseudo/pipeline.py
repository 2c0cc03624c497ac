"""Pseudo-label one training sequence (REFERENCE 6, 6a); the orchestration layer maps it over a split.

Which frames (LEOD ``SequenceForIter`` + ``PseudoLabeler._get_pred_mask`` + ``EventSeqData``): every view
streams the sequence from ``start = max(first_gt_repr - L + 1, 0)``, where ``first_gt_repr`` is the first
ground-truth frame of *any* kind (kept or withheld, from the dataset's ``objframe_idx_2_repr_idx.npy``;
so an SSOD sequence without kept labels starts there too). A forward view predicts frames
``start+1 .. T-1`` (its first step is dropped); a time-flipped view consumes ``T-1 .. start`` and its
prediction after repr ``i`` belongs to frame ``i + camera.tflip_offset``, so with its first step dropped it
covers ``start + tflip_offset .. T - 2 + tflip_offset``: the one (Gen1) or two (1Mpx) frames just before
``start`` come from it alone. Frames holding kept GT are not predicted (GT copied verbatim when
``pseudo.use_gt``). A sequence without any GT frame is not pseudo-labelled (LEOD skips it).

Kept GT is round 0's sparse GT plus, from round 1 on, the frames a person reviewed (``paths.human_labels``,
:func:`leod_core.labels.human.with_human_gt`): their boxes (``source: human``) go the same way, and a
reviewed frame left empty is a GT frame without boxes (``empty_gt_frames``): not predicted, nothing written.

Then: filter each view (:mod:`.filter`), merge the views (:mod:`.merge`), convert to full-sensor pixels,
run the forward-or-backward track filter (:mod:`.track_filter`): rejected boxes become ignore boxes (class
1024) and inpainted boxes are added as ignore boxes. The result is label-table rows (LABEL_SCHEMA).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from leod_core.cameras import IGNORE_CLASS_ID, CameraSpec
from leod_core.config import LeodConfig
from leod_core.inference.stream import View, stream_start
from leod_core.labels.table import LABEL_SCHEMA, empty_labels, validate_labels
from leod_core.layout import SequencePaths, list_sequences
from leod_core.pseudo.filter import pred2label_frames
from leod_core.pseudo.merge import merge_views
from leod_core.pseudo.propagate import propagate_gt
from leod_core.pseudo.track_filter import TrackFilterResult, track_filter
from leod_core.pseudo.tta import predict_views, views_from_config

__all__ = ["PseudoLabelJob", "sequence_jobs", "first_gt_repr", "SequencePass", "pseudo_label_pass", "pass_rows",
           "pseudo_label_sequence", "propagated_rows", "concat_sequence_tables", "check_round_table", "num_reprs_of"]

log = logging.getLogger(__name__)

_BOX_COLS = ["x", "y", "w", "h", "class_id", "class_confidence", "objectness"]
_GT_SOURCES = ["gt", "human"]  # ground truth: the dataset's (kept sparse GT) and a person's


def num_reprs_of(seq: SequencePaths) -> np.ndarray:
    """End timestamps (us) of the sequence's representations; its length is the number of reprs T."""
    if not seq.repr_timestamps.exists():
        raise FileNotFoundError(f"sequence {seq.name}: missing {seq.repr_timestamps}")
    return np.load(seq.repr_timestamps).astype(np.int64)


def first_gt_repr(seq: SequencePaths, kept_frames: Iterable[int] = ()) -> int | None:
    """First repr holding ground truth of any kind (the dataset's label frames, and any kept frame), or
    None without any: LEOD's pseudo-labelling stream starts L-1 reprs before it."""
    if not seq.objframe_idx_2_repr_idx.exists():
        raise FileNotFoundError(f"sequence {seq.name}: missing {seq.objframe_idx_2_repr_idx}")
    frames = np.concatenate([np.load(seq.objframe_idx_2_repr_idx).astype(np.int64).ravel(),
                             np.fromiter(kept_frames, np.int64)])
    return int(frames.min()) if len(frames) else None


@dataclass(frozen=True)
class PseudoLabelJob:
    """One sequence to pseudo-label, with its kept ground truth (may be empty)."""

    seq: SequencePaths
    kept_gt: pd.DataFrame
    empty_gt_frames: tuple[int, ...] = ()  # GT frames without boxes (a person reviewed them, found nothing)

    @property
    def name(self) -> str:
        return self.seq.name


def sequence_jobs(dataset_root: str | Path, kept_df: pd.DataFrame, camera: CameraSpec,
                  split: str = "train", empty_gt_frames: pd.DataFrame | None = None) -> list[PseudoLabelJob]:
    """One job per sequence of ``split`` (sorted), each with its kept GT rows and GT frames without boxes
    (``empty_gt_frames``: sequence, frame_idx); kept rows naming a sequence that is not in the split are an
    error."""
    seqs = list_sequences(dataset_root, split, camera)
    names = {s.name for s in seqs}
    empty_frames = empty_gt_frames if empty_gt_frames is not None else pd.DataFrame(
        {"sequence": pd.Series([], dtype=str), "frame_idx": pd.Series([], dtype=np.int64)})
    named = set(kept_df["sequence"].astype(str).unique()) if len(kept_df) else set()
    unknown = sorted((named | set(empty_frames["sequence"].astype(str))) - names)
    if unknown:
        raise ValueError(f"kept labels name sequences missing from {Path(dataset_root) / split}: {unknown[:3]}")
    groups = {str(k): v for k, v in kept_df.groupby("sequence", sort=False)} if len(kept_df) else {}
    frames: dict[str, tuple[int, ...]] = {
        str(k): tuple(sorted(int(f) for f in v["frame_idx"])) for k, v in empty_frames.groupby("sequence")}
    empty = empty_labels()
    return [PseudoLabelJob(s, groups.get(s.name, empty), frames.get(s.name, ())) for s in seqs]


def concat_sequence_tables(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The per-sequence tables (in job order) as one validated table."""
    parts = [p for p in parts if len(p)]
    return validate_labels(pd.concat(parts, ignore_index=True), "pseudo labels") if parts else empty_labels()


def _model_device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _rows(name: str, frame: int, t_us: int, boxes: np.ndarray, track_id: np.ndarray, source: str) -> pd.DataFrame:
    return pd.DataFrame({
        "sequence": name, "frame_idx": np.full(len(boxes), frame, np.int64), "t": np.full(len(boxes), t_us, np.int64),
        "x": boxes[:, 0], "y": boxes[:, 1], "w": boxes[:, 2], "h": boxes[:, 3],
        "class_id": boxes[:, 4].astype(np.uint16), "class_confidence": boxes[:, 5], "objectness": boxes[:, 6],
        "is_gt": False, "track_id": track_id.astype(np.int32), "source": source,
    })


@dataclass(frozen=True)
class SequencePass:
    """What pseudo-labelling computed for one sequence before it became table rows (also read by
    ``leod suggest-frames``, whose signals are the views' disagreement, the tracker's verdicts and the
    scores left under the thresholds)."""

    timestamps: np.ndarray  # (T,) int64 us: end of each representation
    views: tuple[View, ...]
    raw: dict[View, dict[int, np.ndarray]]  # per view: frame -> (N, 7) raw detections, repr pixels
    filtered: list[dict[int, np.ndarray]]  # per view (same order): frame -> kept boxes, repr pixels
    frames: dict[int, np.ndarray]  # merged boxes (and kept GT), full-sensor pixels: what the tracker saw
    gt_by_frame: dict[int, pd.DataFrame]  # kept GT rows by frame (when ``pseudo.use_gt``)
    tracked: TrackFilterResult


def pseudo_label_pass(model: Any, seq: SequencePaths, kept_gt: pd.DataFrame, cfg: LeodConfig,
                      camera: CameraSpec, empty_gt_frames: Iterable[int] = ()) -> SequencePass | None:
    """Run the views, filter, merge and track one sequence; None when it has no GT frame (not labelled).

    ``kept_gt``: this sequence's kept GT rows (LABEL_SCHEMA, full-sensor pixels; may be empty).
    ``empty_gt_frames``: GT frames of the sequence without any box (a person found nothing there).
    """
    pc = cfg.pseudo
    if len(kept_gt) and set(kept_gt["sequence"].astype(str).unique()) != {seq.name}:
        raise ValueError(f"pseudo_label_sequence: kept_gt holds rows of other sequences than {seq.name}")
    ts = num_reprs_of(seq)
    num_reprs = len(ts)
    empty_gt = np.unique(np.fromiter(empty_gt_frames, np.int64))
    gt_frames = np.unique(kept_gt["frame_idx"].to_numpy(np.int64)) if len(kept_gt) else np.zeros(0, np.int64)
    if len(empty_gt):
        gt_frames = np.union1d(gt_frames, empty_gt)
    if len(gt_frames) and (gt_frames.min() < 0 or gt_frames.max() >= num_reprs):
        raise ValueError(f"{seq.name}: kept GT frame index outside [0, {num_reprs})")
    first = first_gt_repr(seq, gt_frames.tolist())
    if first is None:
        return None
    start = stream_start(first, cfg.data.sequence_length)
    # every frame a view's stream reaches (tflip views reach start + tflip_offset), except kept GT frames
    skip = set(gt_frames.tolist()) if pc.use_gt else set()
    predict_at = [f for f in range(num_reprs) if f not in skip]

    views = views_from_config(pc.tta)
    raw = predict_views(model, seq, camera, start, cfg.data.sequence_length, num_reprs, predict_at, views,
                        pc.conf_threshold, pc.nms_iou, _model_device(model), pc.batch_size)
    obj_t, cls_t = cfg.per_class(pc.obj_thresh), cfg.per_class(pc.cls_thresh)
    filtered = [pred2label_frames(raw[v], obj_t, cls_t, camera.repr_hw) for v in views]
    merged = merge_views(filtered, pc.conf_threshold, pc.nms_iou)

    # track in full-sensor pixels, like LEOD (labels are scaled back before its tracker runs)
    frames: dict[int, np.ndarray] = {}
    for f, b in merged.items():
        if len(b):
            b = b.copy()
            b[:, :4] /= camera.label_scale
            frames[f] = b
    is_gt = {f: np.zeros(len(b), bool) for f, b in frames.items()}
    gt_by_frame: dict[int, pd.DataFrame] = {}
    if pc.use_gt and len(kept_gt):
        for f, rows in kept_gt.groupby("frame_idx", sort=True):
            gt_by_frame[int(f)] = rows
            frames[int(f)] = rows[_BOX_COLS].to_numpy(np.float32)
            is_gt[int(f)] = np.ones(len(rows), bool)
    if pc.use_gt:
        for f in empty_gt.tolist():  # a GT frame without boxes: the tracker sees an empty frame
            gt_by_frame[f] = kept_gt.iloc[:0]
            frames[f] = np.zeros((0, len(_BOX_COLS)), np.float32)
            is_gt[f] = np.zeros(0, bool)
    tracked = track_filter(frames, is_gt, camera.sensor_hw, pc.tracker)
    return SequencePass(ts, views, raw, filtered, frames, gt_by_frame, tracked)


def pass_rows(name: str, p: SequencePass) -> pd.DataFrame:
    """Label-table rows of one sequence's pass: kept GT (verbatim) + pseudo + ignore boxes."""
    frames, tracked, ts = p.frames, p.tracked, p.timestamps
    parts = []
    for f in sorted(set(frames) | set(tracked.inpainted)):
        if f in p.gt_by_frame:  # GT verbatim (a GT frame without boxes writes nothing)
            if len(p.gt_by_frame[f]):
                parts.append(p.gt_by_frame[f])
            continue
        if f in frames:
            b = frames[f].copy()
            b[~tracked.keep[f], 4] = IGNORE_CLASS_ID
            parts.append(_rows(name, f, int(ts[f]), b, tracked.track_id[f], "pseudo"))
        if f in tracked.inpainted:
            parts.append(_rows(name, f, int(ts[f]), tracked.inpainted[f], tracked.inpainted_track_id[f],
                               "inpainted"))
    if not parts:
        return empty_labels()
    out = pd.concat(parts, ignore_index=True)
    return validate_labels(out, where=f"pseudo labels of {name}")


def pseudo_label_sequence(model: Any, seq: SequencePaths, kept_gt: pd.DataFrame, cfg: LeodConfig,
                          camera: CameraSpec, empty_gt_frames: Iterable[int] = ()) -> pd.DataFrame:
    """Label-table rows of one sequence for the next round: kept GT (verbatim) + pseudo + ignore boxes.

    ``kept_gt``: this sequence's kept GT rows (LABEL_SCHEMA, full-sensor pixels; may be empty);
    ``empty_gt_frames``: its GT frames without boxes (no rows written there).
    """
    if cfg.pseudo.method == "tracker_only":
        return propagated_rows(seq, kept_gt, cfg, camera, empty_gt_frames)
    p = pseudo_label_pass(model, seq, kept_gt, cfg, camera, empty_gt_frames)
    return empty_labels() if p is None else pass_rows(seq.name, p)


def propagated_rows(seq: SequencePaths, kept_gt: pd.DataFrame, cfg: LeodConfig, camera: CameraSpec,
                    empty_gt_frames: Iterable[int] = ()) -> pd.DataFrame:
    """The tracker-only baseline's rows of one sequence (``pseudo.method: tracker_only``, no model): kept
    GT verbatim plus the GT carried to the frames around it by the tracker (:mod:`.propagate`)."""
    ts = num_reprs_of(seq)
    gt: dict[int, np.ndarray] = {int(f): rows[_BOX_COLS].to_numpy(np.float32)
                                 for f, rows in kept_gt.groupby("frame_idx", sort=True)} if len(kept_gt) else {}
    for f in empty_gt_frames:
        gt.setdefault(int(f), np.zeros((0, len(_BOX_COLS)), np.float32))
    if any(f < 0 or f >= len(ts) for f in gt):
        raise ValueError(f"{seq.name}: kept GT frame index outside [0, {len(ts)})")
    carried = propagate_gt(gt, len(ts), camera.sensor_hw, cfg.pseudo.tracker, cfg.pseudo.nms_iou)
    parts = [kept_gt] if len(kept_gt) else []
    parts += [_rows(seq.name, f, int(ts[f]), b, np.full(len(b), -1, np.int32), "pseudo") for f, b in carried.items()]
    if not parts:
        return empty_labels()
    out = pd.concat(parts, ignore_index=True).sort_values(["frame_idx"], kind="stable").reset_index(drop=True)
    return validate_labels(out, where=f"tracker-only labels of {seq.name}")


def check_round_table(new_df: pd.DataFrame, kept_df: pd.DataFrame, num_reprs: Mapping[str, int],
                      use_gt: bool = True, empty_gt_frames: pd.DataFrame | None = None) -> None:
    """Sanity checks before a round's table is written (LEOD ``predict.py``); raise ValueError.

    GT rows (``source`` gt or human) bit-identical to the kept GT (none when ``use_gt`` is off), GT frames
    (and ``empty_gt_frames``: sequence, frame_idx) hold only GT, scores in [0, 1], rows sorted by
    (sequence, frame_idx), frame indices inside ``[0, num_reprs[sequence])``.
    """
    missing = [f.name for f in LABEL_SCHEMA if f.name not in new_df.columns]
    if missing:
        raise ValueError(f"round table: missing columns {missing}")
    for col in ("class_confidence", "objectness"):
        v = new_df[col].to_numpy(np.float64)
        if len(v) and (not np.all(np.isfinite(v)) or v.min() < 0 or v.max() > 1):
            raise ValueError(f"round table: {col} outside [0, 1]")
    seq = new_df["sequence"].astype(str).to_numpy()
    frame = new_df["frame_idx"].to_numpy(np.int64)
    if len(new_df):
        same = seq[1:] == seq[:-1]
        if np.any(seq[1:] < seq[:-1]) or np.any(same & (frame[1:] < frame[:-1])):
            raise ValueError("round table: rows not sorted by (sequence, frame_idx)")
        unknown = sorted(set(seq) - set(num_reprs))
        if unknown:
            raise ValueError(f"round table: unknown sequences {unknown[:3]}")
        limit = np.array([num_reprs[s] for s in seq])
        if np.any(frame < 0) or np.any(frame >= limit):
            raise ValueError("round table: frame_idx outside [0, number of representations)")
    is_gt = new_df["is_gt"].to_numpy(bool)
    if np.any(is_gt != np.isin(new_df["source"].astype(str).to_numpy(), _GT_SOURCES)):
        raise ValueError("round table: is_gt disagrees with source in ('gt', 'human')")
    cols = [f.name for f in LABEL_SCHEMA]
    gt_new = new_df.loc[is_gt, cols].reset_index(drop=True)
    if not use_gt:
        if len(gt_new):
            raise ValueError("round table: GT rows present although pseudo.use_gt is off")
        return
    gt_old = validate_labels(kept_df, "kept GT")[cols].reset_index(drop=True)
    if len(gt_new) != len(gt_old):
        raise ValueError(f"round table: {len(gt_new)} GT rows, kept GT has {len(gt_old)}")
    for col in cols:
        a, b = gt_new[col].to_numpy(), gt_old[col].to_numpy()
        if a.dtype.kind == "f":
            a, b = a.astype(np.float32).view(np.int32), b.astype(np.float32).view(np.int32)
        if not np.array_equal(a, b):
            raise ValueError(f"round table: GT column {col!r} differs from the kept GT")
    gt_keys = set(zip(seq[is_gt], frame[is_gt]))
    if empty_gt_frames is not None:
        gt_keys |= set(zip(empty_gt_frames["sequence"].astype(str), empty_gt_frames["frame_idx"].astype(int)))
    if any(k in gt_keys for k in zip(seq[~is_gt], frame[~is_gt])):
        raise ValueError("round table: pseudo or inpainted boxes on a GT frame")
