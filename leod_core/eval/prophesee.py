"""Prophesee / RVT detection metric: box filters, +-50 ms time matching, COCO AP (REFERENCE 3b).

The numbers equal RVT's ``utils/evaluation/prophesee`` evaluator on the same inputs (checked against it
on random boxes). Per-class metrics follow LEOD: both lists are restricted to one class and evaluated
again, so frames without GT of that class contribute no image (unlike COCO's per-category slice).

COCO AP is computed frame by frame by :mod:`leod_core.eval.coco_match` (pycocotools' arithmetic, memory
bounded by the frames being added), or, as references, by ``faster-coco-eval`` (``backend="faster"``)
or ``pycocotools`` (``backend="pycocotools"``), which need all frames at once; the three agree.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Mapping

import numpy as np

from leod_core.cameras import CameraSpec
from leod_core.eval.coco_match import CocoAccumulator, GroupResampler
from leod_core.labels.boxes import validate_prophesee_boxes

__all__ = [
    "TIME_TOL_US", "METRIC_KEYS", "BACKENDS", "eval_filter_sizes", "filter_boxes", "match_times",
    "DetectionEvaluator", "evaluate_detections",
]

log = logging.getLogger(__name__)

TIME_TOL_US = 50_000  # detections within +-50 ms of a GT timestamp belong to that frame
METRIC_KEYS = ("AP", "AP_50", "AP_75", "AP_S", "AP_M", "AP_L")  # = COCOeval.stats[0..5]
BACKENDS = ("leod", "faster", "pycocotools")


def eval_filter_sizes(camera: CameraSpec, downsampled_by_2: bool) -> tuple[float, float]:
    """(min diagonal, min side) in the pixel space of the boxes being evaluated.

    ``camera.eval_min_*`` are given in the representation space (halved for gen4, whose evaluation runs
    at half resolution); boxes at full sensor resolution need the doubled values, like RVT's gen4 with
    ``downsampled_by_2=False`` (60, 20).
    """
    scale = 2.0 if camera.downsample_by_2 else 1.0  # -> full-resolution thresholds
    if downsampled_by_2:
        scale /= 2.0
    return camera.eval_min_diag * scale, camera.eval_min_side * scale


def filter_boxes(boxes: np.ndarray, skip_us: int, min_diag: float, min_side: float) -> np.ndarray:
    """Keep boxes with t > skip_us, w^2 + h^2 >= min_diag^2, w >= min_side and h >= min_side."""
    w, h = boxes["w"], boxes["h"]
    keep = (boxes["t"] > skip_us) & (w * w + h * h >= min_diag ** 2) & (w >= min_side) & (h >= min_side)
    return boxes[keep]


def match_times(gt: np.ndarray, dt: np.ndarray, time_tol_us: int = TIME_TOL_US
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (GT, detections) pair per unique GT timestamp ts: GT with t == ts, detections with
    ts - tol <= t <= ts + tol. Both arrays must be sorted by t."""
    ts = np.unique(gt["t"])
    g_lo = np.searchsorted(gt["t"], ts, side="left")
    g_hi = np.searchsorted(gt["t"], ts, side="right")
    d_lo = np.searchsorted(dt["t"], ts - time_tol_us, side="left")
    d_hi = np.searchsorted(dt["t"], ts + time_tol_us, side="right")
    return [(gt[a:b], dt[c:d]) for a, b, c, d in zip(g_lo, g_hi, d_lo, d_hi)]


def _sorted_by_t(boxes: np.ndarray) -> np.ndarray:
    t = boxes["t"]
    if len(t) > 1 and np.any(t[1:] < t[:-1]):
        return boxes[np.argsort(t, kind="stable")]
    return boxes


def _coco_datasets(frames: list[tuple[np.ndarray, np.ndarray]], class_names: tuple[str, ...]
                   ) -> tuple[dict, dict]:
    """COCO GT and detection datasets of non-empty ``frames``; image id = frame index + 1."""
    n_img = len(frames)
    gts = [g for g, _ in frames]
    dts = [d for _, d in frames]
    g_img = np.repeat(np.arange(1, n_img + 1), [len(g) for g in gts])
    d_img = np.repeat(np.arange(1, n_img + 1), [len(d) for d in dts])
    g_all, d_all = np.concatenate(gts), np.concatenate(dts)
    images = [{"id": i} for i in range(1, n_img + 1)]
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(class_names)]

    def anns(b: np.ndarray, img: np.ndarray, with_score: bool) -> list[dict]:
        # float32 coordinates and a float32 area product, exactly as RVT hands them to COCO
        x, y, w, h = (b[k].astype(np.float32) for k in ("x", "y", "w", "h"))
        area = (w * h).astype(np.float64).tolist()
        boxes = np.stack([x, y, w, h], axis=1).astype(np.float64).tolist()
        cat = (b["class_id"].astype(np.int64) + 1).tolist()
        img_l = img.tolist()
        if with_score:
            score = b["class_confidence"].astype(np.float32).astype(np.float64).tolist()
            return [{"id": i + 1, "image_id": img_l[i], "category_id": cat[i], "bbox": boxes[i],
                     "area": area[i], "score": score[i], "iscrowd": 0} for i in range(len(b))]
        return [{"id": i + 1, "image_id": img_l[i], "category_id": cat[i], "bbox": boxes[i],
                 "area": area[i], "iscrowd": 0} for i in range(len(b))]

    gt_ds = {"images": images, "annotations": anns(g_all, g_img, False), "categories": categories}
    dt_ds = {"images": images, "annotations": anns(d_all, d_img, True), "categories": categories}
    return gt_ds, dt_ds


