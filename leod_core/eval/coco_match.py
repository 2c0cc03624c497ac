"""COCO bbox AP accumulated one image at a time, in memory that does not hold the images.

``pycocotools`` (and ``faster-coco-eval``) need every image's boxes at once, as Python dicts of a few
hundred bytes each, before they evaluate. The metric itself only needs, per image and category, what
``COCOeval.evaluateImg`` returns: the detections' scores (best 100) and, per IoU threshold and area
range, whether each detection matched a GT box and whether it is ignored, plus the count of GT boxes
not ignored. :class:`CocoAccumulator` computes exactly that when an image is added and keeps only a
compact record of it (4 bytes of score + 40 bytes of match codes per detection); :meth:`stats` then
runs ``accumulate`` and the six ``summarize`` AP numbers. Every step follows pycocotools' arithmetic
(IoU as its C ``bbIou``, the greedy match of ``evaluateImg``, stable sorts, the interpolated
precision of ``accumulate``, ``np.mean`` over the same array order), so the numbers are the same
floats (tests compare with both libraries on random scenes).

Boxes are iscrowd = 0 and areas are ``w * h`` in float32, as the Prophesee evaluator hands them to COCO.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numba
import numpy as np

__all__ = ["IOU_THRS", "REC_THRS", "AREA_RANGES", "MAX_DETS", "CocoAccumulator", "CocoStats", "GroupResampler"]

# COCOeval's Params for iouType "bbox", built with the same expressions so the floats are the same
IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
REC_THRS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
AREA_RANGES = ((0 ** 2, 1e5 ** 2), (0 ** 2, 32 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, 1e5 ** 2))  # all, S, M, L
MAX_DETS = 100  # the last of COCO's maxDets (1, 10, 100): the only one the AP numbers use

_TP, _FP, _IGNORED = 1, 2, 0  # match code of a detection at one (area range, IoU threshold)


@numba.njit(cache=True)
def _bb_iou(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(D, G) IoU of xywh float64 boxes, pycocotools' ``bbIou`` operation for operation (no crowd)."""
    out = np.zeros((d.shape[0], g.shape[0]))
    for j in range(g.shape[0]):
        ga = g[j, 2] * g[j, 3]
        for i in range(d.shape[0]):
            da = d[i, 2] * d[i, 3]
            w = min(d[i, 2] + d[i, 0], g[j, 2] + g[j, 0]) - max(d[i, 0], g[j, 0])
            if w <= 0:
                continue
            h = min(d[i, 3] + d[i, 1], g[j, 3] + g[j, 1]) - max(d[i, 1], g[j, 1])
            if h <= 0:
                continue
            inter = w * h
            out[i, j] = inter / (da + ga - inter)
    return out


@numba.njit(cache=True)
def _match_codes(ious: np.ndarray, gt_area: np.ndarray, dt_area: np.ndarray, thrs: np.ndarray,
                 lo: float, hi: float) -> tuple[np.ndarray, int]:
    """``evaluateImg`` for one area range: (T, D) codes of the score-sorted detections and the number
    of GT boxes inside the range. GT outside the range is ignored: tried only after every GT inside,
    a detection matched to it is ignored, and so is an unmatched detection outside the range."""
    n_dt, n_gt = ious.shape
    ignored = (gt_area < lo) | (gt_area > hi)
    order = np.argsort(ignored.astype(np.int64), kind="mergesort")  # pycocotools: GT not ignored first, stable
    codes = np.empty((thrs.shape[0], n_dt), np.int8)
    for t in range(thrs.shape[0]):
        taken = np.zeros(n_gt, np.bool_)
        for i in range(n_dt):
            best = min(thrs[t], 1 - 1e-10)
            m = -1
            for k in range(n_gt):
                if taken[k]:
                    continue
                if m > -1 and not ignored[order[m]] and ignored[order[k]]:
                    break
                if ious[i, order[k]] < best:
                    continue
                best = ious[i, order[k]]
                m = k
            if m == -1:
                codes[t, i] = _IGNORED if (dt_area[i] < lo or dt_area[i] > hi) else _FP
            else:
                taken[m] = True
                codes[t, i] = _IGNORED if ignored[order[m]] else _TP
    return codes, n_gt - int(ignored.sum())


