"""``leod predict`` throughput: 50 ms windows/s of nano and tiny on this CPU, without and with ``--video``.

Usage: .venv/bin/python bench/bench_predict.py [--seconds 10] [--presets nano tiny] [--threads 1]
                                               [--train-steps 30] [--ckpt PRESET=PATH ...] [--repeats 2]
                                               [--score-threshold 0.1]
1. The synthetic camera writes one raw test recording of ``--seconds`` (a ``*_td.dat`` + ``*_bbox.npy``) and
   two training recordings; they are imported.
2. Per preset, a detector: ``--ckpt PRESET=PATH``, else the real training loop for ``--train-steps`` steps on
   the imported training recordings (random weights predict no box at all, which would hide the cost of
   drawing them).
3. ``predict_recording`` on the raw test recording (decode + histograms + detector + writers), best of
   ``--repeats``, without video and with an MP4 (GT panel beside: the recording has labels); the video's
   cost is the extra wall and CPU time (all threads) in %, with the number of boxes drawn per frame (boxes scoring >= ``--score-threshold``;
   a few-step detector scores below the default 0.3 of ``predict.score_threshold`` and would draw none).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from leod_core.cameras import get_camera
from leod_core.config import PredictConfig
from flows.settings import load_config
from leod_core.events.prophesee_import import import_dataset
from leod_core.layout import labels_full_path
from leod_core.predict.run import load_predictor, predict_recording
from leod_core.synth.presets import get_synth_preset
from leod_core.synth.simulator import write_synth_dataset
from leod_core.train.loop import train_round


def _train(preset: str, dataset: Path, out: Path, steps: int, threads: int) -> Path:
    cfg = load_config(None, ["dataset.camera=synth", f"model.preset={preset}", f"train.steps={steps}",
                             "train.lr=3e-3", "train.pct_start=0.1", f"train.ckpt_every={steps + 1}",
                             f"train.threads={threads}", "data.batch_size=4", "data.sequence_length=3"])
    t0 = time.perf_counter()
    res = train_round(cfg, 0, labels_full_path(dataset, "train"), dataset, out)
    print(f"{preset}: trained {steps} steps in {time.perf_counter() - t0:.0f} s")
    return res.weights


def _best(model, rec: Path, camera, out: Path, cfg: PredictConfig, video: bool, repeats: int):
    """(result, CPU seconds of all threads) of the fastest of ``repeats`` runs."""
    best = None
    for _ in range(repeats):
        c0 = time.process_time()
        res = predict_recording(model, rec, camera, out, cfg, video=video)
        cpu = time.process_time() - c0
        best = (res, cpu) if best is None or res.seconds < best[0].seconds else best
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of the test recording")
    p.add_argument("--presets", nargs="+", default=["nano", "tiny"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--train-steps", type=int, default=30)
    p.add_argument("--ckpt", action="append", default=[], metavar="PRESET=PATH")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--score-threshold", type=float, default=0.1, help="boxes drawn (predict.score_threshold)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ckpts = dict(c.split("=", 1) for c in a.ckpt)
    cam = get_camera("synth")
    cfg = PredictConfig(score_threshold=a.score_threshold)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        preset = dataclasses.replace(get_synth_preset("micro"), n_train=2, n_val=0, n_test=1, duration_s=a.seconds)
        write_synth_dataset(tmp / "raw", preset, seed=0)
        import_dataset(tmp / "raw", tmp / "ds", cam)
        rec = next((tmp / "raw" / "test").glob("*_td.dat"))
        for name in a.presets:
            ckpt = ckpts.get(name) or _train(name, tmp / "ds", tmp / f"model_{name}", a.train_steps, a.threads)
            model, _ = load_predictor(ckpt, cam)
            torch.set_num_threads(a.threads)  # training set its own count
            predict_recording(model, rec, cam, tmp / "warm", cfg)  # warm-up (numba, allocator)
            plain, plain_cpu = _best(model, rec, cam, tmp / "plain", cfg, False, a.repeats)
            video, video_cpu = _best(model, rec, cam, tmp / "video", cfg, True, a.repeats)
            drawn = int((pd.read_parquet(plain.files[1])["score"] >= cfg.score_threshold).sum())
            size = (tmp / "video" / f"{plain.name}.mp4").stat().st_size
            print(f"{name} ({torch.get_num_threads()} thread(s), {cam.repr_hw[0]}x{cam.repr_hw[1]}, {plain.frames} "
                  f"windows of a {a.seconds:g} s recording): predict {plain.frames_per_s:.1f} windows/s, with --video "
                  f"{video.frames_per_s:.1f} windows/s (+{100 * (video.seconds / plain.seconds - 1):.1f} % wall time, "
                  f"+{100 * (video_cpu / plain_cpu - 1):.1f} % CPU time: {1e3 * plain_cpu / plain.frames:.1f} -> "
                  f"{1e3 * video_cpu / video.frames:.1f} ms a window; {drawn / max(plain.predicted, 1):.1f} boxes drawn "
                  f"per frame, MP4 {size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
