"""Pseudo-labeller throughput: tracker frames/s, and pseudo-labelling frames/s with and without TTA.

Usage: .venv/bin/python bench/bench_pseudo.py [--objects 20] [--seconds 60] [--reprs 100] [--threads 1]
                                              [--ckpt round_k/model/last.pt] [--device cpu]
1. ``track_filter`` (forward + backward + inpainting) on a 20 Hz sequence of ``--seconds`` with
   ``--objects`` moving objects (noisy boxes, 15 % dropped detections, clutter blips), in repr pixels of gen1.
2. ``pseudo_label_sequence`` on one synthetic-camera sequence of ``--reprs`` representations with random
   events, a ``nano`` detector (random weights, or ``--ckpt``), with 1 view (no TTA) and 4 views.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from leod_core.cameras import get_camera
from leod_core.config import TrackerConfig
from flows.settings import load_config
from leod_core.events.h5_store import write_representations
from leod_core.labels.table import empty_labels
from leod_core.layout import SequencePaths
from leod_core.pseudo.pipeline import pseudo_label_sequence
from leod_core.pseudo.track_filter import track_filter


def tracker_world(n_frames: int, n_obj: int, hw: tuple[int, int], rng: np.random.Generator):
    h, w = hw
    pos = np.column_stack([rng.uniform(0, w - 40, n_obj), rng.uniform(0, h - 30, n_obj)])
    vel = rng.normal(0, 1.5, (n_obj, 2))
    size = np.column_stack([rng.uniform(15, 40, n_obj), rng.uniform(10, 30, n_obj)])
    cls = rng.integers(0, 2, n_obj)
    frames, gt = {}, {}
    for f in range(n_frames):
        p = pos + vel * f
        p[:, 0] %= w - 40
        p[:, 1] %= h - 30
        seen = rng.random(n_obj) > 0.15
        b = np.column_stack([p + rng.normal(0, 0.7, p.shape), size, cls, np.full(n_obj, .8), np.full(n_obj, .8)])[seen]
        if rng.random() < 0.2:
            b = np.vstack([b, [rng.uniform(0, w - 20), rng.uniform(0, h - 20), 12, 12, rng.integers(0, 2), .5, .5]])
        frames[f] = b.astype(np.float32)
        gt[f] = np.zeros(len(b), bool)
    return frames, gt


def bench_tracker(seconds: float, n_obj: int) -> None:
    hw = get_camera("gen1").repr_hw
    n = int(seconds * 20)
    frames, gt = tracker_world(n, n_obj, hw, np.random.default_rng(0))
    boxes = sum(len(b) for b in frames.values())
    track_filter(frames, gt, hw, TrackerConfig())  # warm-up
    reps, t0 = 3, time.perf_counter()
    for _ in range(reps):
        res = track_filter(frames, gt, hw, TrackerConfig())
    dt = (time.perf_counter() - t0) / reps
    rejected = sum(int((~k).sum()) for k in res.keep.values())
    painted = sum(len(b) for b in res.inpainted.values())
    print(f"tracker: {n} frames x {n_obj} objects ({boxes} boxes): {dt * 1e3:.0f} ms per sequence "
          f"(fwd+bwd+inpaint) = {n / dt:,.0f} frames/s; rejected {rejected}, inpainted {painted}")


def bench_pipeline(n_reprs: int, ckpt: str | None, device: str) -> None:
    from leod_core.model.presets import build_detector
    from leod_core.train.checkpoint import load_detector

    cam = get_camera("synth")
    if ckpt:
        model = load_detector(ckpt, device)
    else:
        torch.manual_seed(0)
        model = build_detector("nano", cam).to(device).eval()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        seq = SequencePaths(Path(tmp) / "train" / "s", cam)
        seq.repr_dir.mkdir(parents=True)
        frames = (rng.random((n_reprs, 20, *cam.repr_hw)) < 0.02).astype(np.uint8) * rng.integers(
            1, 6, (n_reprs, 20, *cam.repr_hw), dtype=np.uint8)
        write_representations(seq.repr_h5, list(frames), cam.repr_hw)
        np.save(seq.repr_timestamps, (np.arange(n_reprs, dtype=np.int64) + 1) * 50_000)
        for label, overrides in (("no TTA (1 view)", ["pseudo.tta.hflip=false", "pseudo.tta.tflip=false"]),
                                 ("TTA (4 views)", [])):
            cfg = load_config(None, ["dataset.camera=synth", *overrides])
            pseudo_label_sequence(model, seq, empty_labels(), cfg, cam)  # warm-up
            t0 = time.perf_counter()
            df: pd.DataFrame = pseudo_label_sequence(model, seq, empty_labels(), cfg, cam)
            dt = time.perf_counter() - t0
            print(f"pseudo-label {label}: {n_reprs} reprs {cam.repr_hw} on {device} "
                  f"(threads {torch.get_num_threads()}): {dt:.2f} s = {n_reprs / dt:.1f} frames/s; {len(df)} boxes")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--reprs", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ckpt", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-model", action="store_true", help="tracker only")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    bench_tracker(a.seconds, a.objects)
    if not a.skip_model:
        bench_pipeline(a.reprs, a.ckpt, a.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
