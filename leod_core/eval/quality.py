"""Quality of pseudo labels, measured against the ground truth withheld from training (REFERENCE 6).

Only frames whose GT was withheld (present in the withheld table) are scored. Per class:
- ``recall@thr``: fraction of withheld GT boxes overlapped by a pseudo box of the same class with
  IoU > thr (LEOD's AR); ``precision@thr``: fraction of pseudo boxes (source pseudo, not ignore) that
  overlap a GT box of the same class with IoU > thr. Both pooled over boxes.
- ``frame_recall@thr`` / ``frame_precision@thr``: LEOD's logged variant (``modules/utils/ssod.py``):
  the same fractions per frame, averaged over frames holding GT of that class.
- ``AP``, ``AP_50``...: COCO AP of the pseudo boxes (score = class_confidence) against the withheld GT,
  one image per frame, in representation pixels, without the Prophesee time/size filters.
Plus counts of pseudo, ignore (class 1024), inpainted and human boxes. Withheld frames a person reviewed
(``leod import-labels``) are not scored: their labels are the person's, not the model's.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from leod_core.cameras import IGNORE_CLASS_ID, CameraSpec
from leod_core.eval.prophesee import evaluate_detections
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE, box_iou, xywh_to_xyxy

__all__ = ["IOU_THRESHOLDS", "pseudo_label_quality"]

log = logging.getLogger(__name__)

IOU_THRESHOLDS = (0.25, 0.5, 0.75)
_KEY = ["sequence", "frame_idx"]


def _frame_slices(df: pd.DataFrame) -> dict[tuple[str, int], slice]:
    """Row ranges of each (sequence, frame_idx) in a table sorted by those columns."""
    if df.empty:
        return {}
    seq = df["sequence"].to_numpy()
    frame = df["frame_idx"].to_numpy()
    change = np.flatnonzero((seq[1:] != seq[:-1]) | (frame[1:] != frame[:-1])) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(df)]])
    return {(seq[s], int(frame[s])): slice(s, e) for s, e in zip(starts, ends)}


def _ratio(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


def _prophesee(rows: pd.DataFrame, scale: float) -> np.ndarray:
    out = np.zeros(len(rows), PROPHESEE_BBOX_DTYPE)
    for c in ("x", "y", "w", "h"):
        out[c] = rows[c].to_numpy(np.float32) * np.float32(scale)
    out["class_id"] = rows["class_id"].to_numpy()
    out["class_confidence"] = rows["class_confidence"].to_numpy()
    return out  # t = 0 for all: one COCO image per key


def pseudo_label_quality(pseudo_df: pd.DataFrame, withheld_df: pd.DataFrame, camera: CameraSpec,
                         reviewed: Iterable[tuple[str, int]] = ()) -> dict:
    """Precision, recall and AP of ``pseudo_df`` on the frames of ``withheld_df`` (LABEL_SCHEMA tables,
    full-res pixels), leaving out the ``reviewed`` (sequence, frame_idx) keys: frames a person labelled hold
    no pseudo box. Returns ``{"per_class": {name: {...}}, "overall": {...}, "counts": {...}}``; a ratio with
    an empty denominator is NaN."""
    counts = {
        "pseudo": int(((pseudo_df["source"] == "pseudo") & (pseudo_df["class_id"] != IGNORE_CLASS_ID)).sum()),
        "ignore": int((pseudo_df["class_id"] == IGNORE_CLASS_ID).sum()),
        "inpainted": int((pseudo_df["source"] == "inpainted").sum()),
        "gt": int((pseudo_df["source"] == "gt").sum()),
        "human": int((pseudo_df["source"] == "human").sum()),
    }
    reviewed = {(str(s), int(f)) for s, f in reviewed}
    gt = withheld_df[withheld_df["class_id"] != IGNORE_CLASS_ID].sort_values(_KEY, kind="stable")
    if reviewed:
        keys = zip(gt["sequence"].astype(str), gt["frame_idx"].astype(int))
        gt = gt[[k not in reviewed for k in keys]]
    gt = gt.reset_index(drop=True)
    gt_frames = _frame_slices(gt)
    ps = pseudo_df[(pseudo_df["source"] == "pseudo") & (pseudo_df["class_id"] != IGNORE_CLASS_ID)]
    ps = ps.set_index(_KEY).loc[lambda d: d.index.isin(list(gt_frames))].reset_index()
    ps = ps.sort_values(_KEY, kind="stable").reset_index(drop=True)
    ps_frames = _frame_slices(ps)
    counts.update(withheld_frames=len(gt_frames), withheld_gt=len(gt), pseudo_on_withheld=len(ps),
                  reviewed_frames=len(reviewed))

    matches = _match_frames(gt, ps, gt_frames, ps_frames, camera.num_classes)
    # COCO AP, one image per withheld frame, repr pixels, no Prophesee filters
    unfiltered = dataclasses.replace(camera, eval_skip_us=-1, eval_min_diag=0.0, eval_min_side=0.0)
    scale = camera.label_scale
    gt_k = {f"{s}:{f}": _prophesee(gt.iloc[sl], scale) for (s, f), sl in gt_frames.items()}
    dt_k = {f"{s}:{f}": _prophesee(ps.iloc[sl], scale) for (s, f), sl in ps_frames.items()}
    coco = evaluate_detections(gt_k, dt_k, unfiltered, downsampled_by_2=camera.downsample_by_2)

    per_class: dict[str, dict[str, float]] = {}
    for k, name in enumerate(camera.class_names):
        per_class[name] = matches.of_class(k) | {m: coco[f"{m}_{name}"] for m in ("AP", "AP_50", "AP_75")}
    overall = matches.pooled() | {m: coco[m] for m in ("AP", "AP_50", "AP_75")}
    if not gt_frames:
        log.warning("pseudo_label_quality: the withheld table has no boxes; nothing to score")
    return {"per_class": per_class, "overall": overall, "counts": counts}


@dataclasses.dataclass
class _Matches:
    """IoU matches of pseudo and GT boxes, per class (rows) and :data:`IOU_THRESHOLDS` (columns)."""

    gt_hit: np.ndarray  # GT boxes covered by a pseudo box
    ps_hit: np.ndarray  # pseudo boxes matching a GT box
    n_gt: np.ndarray  # per class
    n_ps: np.ndarray
    frame_r: list[list[np.ndarray]]  # per class, per frame with GT of the class: fraction per threshold (LEOD)
    frame_p: list[list[np.ndarray]]

    def of_class(self, k: int) -> dict[str, float]:
        """Counts, pooled and per-frame recall / precision of class ``k``."""
        d: dict[str, float] = {"num_gt": int(self.n_gt[k]), "num_pseudo": int(self.n_ps[k])}
        frame_r, frame_p = self.frame_r[k], self.frame_p[k]
        for j, thr in enumerate(IOU_THRESHOLDS):
            d[f"recall@{thr}"] = _ratio(self.gt_hit[k, j], self.n_gt[k])
            d[f"precision@{thr}"] = _ratio(self.ps_hit[k, j], self.n_ps[k])
            d[f"frame_recall@{thr}"] = float(np.mean([r[j] for r in frame_r])) if frame_r else float("nan")
            d[f"frame_precision@{thr}"] = float(np.mean([p[j] for p in frame_p])) if frame_p else float("nan")
        return d

    def pooled(self) -> dict[str, float]:
        """Counts and recall / precision pooled over the boxes of every class."""
        d: dict[str, float] = {"num_gt": int(self.n_gt.sum()), "num_pseudo": int(self.n_ps.sum())}
        for j, thr in enumerate(IOU_THRESHOLDS):
            d[f"recall@{thr}"] = _ratio(self.gt_hit[:, j].sum(), self.n_gt.sum())
            d[f"precision@{thr}"] = _ratio(self.ps_hit[:, j].sum(), self.n_ps.sum())
        return d


def _match_frames(gt: pd.DataFrame, ps: pd.DataFrame, gt_frames: dict[tuple[str, int], slice],
                  ps_frames: dict[tuple[str, int], slice], n_cls: int) -> _Matches:
    """Match the pseudo boxes of each withheld frame to its GT boxes of the same class."""
    n_thr = len(IOU_THRESHOLDS)
    gt_hit = np.zeros((n_cls, n_thr))
    ps_hit = np.zeros((n_cls, n_thr))
    n_gt, n_ps = np.zeros(n_cls), np.zeros(n_cls)
    frame_r: list[list[np.ndarray]] = [[] for _ in range(n_cls)]
    frame_p: list[list[np.ndarray]] = [[] for _ in range(n_cls)]
    g_xyxy = xywh_to_xyxy(gt[["x", "y", "w", "h"]].to_numpy()) if len(gt) else np.zeros((0, 4))
    p_xyxy = xywh_to_xyxy(ps[["x", "y", "w", "h"]].to_numpy()) if len(ps) else np.zeros((0, 4))
    g_cls, p_cls = gt["class_id"].to_numpy(), ps["class_id"].to_numpy()
    for key, gs in gt_frames.items():
        psl = ps_frames.get(key, slice(0, 0))
        for k in range(n_cls):
            gm = g_xyxy[gs][g_cls[gs] == k]
            pm = p_xyxy[psl][p_cls[psl] == k]
            n_gt[k] += len(gm)
            n_ps[k] += len(pm)
            if len(gm) == 0 and len(pm) == 0:
                continue
            iou = box_iou(gm, pm) if len(gm) and len(pm) else np.zeros((len(gm), len(pm)))
            for j, thr in enumerate(IOU_THRESHOLDS):
                hit = iou > thr
                gt_hit[k, j] += hit.any(1).sum()
                ps_hit[k, j] += hit.any(0).sum()
            if len(gm):  # LEOD scores a frame only when it has GT of the class
                frame_r[k].append((iou > np.array(IOU_THRESHOLDS)[:, None, None]).any(2).mean(1))
                frame_p[k].append((iou > np.array(IOU_THRESHOLDS)[:, None, None]).any(1).mean(1)
                                  if len(pm) else np.zeros(n_thr))
    return _Matches(gt_hit, ps_hit, n_gt, n_ps, frame_r, frame_p)
