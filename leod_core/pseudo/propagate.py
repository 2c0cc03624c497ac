"""The tracker-only baseline (issue 29): round k's labels made without a model, by carrying each sparse
ground-truth box to the frames around it with LEOD's linear tracker alone.

The tracker (:class:`~leod_core.pseudo.tracker.LinearTracker`, ``pseudo.tracker``'s IoU, decay ``q`` and
``min_conf``) is fed the GT frames only, once forward and once backward in time; at every frame without GT,
each live track's predicted box becomes a pseudo box scored by the track's confidence. A box seen once has
no velocity, so it stays where it was labelled for as long as its track lives: with LEOD's q = 0.9 and
min_conf = 0.55 that is 4 frames (0.9^5 < 0.55 / 0.9), i.e. 200 ms each way of a 50 ms grid. Two GT frames
close enough for a box to match again give it a velocity. The two directions' boxes of a frame are merged
as TTA views are (class-wise NMS, :func:`~leod_core.pseudo.merge.merge_views`).

What it answers: whether the model's detections add anything beyond the labels moved in time, which
LEOD's pseudo-labels also start from (its kept GT is copied verbatim and fed to its tracker).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from leod_core.config import TrackerConfig
from leod_core.pseudo.merge import merge_views
from leod_core.pseudo.track_filter import to_center
from leod_core.pseudo.tracker import LinearTracker

__all__ = ["propagate_gt"]


def _one_direction(gt: Mapping[int, np.ndarray], order: Iterable[int], image_hw: tuple[float, float],
                   cfg: TrackerConfig) -> dict[int, np.ndarray]:
    tracker = LinearTracker(image_hw, cfg.iou_threshold, cfg.q, cfg.min_conf, keep_history=False)
    out: dict[int, np.ndarray] = {}
    for f in order:
        if f in gt:
            tracker.update(f, to_center(gt[f]), np.ones(len(gt[f]), bool))
            continue
        tracker.update(f, np.zeros((0, 5)))
        boxes, conf, _ = tracker.live_boxes()
        if len(boxes):
            rows = np.zeros((len(boxes), 7), np.float32)
            rows[:, 0] = boxes[:, 0] - boxes[:, 2] / 2
            rows[:, 1] = boxes[:, 1] - boxes[:, 3] / 2
            rows[:, 2:5] = boxes[:, 2:5]
            rows[:, 5] = rows[:, 6] = conf
            out[f] = rows
    return out


def propagate_gt(gt: Mapping[int, np.ndarray], num_frames: int, image_hw: tuple[float, float],
                 cfg: TrackerConfig, nms_iou: float = 0.45) -> dict[int, np.ndarray]:
    """``{frame: (M, 7) FRAME_LABEL_COLUMNS boxes}`` at frames without GT, from the GT frames ``gt``
    (frame -> (N, 7) top-left boxes, any pixel scale consistent with ``image_hw``; a frame holding an empty
    array is a GT frame without boxes) of a sequence of ``num_frames`` frames. Class confidence and
    objectness of a box are its track's confidence."""
    if not gt:
        return {}
    fwd = _one_direction(gt, range(num_frames), image_hw, cfg)
    bwd = _one_direction(gt, range(num_frames - 1, -1, -1), image_hw, cfg)
    return {f: b for f, b in merge_views([fwd, bwd], 0.0, nms_iou).items() if len(b)}
