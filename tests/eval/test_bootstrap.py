"""The bootstrap over test sequences (leod_core/eval/bootstrap.py, GroupResampler in coco_match.py): a
resample's AP is COCO's AP of the frames drawn, computed from the match records alone."""

import numpy as np
import pytest

from leod_core.eval.bootstrap import paired_bootstrap
from leod_core.eval.prophesee import DetectionEvaluator
from test_coco_match import GEN1, random_scene


def _scene(seed: int, sequences: int = 4) -> tuple[dict, dict]:
    """``sequences`` sequences of random scenes (ties, crowded frames, boxes of every area range)."""
    gt, dt = {}, {}
    for s in range(sequences):
        g, d = random_scene(100 * seed + s)
        gt[f"seq{s}"] = np.concatenate(list(g.values()))
        dt[f"seq{s}"] = np.concatenate(list(d.values()))
    return gt, dt


def _evaluator(gt: dict, dt: dict) -> DetectionEvaluator:
    ev = DetectionEvaluator(GEN1)
    for key in sorted(gt):
        ev.add(key, gt[key], dt.get(key))
    return ev


@pytest.mark.parametrize("seed", range(8))
def test_resampled_ap_is_the_ap_of_the_frames_drawn(seed):
    gt, dt = _scene(seed)
    r = _evaluator(gt, dt).resampler(lambda key: key)
    assert r.groups == sorted(gt)
    assert r.ap(np.ones(4, int)) == _evaluator(gt, dt).result()["AP"]  # bit for bit
    for keep in ([0, 2], [1], [3, 1, 2]):
        w = np.zeros(4, int)
        w[keep] = 1
        sub = {k: gt[k] for i, k in enumerate(sorted(gt)) if i in keep}
        want = _evaluator(sub, dt).result()["AP"] if any(len(v) for v in sub.values()) else float("nan")
        assert r.ap(w) == pytest.approx(want, rel=1e-12, nan_ok=True)
    # a sequence drawn twice weighs twice: AP of the split with a copy of it under a name sorting next to it
    twice, dt_twice = dict(gt, seq1b=gt["seq1"]), dict(dt, seq1b=dt["seq1"])
    assert r.ap(np.array([1, 2, 1, 1])) == _evaluator(twice, dt_twice).result()["AP"]


def test_paired_bootstrap_of_identical_runs_is_zero_and_of_a_better_run_positive():
    gt, dt = _scene(3, sequences=5)
    worse = {k: d.copy() for k, d in dt.items()}
    for d in worse.values():
        d["x"] += 6.0  # every detection displaced: lower AP on every sequence
    a, b = (_evaluator(gt, x).resampler(lambda key: key) for x in (worse, dt))
    same = paired_bootstrap([(a, a)], samples=50)
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0) and same.sequences == 5
    ci = paired_bootstrap([(a, b), (a, b)], samples=200, seed=1)
    assert ci.pairs == 2 and ci.samples == 200 and 0 < ci.low <= ci.mean <= ci.high
    assert ci.mean == pytest.approx(_evaluator(gt, dt).result()["AP"] - _evaluator(gt, worse).result()["AP"])
    assert paired_bootstrap([(a, b)], samples=200, seed=1) == paired_bootstrap([(a, b)], samples=200, seed=1)


def test_no_interval_without_pairs_or_sequences_to_draw():
    gt, dt = _scene(5, sequences=1)
    r = _evaluator(gt, dt).resampler(lambda key: key)
    assert paired_bootstrap([]) is None and paired_bootstrap([(r, r)]) is None
    gt2, dt2 = _scene(5, sequences=2)
    assert paired_bootstrap([(r, _evaluator(gt2, dt2).resampler(lambda key: key))]) is None  # other sequences
