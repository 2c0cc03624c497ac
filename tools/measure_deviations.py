"""Measure the effect of the deliberate deviations from LEOD listed in docs/DEVIATIONS.md.

1. Tracker (``leod_core.pseudo.track_filter``): keep/reject decisions and inpainted boxes on random
   scenes, ours vs a LEOD emulation of the same code: the border-clamp flag set by *any* change from
   clipping (``_CLAMP_EPS = 0``) and numpy's default (unstable) ``argsort`` among equal-confidence tracks.
   Scenes: objects moving at random speeds that enter and leave the image, missed detections, short false
   positives; boxes go through the pseudo-label FOV crop (float32, corners clipped to W-1) like real ones.
2. SimOTA dynamic-k: the k cheapest candidates by a stable sort (ours) vs ``torch.topk(largest=False)``
   (YOLOX/LEOD), on cost rows with and without ties.
3. hflip ``W - x - w`` (ours) vs ``W - 1 - x - w`` (LEOD): the IoU of LEOD's mirrored box with the exact
   mirror, over the box widths of a label table (default: the README default run's dataset, if present).

Run: ``python tools/measure_deviations.py [--scenes 60] [--labels data/dataset/train/labels_full.parquet]``.
"""

from __future__ import annotations

import argparse
import contextlib
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

import leod_core.pseudo.tracker as tracker_mod
from leod_core.config import TrackerConfig
from leod_core.pseudo.filter import crop_to_fov
from leod_core.pseudo.track_filter import track_filter

GEN1_HW = (240, 304)


