"""Benchmark of the synthetic event camera: wall time of a whole preset and dataset statistics.

    .venv/bin/python bench/bench_synth.py --preset default --workers 2 [--dst DIR] [--seed 0]

Prints generation time (wall and summed per-sequence), events, events/s, boxes per class, and label
statistics that matter for the benchmark's difficulty (boxes kept by the evaluation filter, box sizes,
overlapping boxes, fraction of labelled objects that produce few events).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leod_core.cameras import CAMERAS  # noqa: E402
from leod_core.events.dat_io import read_dat  # noqa: E402
from leod_core.synth.simulator import get_synth_preset, write_synth_dataset  # noqa: E402
from leod_core.labels.boxes import box_iou, xywh_to_xyxy  # noqa: E402


def _label_stats(root: Path) -> None:
    cam = CAMERAS["synth"]
    all_boxes, quiet, total, n_tracks = [], 0, 0, np.zeros(cam.num_classes, int)
    overlap_frames = frames = 0
    for bbox_path in sorted(root.rglob("*_bbox.npy")):
        boxes = np.load(bbox_path)
        ev = read_dat(bbox_path.with_name(bbox_path.name.replace("_bbox.npy", "_td.dat"))).events
        all_boxes.append(boxes)
        for c in range(cam.num_classes):
            n_tracks[c] += len(np.unique(boxes["track_id"][boxes["class_id"] == c]))
        # events inside each box during the 50 ms before its label time (vectorised per frame)
        bounds = np.searchsorted(ev["t"], np.unique(boxes["t"])[:, None] + np.array([-50_000, 0]), side="right")
        for (lo, hi), t in zip(bounds, np.unique(boxes["t"])):
            b = boxes[boxes["t"] == t]
            e = ev[lo:hi]
            frames += 1
            inside = ((e["x"][None] >= b["x"][:, None]) & (e["x"][None] < (b["x"] + b["w"])[:, None])
                      & (e["y"][None] >= b["y"][:, None]) & (e["y"][None] < (b["y"] + b["h"])[:, None])).sum(1)
            quiet += int(np.sum(inside < 0.05 * b["w"] * b["h"]))  # < 1 event per 20 px in 50 ms
            total += len(b)
            if len(b) > 1:
                iou = box_iou(xywh_to_xyxy(np.stack([b["x"], b["y"], b["w"], b["h"]], 1)),
                              xywh_to_xyxy(np.stack([b["x"], b["y"], b["w"], b["h"]], 1)))
                overlap_frames += int((np.triu(iou, 1) > 0).any())
    b = np.concatenate(all_boxes)
    keep = ((b["t"] > cam.eval_skip_us) & (b["w"] ** 2 + b["h"] ** 2 >= cam.eval_min_diag ** 2)
            & (b["w"] >= cam.eval_min_side) & (b["h"] >= cam.eval_min_side))
    print(f"label frames {frames}, boxes {len(b)}, kept by the eval filter {keep.sum()} ({keep.mean():.1%})")
    for c, name in enumerate(cam.class_names):
        m = b["class_id"] == c
        print(f"  {name}: {m.sum()} boxes ({(m & keep).sum()} evaluated), median w x h "
              f"{np.median(b['w'][m]):.0f} x {np.median(b['h'][m]):.0f}, tracks {n_tracks[c]}")
    print(f"frames with overlapping boxes: {overlap_frames / max(frames, 1):.1%}; "
          f"boxes with < 1 event / 20 px in the last 50 ms (stopped, low contrast): {quiet / max(total, 1):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dst", default=None, help="keep the dataset here (default: a temporary folder)")
    parser.add_argument("--no-stats", action="store_true", help="skip the label statistics")
    args = parser.parse_args()
    preset = get_synth_preset(args.preset)
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        dst = Path(args.dst) if args.dst else Path(tmp) / "raw"
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            summaries = write_synth_dataset(dst, preset, args.seed, map_fn=pool.map)
        wall = time.perf_counter() - t0
        n_ev = sum(s.n_events for s in summaries)
        dur = sum(s.duration_s for s in summaries)
        rates = np.array([s.n_events / s.duration_s for s in summaries])
        per_class = np.sum([s.n_boxes_per_class for s in summaries], axis=0)
        print(f"preset {preset.name}: {len(summaries)} sequences x {preset.duration_s} s, {args.workers} workers")
        cpu = sum(s.cpu_seconds for s in summaries)
        print(f"wall time {wall:.1f} s; CPU time {cpu:.1f} s summed over sequences (= {cpu / args.workers:.1f} s "
              f"on {args.workers} idle cores); load average before the run {load:.1f}")
        print(f"events {n_ev:,} ({n_ev / dur:,.0f} ev/s of sensor time; per sequence min/median/max "
              f"{rates.min():,.0f} / {np.median(rates):,.0f} / {rates.max():,.0f} ev/s); "
              f"generated at {n_ev / wall:,.0f} ev/s")
        print(f"ego-motion sequences {sum(s.ego_motion for s in summaries)} / {len(summaries)}")
        print("boxes per class: " + ", ".join(f"{n}={c}" for n, c in zip(CAMERAS['synth'].class_names, per_class)))
        size = sum(p.stat().st_size for p in dst.rglob("*") if p.is_file())
        print(f"disk {size / 2**20:.0f} MiB")
        if not args.no_stats:
            _label_stats(dst)


if __name__ == "__main__":
    main()
