"""Throughput of the mixed training loader: clips/s and batches/s on a preprocessed dataset folder.

Usage:
    .venv/bin/python bench/bench_loader.py [DATASET] [--camera synth] [--ratio 0.05] [--setting wsod]
        [--batch-size 8] [--L 10] [--batches 50] [--workers 0] [--no-augment] [--uint8]
    .venv/bin/python bench/bench_loader.py --fake gen1 --fake-seqs 4 --fake-reprs 200   # no dataset needed

DATASET defaults to data/dataset (RVT layout + train/labels_full.parquet). ``--fake CAMERA`` writes a
temporary dataset of random representations (Blosc-zstd HDF5 like RVT) at that camera's resolution.
The round-0 label table is made with the same WSOD/SSOD sub-sampling as ``leod subsample``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from leod_core.cameras import get_camera
from leod_core.config import AugmentConfig
from leod_core.data.mixed import MixedLoader
from leod_core.data.sequence import load_train_sequences
from leod_core.labels.subsample import subsample_table
from leod_core.labels.table import read_labels, validate_labels
from leod_core.layout import SequencePaths, labels_full_path


def write_fake_dataset(root: Path, camera_name: str, num_seqs: int, num_reprs: int, seed: int = 0) -> pd.DataFrame:
    """Random sparse event reprs (~5% non-zero, like real event frames) and one box per label frame."""
    from leod_core.events.h5_store import write_representations

    camera = get_camera(camera_name)
    rng = np.random.default_rng(seed)
    h, w = camera.repr_hw
    sh, sw = camera.sensor_hw
    rows = []
    for s in range(num_seqs):
        paths = SequencePaths(root / "train" / f"seq_{s:03d}", camera)
        paths.repr_dir.mkdir(parents=True, exist_ok=True)
        frames = (rng.random((num_reprs, 20, h, w)) < 0.05).astype(np.uint8) * rng.integers(1, 10, (1, 20, h, w),
                                                                                              dtype=np.uint8)
        write_representations(paths.repr_h5, list(frames), (h, w))
        np.save(paths.repr_timestamps, (np.arange(num_reprs, dtype=np.int64) + 1) * 50_000)
        for r in range(2, num_reprs, 2):  # labels at 10 Hz
            x, y = rng.uniform(0, sw - 60), rng.uniform(0, sh - 60)
            rows.append(dict(sequence=paths.name, frame_idx=r, t=(r + 1) * 50_000, x=x, y=y, w=50.0, h=40.0,
                             class_id=int(rng.integers(camera.num_classes)), class_confidence=1.0, objectness=1.0,
                             is_gt=True, track_id=-1, source="gt"))
    return validate_labels(pd.DataFrame(rows))


def run(root: Path, full: pd.DataFrame, camera_name: str, args: argparse.Namespace) -> None:
    camera = get_camera(camera_name)
    kept, withheld = subsample_table(full, args.setting, args.ratio, args.L, 0)
    seqs = load_train_sequences(root, "train", camera, kept, withheld)
    augment = None if args.no_augment else AugmentConfig()
    for w_stream, w_random, name in ((1.0, 1.0, "mixed"), (1.0, 0.0, "stream only"), (0.0, 1.0, "random only")):
        loader = MixedLoader(seqs, camera, args.L, args.batch_size, w_stream, w_random, seed=0,
                             sparse=args.setting == "wsod", augment=augment, num_workers=args.workers,
                             ev_dtype=torch.uint8 if args.uint8 else torch.float32)
        it = iter(loader)
        next(it)  # warm-up: opens files, builds the first plans, starts workers
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in itertools.islice(it, args.batches):
            pass
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0  # CPU time: robust on a shared machine
        clips = args.batches * args.batch_size
        print(f"{name:12s} B={args.batch_size} ({loader.bs_stream} stream + {loader.bs_random} random) L={args.L} "
              f"{camera.name} {camera.repr_hw[0]}x{camera.repr_hw[1]} workers={args.workers} "
              f"{'uint8' if args.uint8 else 'float32'}: "
              f"{args.batches / dt:7.2f} batches/s  {clips / dt:8.1f} clips/s  {clips * args.L / dt:9.1f} reprs/s  "
              f"(main-process CPU {1000 * cpu / args.batches:.0f} ms/batch)")
        loader.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", nargs="?", default="data/dataset")
    p.add_argument("--camera", default="synth")
    p.add_argument("--setting", default="wsod", choices=["wsod", "ssod"])
    p.add_argument("--ratio", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--L", type=int, default=10)
    p.add_argument("--batches", type=int, default=50)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--uint8", action="store_true", help="collate uint8 batches (opt-in) instead of float32")
    p.add_argument("--fake", metavar="CAMERA", help="benchmark on a temporary random dataset of this camera")
    p.add_argument("--fake-seqs", type=int, default=4)
    p.add_argument("--fake-reprs", type=int, default=200)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.fake:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            full = write_fake_dataset(Path(tmp), args.fake, args.fake_seqs, args.fake_reprs)
            print(f"fake {args.fake} dataset: {args.fake_seqs} x {args.fake_reprs} reprs "
                  f"written in {time.perf_counter() - t0:.1f} s")
            run(Path(tmp), full, args.fake, args)
        return
    root = Path(args.dataset)
    run(root, read_labels(labels_full_path(root, "train")), args.camera, args)


if __name__ == "__main__":
    main()
