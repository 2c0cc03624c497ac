"""LEOD's linear multi-object tracker (REFERENCE 6a; LEOD ``modules/tracking/{linear,tracker,utils}.py``).

Each track moves its box centre with a constant velocity; width and height are those of the last
matched detection. Per frame: predict every live track (age += 1, centre += velocity, clamp the box to
the image and remember which sides were clamped), associate greedily (tracks by descending confidence,
each takes its best unused same-class detection if IoU >= threshold), update matched tracks, decay the
unmatched ones, start a track per unmatched detection, drop tracks below ``min_conf``.

State is kept as arrays over the live tracks (list order as in LEOD: survivors, then new tracks), so
predict / update / miss are vectorised; only the greedy association loops over tracks.

Differences from LEOD, all in degenerate cases: an edge within 1e-4 px of the border is not "clamped"
(LEOD compares float32 round-off exactly, so boxes cropped to end at W-1 get a random flag); ties in
track confidence are ordered stably (LEOD's ``np.argsort`` is unstable above 16 tracks); a box clamped
on both opposite sides (larger than the image) uses the later side's edge instead of failing an assert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_CLAMP_EPS = 1e-4  # px: an edge this close to the border counts as inside (not clamped)

__all__ = ["TrackRun", "LinearTracker", "run_tracker", "clamp_cxcywh", "iou_cxcywh_class"]


def clamp_cxcywh(boxes: np.ndarray, image_hw: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Clamp (K, 4) centre-xywh boxes to ``[0, W-1] x [0, H-1]`` -> (boxes, (K, 4) bool clamped top, bottom,
    left, right)."""
    h, w = image_hw
    x1 = boxes[:, 0] - boxes[:, 2] / 2
    y1 = boxes[:, 1] - boxes[:, 3] / 2
    x2 = boxes[:, 0] + boxes[:, 2] / 2
    y2 = boxes[:, 1] + boxes[:, 3] / 2
    cx1, cx2 = np.clip(x1, 0.0, w - 1.0), np.clip(x2, 0.0, w - 1.0)
    cy1, cy2 = np.clip(y1, 0.0, h - 1.0), np.clip(y2, 0.0, h - 1.0)
    # LEOD flags a side when clipping changed it; an edge lying on the border up to round-off (boxes
    # cropped to the FOV end exactly at W-1) would flip that flag at random, so allow _CLAMP_EPS
    flags = np.stack([y1 < -_CLAMP_EPS, y2 > h - 1.0 + _CLAMP_EPS, x1 < -_CLAMP_EPS, x2 > w - 1.0 + _CLAMP_EPS],
                     axis=1)
    out = np.stack([(cx1 + cx2) / 2, (cy1 + cy2) / 2, cx2 - cx1, cy2 - cy1], axis=1)
    return out, flags


