"""The forward-or-backward track filter (LEOD ``EventSeqData._track_filter``, REFERENCE 6a).

Composes the tracker (:mod:`.tracker`, one pass over the frames) and inpainting (:mod:`.inpaint`, the
kept tracks' committed misses): a box is rejected only if its track is rejected in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from leod_core.config import TrackerConfig
from leod_core.pseudo.inpaint import inpainted_boxes
from leod_core.pseudo.tracker import run_tracker

__all__ = ["TrackFilterResult", "track_filter", "to_center"]


@dataclass(frozen=True)
class TrackFilterResult:
    """Per frame: keep flags and forward track ids of the input boxes, plus inpainted ignore boxes."""

    keep: dict[int, np.ndarray]  # frame -> (N,) bool; False = rejected (becomes an ignore box)
    track_id: dict[int, np.ndarray]  # frame -> (N,) int32 forward-pass track id (-1: not tracked)
    inpainted: dict[int, np.ndarray]  # frame -> (M, 7) float32 top-left boxes, class 1024, scores 0
    inpainted_track_id: dict[int, np.ndarray]  # frame -> (M,) int32


def to_center(boxes: np.ndarray) -> np.ndarray:
    """(N, >=5) top-left xywh + class -> (N, 5) centre xywh + class."""
    b = np.asarray(boxes, np.float64)
    return np.column_stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3], b[:, 4]])


def track_filter(frames: Mapping[int, np.ndarray], is_gt: Mapping[int, np.ndarray],
                 image_hw: tuple[float, float], cfg: TrackerConfig) -> TrackFilterResult:
    """LEOD ``_track_filter`` with 'forward or backward' (REFERENCE 6a).

    ``frames``: frame index -> (N, 7) FRAME_LABEL_COLUMNS boxes (top-left xywh, any consistent pixel
    scale with ``image_hw``); ``is_gt``: frame -> (N,) bool. The tracker sees every frame from the first
    to the last non-empty one, forward and backward (boxes within a frame reversed too). A box is rejected
    only if its track is rejected in both directions; GT boxes never are. Inpainting uses the forward pass.
    """
    sizes = {f: len(b) for f, b in frames.items()}
    nonempty = [f for f, n in sizes.items() if n]
    keep = {f: np.ones(n, bool) for f, n in sizes.items()}
    tid = {f: np.full(n, -1, np.int32) for f, n in sizes.items()}
    if not cfg.enable or not nonempty:
        return TrackFilterResult(keep, tid, {}, {})
    first, last = min(nonempty), max(nonempty)
    if first < 0:
        raise ValueError(f"track_filter: negative frame index {first}")
    empty = np.zeros((0, 5))

    def frame(f: int, reverse: bool) -> tuple[int, np.ndarray, np.ndarray]:
        if not sizes.get(f):
            return f, empty, np.zeros(0, bool)
        dets, gt = to_center(frames[f]), np.asarray(is_gt.get(f, np.zeros(sizes[f], bool)), bool)
        return (f, dets[::-1], gt[::-1]) if reverse else (f, dets, gt)

    args = (image_hw, cfg.iou_threshold, cfg.q, cfg.min_conf)
    fwd = run_tracker((frame(f, False) for f in range(first, last + 1)), *args)
    # LEOD re-indexes the reversed list as last - f, so the backward pass ends at the first box frame
    bwd = run_tracker((frame(f, True) for f in range(last, first - 1, -1)), *args)
    fwd_kept = fwd.kept_tracks(cfg.min_track_len)
    # forward numbering = frames ascending, boxes in order; backward numbering is its exact reverse
    flat_keep = fwd_kept[fwd.box_track] | bwd.kept_tracks(cfg.min_track_len)[bwd.box_track][::-1]
    ordered = [f for f in sorted(sizes) if sizes[f]]
    bounds = np.cumsum([0] + [sizes[f] for f in ordered])
    for f, s, e in zip(ordered, bounds[:-1], bounds[1:]):
        keep[f] = flat_keep[s:e]
        tid[f] = fwd.box_track[s:e].astype(np.int32)
        gt = np.asarray(is_gt.get(f, np.zeros(sizes[f], bool)), bool)
        if np.any(gt & ~keep[f]):  # GT tracks are always kept; guard like LEOD's 'Ignoring GT!' assert
            raise RuntimeError(f"track_filter: GT box rejected at frame {f}")
    painted = inpainted_boxes(fwd, fwd_kept) if cfg.inpaint else {}
    return TrackFilterResult(keep, tid, {f: b for f, (b, _) in painted.items()},
                             {f: t for f, (_, t) in painted.items()})
