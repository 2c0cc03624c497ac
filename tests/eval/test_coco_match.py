"""The frame-by-frame COCO AP (leod_core.eval.coco_match) equals pycocotools to the float, and
faster-coco-eval within its own round-off, on random scenes: crowded frames (> 100 detections), boxes
of every COCO area range, near-duplicates of GT, tied scores, detections outside the +-50 ms window."""

import numpy as np
import pytest

from leod_core.cameras import get_camera
from leod_core.eval.coco_match import MAX_DETS, CocoAccumulator
from leod_core.eval.prophesee import DetectionEvaluator, evaluate_detections
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE

GEN1 = get_camera("gen1")


def _boxes(rng, n, t, size=(5, 140)):
    a = np.zeros(n, PROPHESEE_BBOX_DTYPE)
    a["t"] = t
    a["x"], a["y"] = rng.uniform(0, 250, n), rng.uniform(0, 200, n)
    a["w"], a["h"] = rng.uniform(*size, n), rng.uniform(*size, n)
    a["class_id"] = rng.integers(0, 2, n)
    return a


def random_scene(seed: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    gts, dts = {}, {}
    for s in range(int(rng.integers(1, 4))):
        g, d = [], []
        for f in range(int(rng.integers(1, 10))):
            t = 600_000 + 250_000 * f
            g.append(_boxes(rng, int(rng.integers(0, 6)), t))
            n_dt = int(rng.integers(0, 130 if seed % 4 == 0 else 25))  # every 4th: over MAX_DETS a frame
            d.append(_boxes(rng, n_dt, t + rng.integers(-60_000, 60_000, n_dt)))
        g, d = np.concatenate(g), np.concatenate(d)
        if len(g):  # detections near the GT, so that every IoU threshold matches something
            near = g[rng.integers(0, len(g), 2 * len(g))]
            near["x"] += rng.normal(0, 3, len(near))
            near["w"] = np.abs(near["w"] + rng.normal(0, 3, len(near)))
            d = np.concatenate([d, near])
        d["class_confidence"] = np.round(rng.uniform(0, 1, len(d)), int(rng.integers(1, 4)))  # ties
        gts[f"s{s}"], dts[f"s{s}"] = g, d
    return gts, dts


def _scalars(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "pr_curves"}


@pytest.mark.parametrize("seed", range(24))
def test_equals_pycocotools_to_the_float(seed):
    gt, dt = random_scene(seed)
    ours = evaluate_detections(gt, dt, GEN1)
    ref = evaluate_detections(gt, dt, GEN1, backend="pycocotools")
    assert _scalars(ours) == _scalars(ref)
    assert ours["pr_curves"] == ref["pr_curves"]
    faster = evaluate_detections(gt, dt, GEN1, backend="faster")
    for k, v in _scalars(faster).items():
        assert ours[k] == pytest.approx(v, rel=1e-13, abs=1e-15), k


def test_crowded_frames_keep_the_best_100():
    rng = np.random.default_rng(0)
    gt = _boxes(rng, 3, 1_000_000)
    dt = np.concatenate([_boxes(rng, 300, 1_000_000), gt])
    dt["class_confidence"] = rng.uniform(0, 0.5, len(dt))
    dt["class_confidence"][-3:] = 0.4  # the perfect boxes are not among the best 100 of their class
    acc = CocoAccumulator(2)
    acc.add_image(("f",), gt, dt)
    assert all(len(im.scores) <= MAX_DETS for ims in acc._images for im in ims)
    assert evaluate_detections({"f": gt}, {"f": dt}, GEN1) == evaluate_detections(
        {"f": gt}, {"f": dt}, GEN1, backend="pycocotools")


def test_order_of_adding_does_not_matter():
    gt, dt = random_scene(5)
    forward = evaluate_detections(gt, dt, GEN1)
    ev = DetectionEvaluator(GEN1)
    for key in sorted(gt, reverse=True):  # as batches of sequences finish, not in key order
        ev.add(key, gt[key], dt[key])
    assert ev.result() == forward


def test_a_key_twice_is_an_error():
    gt, dt = random_scene(1)
    ev = DetectionEvaluator(GEN1)
    ev.add("s0", gt["s0"], dt["s0"])
    with pytest.raises(ValueError, match="added twice"):
        ev.add("s0", gt["s0"], dt["s0"])


def test_memory_is_match_records_not_boxes():
    """What stays after a frame: per detection a float32 score and int8 codes (4 areas x 10 IoUs)."""
    rng = np.random.default_rng(2)
    acc = CocoAccumulator(2)
    for f in range(50):
        gt, dt = _boxes(rng, 4, 0), _boxes(rng, 60, 0)
        dt["class_confidence"] = rng.uniform(0, 1, 60)
        acc.add_image((f,), gt, dt)
    kept = sum(im.scores.nbytes + im.codes.nbytes for ims in acc._images for im in ims)
    assert kept == 50 * 60 * (4 + 40)