def random_scene(rng: np.random.Generator, hw: tuple[int, int], n_frames: int = 60) -> dict[int, np.ndarray]:
    """{frame: (N, 7) float32 top-left boxes} of one scene, cropped to the FOV as pseudo labels are."""
    h, w = hw
    n_obj = int(rng.integers(8, 31))  # > 16 live tracks is where numpy's default sort stops being stable
    size = np.column_stack([rng.uniform(12, 60, n_obj), rng.uniform(10, 45, n_obj)])
    start = np.column_stack([rng.uniform(-40, w, n_obj), rng.uniform(-30, h, n_obj)])
    moving = rng.random((n_obj, 1)) > 0.15  # the others stand still, detected identically frame to frame
    vel = rng.normal(0, 3.0, (n_obj, 2)) * moving
    born, dies = rng.integers(0, n_frames // 2, n_obj), rng.integers(n_frames // 2, n_frames + 1, n_obj)
    cls = rng.integers(0, 2, n_obj)
    frames = {}
    for f in range(n_frames):
        alive = (born <= f) & (f < dies) & (rng.random(n_obj) > 0.2)  # 20 % missed detections
        xy = start + vel * f + rng.normal(0, 0.5, (n_obj, 2)) * moving
        b = np.column_stack([xy, size, cls, np.full(n_obj, 0.8), np.full(n_obj, 0.8)])[alive]
        if rng.random() < 0.3:  # a false positive
            b = np.vstack([b, [rng.uniform(0, w - 10), rng.uniform(0, h - 10), 10, 10, rng.integers(0, 2), .5, .5]])
        cropped, inside = crop_to_fov(b, hw)
        frames[f] = cropped[inside & (cropped[:, 2] >= 5) & (cropped[:, 3] >= 5)]
    return frames


@contextlib.contextmanager
def leod_tracker(clamp_eps: bool, stable_sort: bool) -> Iterator[None]:
    """Run the tracker with LEOD's exact clamp flag (``clamp_eps=False``) / numpy's default argsort."""
    saved_eps, saved_np = tracker_mod._CLAMP_EPS, tracker_mod.np
    if not clamp_eps:
        tracker_mod._CLAMP_EPS = 0.0
    if not stable_sort:
        shim = types.ModuleType("numpy_default_argsort")
        shim.__dict__.update(np.__dict__)
        shim.argsort = lambda a, kind=None, **kw: np.argsort(a, **kw)  # numpy's default: quicksort, unstable
        tracker_mod.np = shim
    try:
        yield
    finally:
        tracker_mod._CLAMP_EPS, tracker_mod.np = saved_eps, saved_np


def _decisions(frames: dict[int, np.ndarray]) -> tuple[np.ndarray, int, set]:
    gt = {f: np.zeros(len(b), bool) for f, b in frames.items()}
    res = track_filter(frames, gt, GEN1_HW, TrackerConfig())
    keep = np.concatenate([res.keep[f] for f in sorted(frames)]) if frames else np.zeros(0, bool)
    painted = {(f, *np.round(b[:4], 3)) for f, bs in res.inpainted.items() for b in bs}
    return keep, sum(len(b) for b in res.inpainted.values()), painted


def measure_tracker(scenes: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    worlds = [random_scene(rng, GEN1_HW) for _ in range(scenes)]
    ours = [_decisions(w) for w in worlds]
    n_boxes = sum(len(k) for k, _, _ in ours)
    n_paint = sum(n for _, n, _ in ours)
    print(f"tracker: {scenes} scenes x 60 frames, {n_boxes} boxes, {n_paint} inpainted boxes (ours); "
          f"{int(sum((~k).sum() for k, _, _ in ours))} rejected")
    for name, eps, stable in (("LEOD clamp flag (any change)", False, True),
                              ("LEOD unstable argsort", True, False), ("both", False, False)):
        with leod_tracker(eps, stable):
            theirs = [_decisions(w) for w in worlds]
        keep_diff = sum(int((a[0] != b[0]).sum()) for a, b in zip(ours, theirs))
        paint_diff = sum(len(a[2] ^ b[2]) for a, b in zip(ours, theirs))
        scenes_diff = sum(bool((a[0] != b[0]).any() or a[2] != b[2]) for a, b in zip(ours, theirs))
        print(f"  {name}: keep/reject differs for {keep_diff} of {n_boxes} boxes, inpainted boxes differ by "
              f"{paint_diff}, in {scenes_diff} of {scenes} scenes")


def measure_topk(cases: int, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for name, tied in (("continuous costs", False), ("costs with ties (4 levels)", True)):
        differ = 0
        for _ in range(cases):
            n = int(torch.randint(2, 40, (1,), generator=g))
            cost = torch.rand(n, generator=g)
            if tied:
                cost = torch.floor(cost * 4) / 4
            k = int(torch.randint(1, min(n, 10) + 1, (1,), generator=g))
            ours = set(cost.argsort(stable=True)[:k].tolist())
            theirs = set(torch.topk(cost, k, largest=False).indices.tolist())
            differ += ours != theirs
        print(f"simota dynamic-k, {name}: the selected anchors differ in {differ} of {cases} rows")


def measure_hflip(labels: Path | None) -> None:
    if labels is None or not labels.is_file():
        widths = np.arange(5, 101, dtype=np.float64)
        src = "widths 5..100 px (no label table given)"
    else:
        import pandas as pd

        widths = pd.read_parquet(labels, columns=["w"])["w"].to_numpy(np.float64)
        src = f"{len(widths)} boxes of {labels}"
    iou = (widths - 1) / (widths + 1)  # a box and the same box shifted by one pixel
    print(f"hflip: LEOD's mirrored box vs the exact mirror over {src}: IoU mean {iou.mean():.3f}, "
          f"min {iou.min():.3f}, median width {np.median(widths):.1f} px")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=60)
    ap.add_argument("--topk-cases", type=int, default=20000)
    ap.add_argument("--labels", type=Path, default=Path("data/dataset/train/labels_full.parquet"))
    args = ap.parse_args()
    measure_tracker(args.scenes)
    measure_topk(args.topk_cases)
    measure_hflip(args.labels)


if __name__ == "__main__":
    main()