def _xywh_area(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 xywh of float32 coordinates and the float32 ``w * h`` area, as handed to COCO."""
    x, y, w, h = (np.asarray(b[k], np.float32) for k in ("x", "y", "w", "h"))
    return np.stack([x, y, w, h], axis=1).astype(np.float64), (w * h).astype(np.float64)


@dataclass
class _Image:
    """One image's ``evaluateImg`` result for one category (all area ranges)."""

    order: tuple  # where the image sorts among the others (COCO's image id order)
    scores: np.ndarray  # (D,) float32, best first, at most MAX_DETS
    codes: np.ndarray  # (A, T, D) int8 match codes
    num_gt: np.ndarray  # (A,) GT boxes not ignored per area range
    has_gt: bool  # the image holds GT of this category (LEOD's per-class image set)
    num_dt: int  # detections of this category before the MAX_DETS cut


@dataclass
class CocoStats:
    """The six COCO AP numbers and the precision curve at IoU .5 (area all, 100 detections)."""

    stats: tuple[float, float, float, float, float, float]  # AP, AP_50, AP_75, AP_S, AP_M, AP_L
    precision_50: np.ndarray  # (R, K) precision at REC_THRS per category, -1 where undefined


@dataclass
class CocoAccumulator:
    """COCO bbox AP over images added one by one (:meth:`add_image`); order-free: images sort by the
    key they were added with, so adding them in any order gives the same floats."""

    num_classes: int
    _images: list[list[_Image]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._images = [[] for _ in range(self.num_classes)]

    def add_image(self, order: tuple, gt: np.ndarray, dt: np.ndarray) -> None:
        """Add one image: Prophesee box arrays (``x, y, w, h, class_id``, and ``class_confidence`` for
        ``dt``), in the order COCO would number their annotations. ``order`` sorts the images."""
        g_box, g_area = _xywh_area(gt)
        d_box, d_area = _xywh_area(dt)
        d_score = np.asarray(dt["class_confidence"], np.float32)
        g_cls, d_cls = np.asarray(gt["class_id"]), np.asarray(dt["class_id"])
        for k in range(self.num_classes):
            gi, di = np.flatnonzero(g_cls == k), np.flatnonzero(d_cls == k)
            if len(gi) == 0 and len(di) == 0:
                continue  # evaluateImg returns None
            di = di[np.argsort(-d_score[di].astype(np.float64), kind="mergesort")[:MAX_DETS]]
            ious = _bb_iou(d_box[di], g_box[gi])
            codes = np.empty((len(AREA_RANGES), len(IOU_THRS), len(di)), np.int8)
            num_gt = np.empty(len(AREA_RANGES), np.int64)
            for a, (lo, hi) in enumerate(AREA_RANGES):
                codes[a], num_gt[a] = _match_codes(ious, g_area[gi], d_area[di], IOU_THRS, float(lo), float(hi))
            self._images[k].append(_Image(order, d_score[di], codes, num_gt, len(gi) > 0,
                                          int(np.count_nonzero(d_cls == k))))

    def num_dt(self, k: int, with_gt_only: bool = False) -> int:
        """Detections of category ``k`` added (in images holding GT of ``k`` with ``with_gt_only``)."""
        return sum(im.num_dt for im in self._images[k] if im.has_gt or not with_gt_only)

    def stats(self, classes: list[int] | None = None, with_gt_only: bool = False) -> CocoStats:
        """``accumulate`` + ``summarize`` over ``classes`` (default all). ``with_gt_only`` keeps, per
        category, only the images holding its GT (LEOD's per-class evaluation, one class at a time)."""
        classes = list(range(self.num_classes)) if classes is None else classes
        n_t, n_r, n_a = len(IOU_THRS), len(REC_THRS), len(AREA_RANGES)
        precision = -np.ones((n_t, n_r, len(classes), n_a))
        for kk, k in enumerate(classes):
            images = sorted((im for im in self._images[k] if im.has_gt or not with_gt_only),
                            key=lambda im: im.order)
            if images:
                precision[:, :, kk, :] = _accumulate(images)
        return CocoStats(_summarize(precision), precision[0, :, :, 0])


def _accumulate(images: list[_Image]) -> np.ndarray:
    """``COCOeval.accumulate`` for one category: (T, R, A) interpolated precision, -1 where no GT."""
    scores = np.concatenate([im.scores for im in images]).astype(np.float64)
    inds = np.argsort(-scores, kind="mergesort")
    codes = np.concatenate([im.codes for im in images], axis=2)[:, :, inds]
    num_gt = np.sum([im.num_gt for im in images], axis=0)
    out = -np.ones((len(IOU_THRS), len(REC_THRS), len(AREA_RANGES)))
    for a in range(len(AREA_RANGES)):
        if num_gt[a] == 0:
            continue
        for t in range(len(IOU_THRS)):  # one threshold at a time: (D,) sums, not (T, D) of the dataset
            out[t, :, a] = _interpolated_precision(codes[a, t], num_gt[a])
    return out


def _interpolated_precision(codes: np.ndarray, num_gt: int) -> np.ndarray:
    """(R,) precision at REC_THRS of one category, area range and IoU threshold: ``codes`` (D,) of the
    detections sorted best first, ``num_gt`` > 0 GT boxes."""
    tp = np.cumsum(codes == _TP).astype(float)
    fp = np.cumsum(codes == _FP).astype(float)
    nd = len(tp)
    q = np.zeros(len(REC_THRS))
    if nd:
        rc = tp / num_gt
        pr = tp / (fp + tp + np.spacing(1))
        pr = np.maximum.accumulate(pr[::-1])[::-1]  # = pycocotools' backward max loop
        at = np.searchsorted(rc, REC_THRS, side="left")
        ok = at < nd  # pycocotools stops at the first recall threshold past the last detection
        q[ok] = pr[at[ok]]
    return q


def _precision_at_hits(codes: np.ndarray, num_gt: int) -> np.ndarray:
    """:func:`_interpolated_precision`, bit for bit, reading only the true positives: recall grows only
    at them and precision falls between them, so the envelope at a recall threshold is the best precision
    at a hit from there on. Needs no ignored detection (area "all" has none); else the general path."""
    if (codes == _IGNORED).any():
        return _interpolated_precision(codes, num_gt)
    hit = np.flatnonzero(codes == _TP)
    q = np.zeros(len(REC_THRS))
    if len(hit):
        tp = np.arange(1, len(hit) + 1, dtype=float)
        pr = tp / ((hit + 1).astype(float) + np.spacing(1))  # tp + fp = detections so far
        pr = np.maximum.accumulate(pr[::-1])[::-1]
        at = np.searchsorted(tp / num_gt, REC_THRS, side="left")
        ok = at < len(hit)
        q[ok] = pr[at[ok]]
    return q


class GroupResampler:
    """COCO AP (area all, 100 detections) of an accumulator's images with each *group* of images (a
    sequence) counted any number of times: a bootstrap over groups without building copies. Each group's
    detections are concatenated once per category; a resample concatenates the groups it draws (in group
    order, copies adjacent) and sorts once. All weights 1 gives :meth:`CocoAccumulator.stats`' AP."""

    def __init__(self, acc: CocoAccumulator, group_of: Callable[[tuple], str]) -> None:
        first: dict[str, tuple] = {}  # groups in the order of their first image (ties sort as COCO's)
        for images in acc._images:
            for im in images:
                g = group_of(im.order)
                first[g] = min(first.get(g, im.order), im.order)
        self.groups: list[str] = sorted(first, key=first.__getitem__)
        index = {g: i for i, g in enumerate(self.groups)}
        # per category, per group, best first (stable: ties in image order): scores (D,), codes at area
        # "all" (T, D), GT count. A resample's sort then merges presorted runs.
        self._parts: list[list[tuple[np.ndarray, np.ndarray, int]]] = []
        for images in acc._images:
            by_group: list[list[_Image]] = [[] for _ in self.groups]
            for im in sorted(images, key=lambda im: im.order):
                by_group[index[group_of(im.order)]].append(im)
            parts = []
            for ims in by_group:
                scores = np.concatenate([im.scores for im in ims]).astype(np.float64) if ims else np.zeros(0)
                codes = np.concatenate([im.codes[0] for im in ims], axis=1) if ims else \
                    np.zeros((len(IOU_THRS), 0), np.int8)
                best = np.argsort(-scores, kind="stable")
                parts.append((scores[best], codes[:, best], int(sum(im.num_gt[0] for im in ims))))
            self._parts.append(parts)

    def ap(self, weights: Sequence[int]) -> float:
        """AP with group ``i`` (in :attr:`groups` order) counted ``weights[i]`` times; nan without GT."""
        precision = -np.ones((len(IOU_THRS), len(REC_THRS), len(self._parts)))  # as stats(): (T, R, K)
        for k, parts in enumerate(self._parts):
            drawn = [p for p, w in zip(parts, weights) for _ in range(w)]
            num_gt = sum(p[2] for p in drawn)
            if num_gt == 0:
                continue
            scores = np.concatenate([p[0] for p in drawn])
            codes = np.concatenate([p[1] for p in drawn], axis=1)[:, np.argsort(-scores, kind="stable")]
            for t, c in enumerate(codes):
                precision[t, :, k] = _precision_at_hits(c, num_gt)
        s = precision[precision > -1]
        return float(np.mean(s)) if len(s) else float("nan")


def _summarize(precision: np.ndarray) -> tuple[float, ...]:
    """COCOeval.summarize's AP lines from (T, R, K, A) precision (maxDets 100)."""
    def mean(s: np.ndarray) -> float:
        s = s[s > -1]
        return -1.0 if len(s) == 0 else float(np.mean(s))

    t50, t75 = np.where(.5 == IOU_THRS)[0], np.where(.75 == IOU_THRS)[0]
    return (mean(precision[:, :, :, 0]), mean(precision[t50][:, :, :, 0]), mean(precision[t75][:, :, :, 0]),
            mean(precision[:, :, :, 1]), mean(precision[:, :, :, 2]), mean(precision[:, :, :, 3]))
