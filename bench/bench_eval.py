"""Evaluator time for ~100k boxes: leod (its frame-by-frame COCO, faster-coco-eval, pycocotools) vs RVT's plain path.

Usage: .venv/bin/python bench/bench_eval.py [--boxes 100000] [--rvt /path/to/RVT-checkout]
The plain path (RVT style) builds per-box dicts with Python loops, calls ``loadRes`` and pycocotools'
``COCOeval`` once overall and once per class. ``--rvt`` runs RVT's own ``utils/evaluation/prophesee``
instead of the built-in re-statement.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time

import numpy as np

from leod_core.cameras import get_camera
from leod_core.eval.prophesee import BACKENDS, evaluate_detections, filter_boxes, match_times
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE


def make_frames(n_boxes: int, rng: np.random.Generator, ncls: int = 2, per_frame: int = 20):
    """Per-frame GT and detection arrays (gen1 geometry) with about n_boxes detections in total."""
    gts, dts = [], []
    for f in range(n_boxes // per_frame):
        t = 1_000_000 + f * 250_000
        g = np.zeros(5, PROPHESEE_BBOX_DTYPE)
        g["t"], g["class_confidence"] = t, 1.0
        g["x"], g["y"] = rng.uniform(0, 250, 5), rng.uniform(0, 190, 5)
        g["w"], g["h"] = rng.uniform(15, 80, 5), rng.uniform(15, 60, 5)
        g["class_id"] = rng.integers(0, ncls, 5)
        d = np.zeros(per_frame, PROPHESEE_BBOX_DTYPE)
        d["t"] = t
        d["x"], d["y"] = rng.uniform(0, 250, per_frame), rng.uniform(0, 190, per_frame)
        d["w"], d["h"] = rng.uniform(15, 80, per_frame), rng.uniform(15, 60, per_frame)
        d[:5][["x", "y", "w", "h"]] = g[["x", "y", "w", "h"]]
        d["class_id"] = rng.integers(0, ncls, per_frame)
        d["class_confidence"] = rng.uniform(0, 1, per_frame)
        gts.append(g)
        dts.append(d)
    return gts, dts


def plain_pycocotools(gts, dts, class_names):
    """RVT's evaluation re-stated: python dict building + loadRes + pycocotools, overall and per class."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def one(gl, dl):
        frames = []
        for g, d in zip(gl, dl):
            frames += match_times(filter_boxes(g, 500_000, 30, 10), filter_boxes(d, 500_000, 30, 10))
        images, anns, res = [], [], []
        for i, (g, d) in enumerate(frames, start=1):
            images.append({"id": i, "height": 240, "width": 304})
            for b in g:
                anns.append({"area": float(b["w"] * b["h"]), "iscrowd": False, "image_id": i, "id": len(anns) + 1,
                             "bbox": [b["x"], b["y"], b["w"], b["h"]], "category_id": int(b["class_id"]) + 1})
            for b in d:
                res.append({"image_id": i, "category_id": int(b["class_id"]) + 1, "score": float(b["class_confidence"]),
                            "bbox": [b["x"], b["y"], b["w"], b["h"]]})
        coco = COCO()
        coco.dataset = {"images": images, "annotations": anns,
                        "categories": [{"id": k + 1, "name": n} for k, n in enumerate(class_names)]}
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(res), "bbox")
        ev.params.imgIds = np.arange(1, len(frames) + 1)
        ev.evaluate(); ev.accumulate(); ev.summarize()
        return ev.stats[0]

    with contextlib.redirect_stdout(io.StringIO()):
        ap = one(gts, dts)
        for k in range(len(class_names)):
            one([g[g["class_id"] == k] for g in gts], [d[d["class_id"] == k] for d in dts])
    return ap


def rvt_evaluator(rvt_root, gts, dts, class_names):
    sys.path.insert(0, rvt_root)
    from utils.evaluation.prophesee.evaluation import evaluate_list
    with contextlib.redirect_stdout(io.StringIO()):
        m = evaluate_list(dts, gts, height=240, width=304, camera="gen1")
        for k in range(len(class_names)):
            evaluate_list([d[d["class_id"] == k] for d in dts], [g[g["class_id"] == k] for g in gts],
                          height=240, width=304, camera="gen1")
    return m["AP"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boxes", type=int, default=100_000)
    ap.add_argument("--rvt", default="", help="a folder holding RVT's utils/evaluation/prophesee")
    args = ap.parse_args()
    camera = get_camera("gen1")
    gts, dts = make_frames(args.boxes, np.random.default_rng(0))
    keys = [f"{i:06d}" for i in range(len(gts))]
    print(f"{sum(map(len, dts))} detections, {sum(map(len, gts))} GT boxes, {len(gts)} frames, 2 classes")
    evaluate_detections({"w": gts[0]}, {"w": dts[0]}, camera)  # numba's compile (cached after the first run)
    for backend in BACKENDS:
        t0 = time.perf_counter()
        m = evaluate_detections(dict(zip(keys, gts)), dict(zip(keys, dts)), camera, backend=backend)
        print(f"leod evaluate_detections backend={backend:12s}: {time.perf_counter() - t0:6.2f} s  AP={m['AP']!r}")
    t0 = time.perf_counter()
    a = plain_pycocotools(gts, dts, camera.class_names)
    print(f"plain pycocotools path (RVT style)            : {time.perf_counter() - t0:6.2f} s  AP={a:.6f}")
    if args.rvt:
        t0 = time.perf_counter()
        a = rvt_evaluator(args.rvt, gts, dts, camera.class_names)
        print(f"RVT utils/evaluation/prophesee               : {time.perf_counter() - t0:6.2f} s  AP={a:.6f}")


if __name__ == "__main__":
    main()