def _make_eval(gt_ds: dict, dt_ds: dict, backend: str):
    if backend == "faster":
        from faster_coco_eval import COCO, COCOeval_faster as COCOeval
    elif backend == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    else:
        raise ValueError(f"unknown COCO backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    with contextlib.redirect_stdout(io.StringIO()):  # both libraries print progress
        coco_gt, coco_dt = COCO(), COCO()
        coco_gt.dataset, coco_dt.dataset = gt_ds, dt_ds
        coco_gt.createIndex()
        coco_dt.createIndex()
        if backend == "faster":
            return COCOeval(coco_gt, coco_dt, "bbox", print_function=lambda *a, **k: None)
        return COCOeval(coco_gt, coco_dt, "bbox")


def _run_eval(cocoeval, img_ids: list[int], cat_ids: list[int]) -> tuple[dict[str, float], np.ndarray]:
    """Evaluate on a subset of images and categories -> (six stats, precision at IoU .5 (R,) per class)."""
    cocoeval.params.imgIds = img_ids
    cocoeval.params.catIds = cat_ids
    with contextlib.redirect_stdout(io.StringIO()):
        cocoeval.evaluate()
        cocoeval.accumulate()
        cocoeval.summarize()
    stats = {k: float(cocoeval.stats[i]) for i, k in enumerate(METRIC_KEYS)}
    # precision[T, R, K, A, M]: IoU .5, all recall thresholds, area "all", maxDets 100
    prec = np.asarray(cocoeval.eval["precision"])[0, :, :, 0, -1]
    return stats, prec


def _zero_metrics() -> dict[str, float]:
    return {k: 0.0 for k in METRIC_KEYS}


class DetectionEvaluator:
    """Prophesee/RVT detection metrics over sequences added one at a time (:meth:`add`).

    With the default backend ``"leod"`` each added key's frames are matched at once and only their
    match records are kept (:mod:`leod_core.eval.coco_match`), so memory grows by ~44 bytes per kept
    detection, not by the boxes; the COCO libraries (``"faster"``, ``"pycocotools"``) need every frame
    until :meth:`result`. All three give the same numbers.
    """

    def __init__(self, camera: CameraSpec, downsampled_by_2: bool = False, backend: str = "leod",
                 time_tol_us: int = TIME_TOL_US) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown COCO backend {backend!r}; allowed: {', '.join(BACKENDS)}")
        self.camera, self.backend, self.time_tol_us = camera, backend, time_tol_us
        self.min_diag, self.min_side = eval_filter_sizes(camera, downsampled_by_2)
        self._acc = CocoAccumulator(camera.num_classes)
        self._frames: list[tuple[tuple, np.ndarray, np.ndarray]] = []  # COCO-library backends only
        self._keys: set[str] = set()
        self.num_images = self.num_gt = self.num_dt = 0

    def add(self, key: str, gt: np.ndarray, dt: np.ndarray | None = None) -> None:
        """Add one key's ground truth and detections (``None``: no detections); each key once."""
        if key in self._keys:
            raise ValueError(f"evaluation key {key!r} added twice")
        self._keys.add(key)
        g = validate_prophesee_boxes(np.asarray(gt), source=f"ground truth {key}")
        d = g[:0] if dt is None else validate_prophesee_boxes(np.asarray(dt), source=f"detections {key}")
        g = filter_boxes(_sorted_by_t(g), self.camera.eval_skip_us, self.min_diag, self.min_side)
        d = filter_boxes(_sorted_by_t(d), self.camera.eval_skip_us, self.min_diag, self.min_side)
        for i, (fg, fd) in enumerate(match_times(g, d, self.time_tol_us)):
            self.num_images += 1
            self.num_gt += len(fg)
            self.num_dt += len(fd)
            if self.backend == "leod":
                self._acc.add_image((key, i), fg, fd)
            else:
                self._frames.append(((key, i), fg, fd))

    def result(self) -> dict:
        """The metrics of everything added; see :func:`evaluate_detections`."""
        names = self.camera.class_names
        out: dict = _zero_metrics()
        recall = np.linspace(0.0, 1.0, 101)
        pr_curves = {name: {"recall": recall.tolist(), "precision": [0.0] * 101} for name in names}
        per_class = {name: _zero_metrics() for name in names}
        if self.num_images and self.num_dt > 0:
            run = self._coco_run() if self.backend == "leod" else self._library_run()
            out, _ = run(None)
            for k, name in enumerate(names):
                # LEOD: images = frames with GT of class k; detections of class k in those frames
                stats, prec = run(k)
                if stats is None:
                    continue
                per_class[name] = stats
                pr_curves[name]["precision"] = np.maximum(prec[:, 0], 0.0).tolist()
        for name, stats in per_class.items():
            out.update({f"{key}_{name}": v for key, v in stats.items()})
        out.update(num_images=self.num_images, num_gt=self.num_gt, num_dt=self.num_dt, pr_curves=pr_curves)
        return out

    def resampler(self, group_of: Callable[[str], str]) -> GroupResampler:
        """AP of the frames added with groups of keys (``group_of(key)``, e.g. the sequence) counted any
        number of times, from the match records (no matching again): a bootstrap. ``leod`` backend only."""
        if self.backend != "leod":
            raise ValueError("resampler needs the leod backend (it reuses the match records)")
        return GroupResampler(self._acc, lambda order: group_of(order[0]))

    def _coco_run(self) -> Callable[[int | None], tuple[dict | None, np.ndarray]]:
        def run(k: int | None) -> tuple[dict | None, np.ndarray]:
            if k is None:
                res = self._acc.stats()
            elif self._acc.num_dt(k, with_gt_only=True) == 0:
                return None, np.zeros(0)
            else:
                res = self._acc.stats([k], with_gt_only=True)
            return dict(zip(METRIC_KEYS, map(float, res.stats))), res.precision_50
        return run

    def _library_run(self) -> Callable[[int | None], tuple[dict | None, np.ndarray]]:
        frames = [(g, d) for _, g, d in sorted(self._frames, key=lambda f: f[0])]
        gt_ds, dt_ds = _coco_datasets(frames, self.camera.class_names)
        cocoeval = _make_eval(gt_ds, dt_ds, self.backend)

        def run(k: int | None) -> tuple[dict | None, np.ndarray]:
            if k is None:
                return _run_eval(cocoeval, list(range(1, len(frames) + 1)), [c + 1 for c in range(self.camera.num_classes)])
            imgs = [i + 1 for i, (g, _) in enumerate(frames) if np.any(g["class_id"] == k)]
            n_det = sum(int(np.count_nonzero(frames[i - 1][1]["class_id"] == k)) for i in imgs)
            if not imgs or n_det == 0:
                return None, np.zeros(0)
            return _run_eval(cocoeval, imgs, [k + 1])
        return run


def evaluate_detections(gt: Mapping[str, np.ndarray], dt: Mapping[str, np.ndarray], camera: CameraSpec,
                        downsampled_by_2: bool = False, backend: str = "leod",
                        time_tol_us: int = TIME_TOL_US) -> dict:
    """Prophesee/RVT detection metrics of detections vs ground truth.

    ``gt`` and ``dt`` map a key (a sequence, or one label frame as RVT does) to Prophesee bbox arrays
    (``t, x, y, w, h, class_id, class_confidence``; extra fields ignored) in one pixel space: full sensor
    resolution, or half resolution when ``downsampled_by_2``. A key missing from ``dt`` has no
    detections. Returns ``AP, AP_50, AP_75, AP_S, AP_M, AP_L``, per class ``AP_<name>, AP_50_<name>, ...``
    (LEOD names), ``num_images``/``num_gt``/``num_dt`` (after filtering) and ``pr_curves``:
    ``{name: {"recall": [...], "precision": [...]}}`` at IoU .5. Like RVT, all metrics are 0 when
    there is no detection at all, and COCO's -1 (no GT in an area range) is passed through.
    To evaluate while predictions stream, add them to a :class:`DetectionEvaluator` instead.
    """
    unknown = sorted(set(dt) - set(gt))
    if unknown:
        log.warning("detections for %d keys without ground truth are ignored (e.g. %s)", len(unknown), unknown[0])
    ev = DetectionEvaluator(camera, downsampled_by_2, backend, time_tol_us)
    for key in sorted(gt):
        ev.add(key, gt[key], dt.get(key))
    return ev.result()
