"""gains.csv's bootstrap over test sequences: the study reads each run's evaluation detections
(detections.parquet, the contract with leod evaluate) and caches the intervals by the files' digests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from flows.study_cache import BOOTSTRAP_CACHE, gain_bootstraps
from leod_core.cameras import get_camera
from leod_core.eval.bootstrap import SplitTruth
from leod_core.eval.detections import evaluate_frames, write_detections
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.round_layout import ArtifactLayout
from leod_core.study import RunSpec, gains_table

SYNTH = get_camera("synth")


def _frames(rng, n_seq: int = 3, n_frames: int = 6) -> dict:
    """Ground truth: 3 boxes per label frame, 20-40 px, in the synth camera's space."""
    gt = {}
    for s in range(n_seq):
        for f in range(n_frames):
            b = np.zeros(3, PROPHESEE_BBOX_DTYPE)
            b["t"] = 1_000_000 + 250_000 * f
            b["x"], b["y"] = rng.uniform(0, 100, 3), rng.uniform(0, 70, 3)
            b["w"], b["h"] = rng.uniform(20, 40, 3), rng.uniform(20, 40, 3)
            b["class_id"] = rng.integers(0, 2, 3)
            b["class_confidence"] = 1.0
            gt[(f"seq{s}", f)] = b
    return gt


def _detections(rng, gt: dict, noise_px: float) -> dict:
    """Every GT box found, displaced by ``noise_px``, plus two false positives per frame."""
    out = {}
    for key, g in gt.items():
        d = np.concatenate([g, g[:2]])
        d["x"] += rng.normal(0, noise_px, len(d))
        d["y"] += rng.normal(0, noise_px, len(d))
        d["x"][-2:] += 60
        d["class_confidence"] = rng.uniform(0.2, 0.9, len(d))
        out[key] = d
    return out


def test_gains_carry_a_bootstrap_over_test_sequences_cached_by_file_digest(tmp_path):
    rng = np.random.default_rng(0)
    gt = _frames(rng)
    truth = SplitTruth(gt, SYNTH)
    runs = [RunSpec(f"wsod-0.05-s{s}", "main", "wsod", 0.05, s, 1) for s in (0, 1, 2)]
    aps = {}
    for r in runs:  # round 1 detects more precisely than round 0, on every sequence
        for k, noise in ((0, 6.0), (1, 1.0)):
            dets = _detections(rng, gt, noise)
            write_detections(dets, ArtifactLayout(tmp_path / r.run_id).round(k).detections())
            aps[(r.seed, k)] = evaluate_frames(gt, dets, SYNTH).result()["AP"]
    boot = gain_bootstraps(tmp_path, runs, 1, truth, samples=200)
    ci = boot[("wsod", 0.05, 1)]
    gain = np.mean([aps[(s, 1)] - aps[(s, 0)] for s in (0, 1, 2)])
    assert ci.pairs == 3 and ci.sequences == 3 and ci.mean == gain  # the split as it is: the seeds' mean gain
    assert 0 < ci.low < gain < ci.high
    cached = json.loads((tmp_path / BOOTSTRAP_CACHE).read_text())
    assert len(cached) == 1
    # the cache answers without reading the detections again; a changed file is a new key
    assert gain_bootstraps(tmp_path, runs, 1, None, samples=200) == boot
    write_detections(_detections(rng, gt, 3.0), ArtifactLayout(tmp_path / "wsod-0.05-s2").round(1).detections())
    assert gain_bootstraps(tmp_path, runs, 1, truth, samples=200)[("wsod", 0.05, 1)] != ci
    raw = pd.DataFrame([dict(run_id=r.run_id, seed=r.seed, round=k, AP=aps[(r.seed, k)], pseudo_precision=0.5,
                             pseudo_recall=0.5)
                        for r in runs for k in (0, 1)])
    row = gains_table(raw, runs, 1, boot).iloc[0]
    assert row["gain 95% CI test-seq boot"] == f"[{ci.low * 100:+.1f}, {ci.high * 100:+.1f}]"
    assert gains_table(raw, runs, 1).iloc[0]["gain 95% CI test-seq boot"] == ""


def test_runs_without_detections_are_left_out(tmp_path):
    rng = np.random.default_rng(1)
    gt = _frames(rng)
    runs = [RunSpec(f"wsod-0.01-s{s}", "main", "wsod", 0.01, s, 1) for s in (0, 1)]
    for k in (0, 1):  # seed 1's evaluations predate detections.parquet
        write_detections(_detections(rng, gt, 2.0), ArtifactLayout(tmp_path / runs[0].run_id).round(k).detections())
    boot = gain_bootstraps(tmp_path, runs, 1, SplitTruth(gt, SYNTH), samples=50)
    assert boot[("wsod", 0.01, 1)].pairs == 1
    assert gain_bootstraps(tmp_path / "empty", runs, 1, SplitTruth(gt, SYNTH)) == {}
