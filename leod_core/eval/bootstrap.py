"""Bootstrap over test sequences: how much of a paired AP difference is the luck of which sequences the test
split holds.

The seeds' t interval (``leod_core/study.py``) answers "would another training seed give the same gain";
this one answers "would another test split". Each resample draws the split's sequences with replacement
(frames of a sequence drawn twice count twice) and recomputes every run's COCO AP on it from its stored
detections (``detections.parquet``), matched once per frame; the difference of each pair (round k minus
round 0 of one seed) is averaged over the pairs, the same draw for all. The interval is the percentile one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leod_core.cameras import CameraSpec
from leod_core.eval.coco_match import GroupResampler
from leod_core.eval.detections import FrameKey, evaluate_frames, read_detections

__all__ = ["BOOTSTRAP_SAMPLES", "BootstrapCI", "SplitTruth", "matched_run", "paired_bootstrap"]

#: resamples of a bootstrap interval
BOOTSTRAP_SAMPLES = 1000


@dataclass(frozen=True)
class BootstrapCI:
    """Mean paired difference on the split as it is, and its percentile interval over resamples."""

    mean: float
    low: float
    high: float
    pairs: int
    sequences: int
    samples: int


@dataclass(frozen=True)
class SplitTruth:
    """A split's ground truth per label frame (``split_ground_truth``) and the camera it is scored with."""

    gt: Mapping[FrameKey, np.ndarray]
    camera: CameraSpec


def _sequence_of(key: str) -> str:
    return key.rsplit(":", 1)[0]  # detections.frame_key: "<sequence>:<frame>"


def matched_run(truth: SplitTruth, detections: str | Path) -> GroupResampler:
    """One evaluation's detections matched once against the split's ground truth, resampled by sequence."""
    evaluator = evaluate_frames(truth.gt, read_detections(detections, truth.gt), truth.camera)
    return evaluator.resampler(_sequence_of)


def paired_bootstrap(pairs: Sequence[tuple[GroupResampler, GroupResampler]], samples: int = BOOTSTRAP_SAMPLES,
                     level: float = 0.95, seed: int = 0) -> BootstrapCI | None:
    """Mean over ``pairs`` (a, b) of AP(b) - AP(a), and its ``level`` percentile interval over ``samples``
    resamples of the sequences (one draw shared by all pairs); None without pairs, with a single sequence
    (nothing to resample) or when the pairs were scored on different sequences."""
    if not pairs or any(r.groups != pairs[0][0].groups for pair in pairs for r in pair):
        return None
    n = len(pairs[0][0].groups)
    if n < 2:
        return None

    def mean_diff(weights: np.ndarray) -> float:
        return float(np.nanmean([b.ap(weights) - a.ap(weights) for a, b in pairs]))

    rng = np.random.default_rng(seed)
    draws = [mean_diff(np.bincount(rng.integers(0, n, n), minlength=n)) for _ in range(samples)]
    lo, hi = np.nanpercentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return BootstrapCI(mean_diff(np.ones(n, np.int64)), float(lo), float(hi), len(pairs), n, samples)