def iou_cxcywh_class(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (K, 5) and (N, 5) ``[cx, cy, w, h, class]`` boxes -> (K, N); 0 across classes."""
    ax1, ay1 = a[:, None, 0] - a[:, None, 2] / 2, a[:, None, 1] - a[:, None, 3] / 2
    ax2, ay2 = a[:, None, 0] + a[:, None, 2] / 2, a[:, None, 1] + a[:, None, 3] / 2
    bx1, by1 = b[None, :, 0] - b[None, :, 2] / 2, b[None, :, 1] - b[None, :, 3] / 2
    bx2, by2 = b[None, :, 0] + b[None, :, 2] / 2, b[None, :, 1] + b[None, :, 3] / 2
    inter = np.maximum(0.0, np.minimum(ax2, bx2) - np.maximum(ax1, bx1)) * \
        np.maximum(0.0, np.minimum(ay2, by2) - np.maximum(ay1, by1))
    union = a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter
    iou = np.full(inter.shape, np.nan)  # zero-area pairs stay NaN, as LEOD's 0 / 0
    np.divide(inter, union, out=iou, where=union != 0)
    iou[a[:, None, 4] != b[None, :, 4]] = 0.0
    return iou


@dataclass(frozen=True)
class TrackRun:
    """Result of one tracking pass. Boxes are numbered in the order they were fed (frame by frame)."""

    box_track: np.ndarray  # (num_boxes,) int: track id of every box
    done: np.ndarray  # (num_tracks,) bool: deleted (True) or still alive at the end (False)
    hits: np.ndarray  # (num_tracks,) int: frames spanned from birth to the last match
    is_gt: np.ndarray  # (num_tracks,) bool: the track matched at least one GT box
    miss_track: np.ndarray  # (M,) int: track of each committed missed prediction
    miss_frame: np.ndarray  # (M,) int: frame id of that miss
    miss_box: np.ndarray  # (M, 5) float64: clamped predicted [cx, cy, w, h, class]

    def kept_tracks(self, min_track_len: int) -> np.ndarray:
        """LEOD keep rule per track: not deleted, or holds GT, or long enough."""
        return (~self.done) | self.is_gt | (self.hits >= min_track_len)


class LinearTracker:
    """Online tracker; call :meth:`update` for every frame (also empty ones), then :meth:`finish`."""

    def __init__(self, image_hw: tuple[float, float], iou_threshold: float = 0.45, q: float = 0.9,
                 min_conf: float = 0.55, keep_history: bool = True) -> None:
        # keep_history=False: online use (leod predict), the per-box logs that finish() needs are dropped
        # frame by frame, so memory does not grow with the stream's length
        self.keep_history = keep_history
        self.image_hw = image_hw
        self.iou_threshold = iou_threshold
        self.q = q
        self.min_conf = min_conf
        # live tracks, (K, ...) arrays
        self._id = np.zeros(0, np.int64)
        self._box = np.zeros((0, 4))  # unclamped state, centre xywh
        self._cls = np.zeros(0)
        self._vel = np.zeros((0, 2))
        self._conf = np.zeros(0)
        self._age = np.zeros(0, np.int64)
        self._hits = np.zeros(0, np.int64)
        self._gt = np.zeros(0, bool)
        self._last_match = np.zeros(0, np.int64)  # step of the last match (commits earlier misses)
        # finished tracks and per-box / per-miss logs
        self._final: dict[int, tuple[bool, int, bool, int]] = {}  # id -> done, hits, is_gt, last match step
        self._box_track: list[np.ndarray] = []
        self._misses: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (ids, step, boxes)
        self._miss_frames: list[int] = []
        self._num_tracks = 0
        self._step = 0

    def _retire(self, mask: np.ndarray, done: bool) -> None:
        if not mask.any():
            return
        for i in np.flatnonzero(mask):
            self._final[int(self._id[i])] = (done, int(self._hits[i]), bool(self._gt[i]), int(self._last_match[i]))
        keep = ~mask
        for name in ("_id", "_box", "_cls", "_vel", "_conf", "_age", "_hits", "_gt", "_last_match"):
            setattr(self, name, getattr(self, name)[keep])

    def _associate(self, pred: np.ndarray, dets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Greedy matching -> (track rows, detection rows)."""
        if len(pred) == 0 or len(dets) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        iou = iou_cxcywh_class(np.column_stack([pred, self._cls]), dets)
        if not iou.max() > 0:  # LEOD skips matching when nothing overlaps
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        order = np.argsort(-self._conf, kind="stable")
        best = iou.argmax(axis=1)
        ok = iou[np.arange(len(pred)), best] >= self.iou_threshold
        if not ok.any() or np.bincount(best[ok]).max() == 1:  # no two tracks want one detection: greedy = best
            rows = order[ok[order]]
            return rows, best[rows]
        rows, cols = [], []
        for i in order:  # conflicts: LEOD's sequential greedy, taken detections masked out
            row = iou[i]
            j = int(row.argmax())
            if not row[j] >= self.iou_threshold:
                continue
            iou[:, j] = -np.inf
            rows.append(i)
            cols.append(j)
        return np.asarray(rows, np.int64), np.asarray(cols, np.int64)

    def update(self, frame_id: int, dets: np.ndarray, is_gt: np.ndarray | None = None) -> np.ndarray:
        """Feed one frame: (N, 5) ``[cx, cy, w, h, class]`` detections and their GT flags. Returns the
        (N,) track id given to each detection (a new id for an unmatched one)."""
        if not self.keep_history:
            self._box_track.clear()
            self._misses.clear()
            self._miss_frames.clear()
            self._final.clear()
        dets = np.asarray(dets, np.float64).reshape(-1, 5)
        n = len(dets)
        is_gt = np.zeros(n, bool) if is_gt is None or len(is_gt) == 0 else np.asarray(is_gt, bool)
        step = self._step
        self._step += 1
        box_track = np.full(n, -1, np.int64)
        self._box_track.append(box_track)
        if n == 0 and len(self._id) == 0:
            return box_track
        self._retire(self._box[:, 2] * self._box[:, 3] <= 0, done=True)
        # predict
        self._age += 1
        last = self._box.copy()
        self._box[:, :2] += self._vel
        pred, clamped = clamp_cxcywh(self._box, self.image_hw)
        rows, cols = self._associate(pred, dets)
        # update matched tracks
        if len(rows):
            new = dets[cols, :4]
            self._hits[rows] = self._age[rows] + 1
            self._vel[rows] = _robust_velocity(last[rows], new, clamped[rows])
            self._box[rows] = new
            self._gt[rows] |= is_gt[cols]
            age = self._age[rows]
            w = self.q * (1.0 - self.q ** age) / (1.0 - self.q)  # sum_{i=1..age} q^i
            self._conf[rows] = (w * self._conf[rows] + 1.0) / (w + 1.0)
            self._last_match[rows] = step
            box_track[cols] = self._id[rows]
        # decay unmatched tracks; their predictions may be inpainted if a later match comes
        missed = np.ones(len(self._id), bool)
        missed[rows] = False
        self._conf[missed] *= self.q
        if missed.any() and not is_gt.any():
            self._misses.append((self._id[missed], np.full(int(missed.sum()), step),
                                 np.column_stack([pred[missed], self._cls[missed]])))
            self._miss_frames.append(frame_id)
        fresh = np.ones(n, bool)
        fresh[cols] = False
        if fresh.any():
            box_track[fresh] = self._start_tracks(dets[fresh], is_gt[fresh], step)
        self._retire(self._conf < self.min_conf, done=True)
        return box_track

    def _start_tracks(self, dets: np.ndarray, is_gt: np.ndarray, step: int) -> np.ndarray:
        """New tracks (still, confidence ``q``, one hit) for unmatched (k, 5) detections; returns their ids."""
        k = len(dets)
        ids = np.arange(self._num_tracks, self._num_tracks + k)
        self._num_tracks += k
        self._id = np.concatenate([self._id, ids])
        self._box = np.concatenate([self._box, dets[:, :4]])
        self._cls = np.concatenate([self._cls, dets[:, 4]])
        self._vel = np.concatenate([self._vel, np.zeros((k, 2))])
        self._conf = np.concatenate([self._conf, np.full(k, self.q)])
        self._age = np.concatenate([self._age, np.zeros(k, np.int64)])
        self._hits = np.concatenate([self._hits, np.ones(k, np.int64)])
        self._gt = np.concatenate([self._gt, is_gt])
        self._last_match = np.concatenate([self._last_match, np.full(k, step)])
        return ids

    def live_boxes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The live tracks after the last :meth:`update`: (K, 5) clamped ``[cx, cy, w, h, class]`` boxes
        (a track missed in that frame: its predicted box), (K,) confidences, (K,) track ids."""
        boxes, _ = clamp_cxcywh(self._box, self.image_hw)
        return np.column_stack([boxes, self._cls]), self._conf.copy(), self._id.copy()

    def finish(self) -> TrackRun:
        """End the sequence: live tracks finish with ``done=False``."""
        if not self.keep_history:
            raise RuntimeError("LinearTracker.finish needs keep_history=True")
        self._retire(np.ones(len(self._id), bool), done=False)
        n = self._num_tracks
        done, hits, gt, last = (np.array([self._final[i][k] for i in range(n)]) for k in range(4))
        if self._misses:
            mt = np.concatenate([m[0] for m in self._misses])
            ms = np.concatenate([m[1] for m in self._misses])
            mb = np.concatenate([m[2] for m in self._misses])
            mf = np.concatenate([np.full(len(m[0]), f) for m, f in zip(self._misses, self._miss_frames)])
            committed = ms < last[mt]  # a miss is inpainted only if the track matched again later
            mt, mf, mb = mt[committed], mf[committed], mb[committed]
        else:
            mt, mf, mb = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 5))
        return TrackRun(
            box_track=np.concatenate(self._box_track) if self._box_track else np.zeros(0, np.int64),
            done=done.astype(bool).reshape(n), hits=hits.astype(np.int64).reshape(n),
            is_gt=gt.astype(bool).reshape(n), miss_track=mt.astype(np.int64), miss_frame=mf.astype(np.int64),
            miss_box=mb)


def _robust_velocity(last: np.ndarray, new: np.ndarray, clamped: np.ndarray) -> np.ndarray:
    """Centre displacement; on an axis whose predicted box was clamped, the opposite edge's displacement
    (a box leaving the image shrinks, so its centre lags behind the object)."""
    v = new[:, :2] - last[:, :2]
    old_lo, old_hi = last[:, :2] - last[:, 2:4] / 2, last[:, :2] + last[:, 2:4] / 2
    new_lo, new_hi = new[:, :2] - new[:, 2:4] / 2, new[:, :2] + new[:, 2:4] / 2
    top, bottom, left, right = clamped.T
    v[:, 1] = np.where(top, new_hi[:, 1] - old_hi[:, 1], v[:, 1])
    v[:, 1] = np.where(bottom, new_lo[:, 1] - old_lo[:, 1], v[:, 1])
    v[:, 0] = np.where(left, new_hi[:, 0] - old_hi[:, 0], v[:, 0])
    v[:, 0] = np.where(right, new_lo[:, 0] - old_lo[:, 0], v[:, 0])
    return v


def run_tracker(frames: Iterable[tuple[int, np.ndarray, np.ndarray]], image_hw: tuple[float, float],
                iou_threshold: float = 0.45, q: float = 0.9, min_conf: float = 0.55) -> TrackRun:
    """Track ``(frame_id, (N, 5) [cx, cy, w, h, class], (N,) is_gt)`` frames in the given order."""
    tracker = LinearTracker(image_hw, iou_threshold, q, min_conf)
    for frame_id, dets, is_gt in frames:
        tracker.update(frame_id, dets, is_gt)
    return tracker.finish()
