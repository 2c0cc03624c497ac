"""Inpainting (REFERENCE 6a): a kept track's predicted boxes at frames it missed between two matches.

They are added as ignore boxes (class 1024, class confidence = objectness = 0): regions where an object
probably is although the detector missed it, so the objectness loss must not call them background.
"""

from __future__ import annotations

import numpy as np

from leod_core.cameras import IGNORE_CLASS_ID
from leod_core.pseudo.tracker import TrackRun

__all__ = ["inpainted_boxes"]


def inpainted_boxes(run: TrackRun, kept_tracks: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{frame_id: ((M, 7) float32 top-left boxes with class 1024, (M,) track ids)}`` of the committed
    misses of the kept tracks, in the order the tracker recorded them."""
    sel = kept_tracks[run.miss_track] if len(run.miss_track) else np.zeros(0, bool)
    frames, tracks, boxes = run.miss_frame[sel], run.miss_track[sel], run.miss_box[sel]
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not len(frames):
        return out
    rows = np.zeros((len(boxes), 7), np.float32)
    rows[:, 0] = boxes[:, 0] - boxes[:, 2] / 2  # centre -> top-left
    rows[:, 1] = boxes[:, 1] - boxes[:, 3] / 2
    rows[:, 2:4] = boxes[:, 2:4]
    rows[:, 4] = IGNORE_CLASS_ID
    order = np.argsort(frames, kind="stable")
    frames, tracks, rows = frames[order], tracks[order], rows[order]
    starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(frames)]):
        out[int(frames[s])] = (rows[s:e], tracks[s:e].astype(np.int32))
    return out
