"""Training throughput: steps/s and peak memory of the real training loop, and the projected round time.

Usage: .venv/bin/python bench/bench_train.py [--preset nano] [--batch 8] [--L 10 5] [--steps 6] [--warmup 2]
                                             [--labels sparse|dense] [--dataset DIR --table FILE] [--threads 2]
Runs ``run_training`` (AdamW, OneCycle, clipping, truncated BPTT, checkpoint writes off the clock) on
- random tensors shaped like synth-camera histograms (default), with ``--labels sparse`` = round 0 WSOD
  (each random-access sample labelled at its last step, stream samples at 10% of steps) or ``dense`` =
  self-training rounds (pseudo labels at every step); or
- a real dataset and label table (``--dataset`` + ``--table``) through the mixed loader.
Prints one line per L: wall steps/s, wall and CPU seconds per step, peak memory (max RSS on CPU), and the
projected time of ``train.steps`` steps. On a shared machine the wall rate depends on the load; with
``--threads 1`` the CPU seconds per step are the step time on an idle core.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from leod_core.cameras import get_camera
from flows.settings import load_config
from leod_core.data.batch import TrainBatch
from leod_core.model.presets import build_detector
from leod_core.train.checkpoint import ModelSpec
from leod_core.train.loop import run_training


class RandomBatches:
    """Endless mixed batches of random sparse histograms (stream slots first, random samples second)."""

    def __init__(self, L: int, batch: int, camera: str, dense: bool, seed: int = 0) -> None:
        self.cam = get_camera(camera)
        self.L, self.B, self.dense = L, batch, dense
        self.rng = np.random.default_rng(seed)
        self.step = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]

    def __iter__(self):
        while True:
            yield self._batch()

    def _batch(self) -> TrainBatch:
        hp, wp = self.cam.input_hw
        h, w = self.cam.repr_hw
        n_stream = self.B - self.B // 2
        ev = torch.zeros(self.L, self.B, 20, hp, wp)
        ev[..., :h, :w] = torch.from_numpy(
            (self.rng.random((self.L, self.B, 20, h, w), dtype=np.float32) < 0.05) * 3.0)
        labels = [[None] * self.B for _ in range(self.L)]
        for t in range(self.L):
            for b in range(self.B):
                last_random = b >= n_stream and t == self.L - 1
                if self.dense or last_random or (b < n_stream and self.rng.random() < 0.1):
                    labels[t][b] = self._boxes(h, w)
        first = self.step % 20 == 0
        self.step += 1
        return TrainBatch(ev=ev, labels=labels, is_first=torch.tensor([first] * n_stream + [True] * (self.B - n_stream)),
                          is_padded=torch.zeros(self.L, self.B, dtype=torch.bool),
                          state_keys=[(0, s) for s in range(n_stream)] + [None] * (self.B - n_stream))

    def _boxes(self, h: int, w: int) -> np.ndarray:
        n = int(self.rng.integers(1, 6))
        out = np.zeros((n, 7), dtype=np.float32)
        out[:, 2] = self.rng.uniform(8, 40, n)
        out[:, 3] = self.rng.uniform(8, 40, n)
        out[:, 0] = self.rng.uniform(0, w - out[:, 2])
        out[:, 1] = self.rng.uniform(0, h - out[:, 3])
        out[:, 4] = self.rng.integers(0, self.cam.num_classes, n)
        out[:, 5:] = 1.0
        return out


def bench_one(args: argparse.Namespace, L: int) -> dict:
    cfg = load_config(args.params if Path(args.params).exists() else None,
                      [f"model.preset={args.preset}", f"data.batch_size={args.batch}", f"data.sequence_length={L}",
                       f"train.steps={args.warmup + args.steps}", "train.ckpt_every=100000",
                       f"dataset.camera={args.camera}"])
    torch.manual_seed(0)
    model = build_detector(cfg.model.preset, cfg.camera)
    if args.dataset:
        from leod_core.data.mixed import build_train_loader
        loader = build_train_loader(cfg, args.table, args.dataset)
    else:
        loader = RandomBatches(L, args.batch, args.camera, dense=args.labels == "dense")
    stamps: list[tuple[float, float]] = []  # (wall, process CPU) at the end of each step
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        run_training(cfg, 0, model, ModelSpec(cfg.model.preset, args.camera), loader, tmp, device=device,
                     callback=lambda step, m: stamps.append((time.perf_counter(), time.process_time())))
    timed = stamps[args.warmup:]  # stamps[i] = end of step i+1; time steps warmup+1 .. end
    n = len(timed) - 1
    if n < 1:
        raise SystemExit("need --steps >= 2")
    steps_per_s = n / (timed[-1][0] - timed[0][0])
    # CPU seconds per step: with --threads 1 this is the step time on an idle core, whatever else runs
    cpu_s_per_step = (timed[-1][1] - timed[0][1]) / n
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    default_steps = load_config(args.params if Path(args.params).exists() else None).train.steps
    return {"L": L, "steps_per_s": steps_per_s, "s_per_step": 1 / steps_per_s, "cpu_s_per_step": cpu_s_per_step,
            "peak_mib": peak,
            "round_steps": default_steps, "round_min": default_steps / steps_per_s / 60}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="nano")
    p.add_argument("--camera", default="synth")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--L", type=int, nargs="+", default=[10, 5])
    p.add_argument("--steps", type=int, default=6, help="timed steps")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--labels", choices=("sparse", "dense"), default="sparse")
    p.add_argument("--dataset", default=None, help="dataset root (with --table): use the real mixed loader")
    p.add_argument("--table", default=None, help="label table for --dataset")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--params", default="params.yaml")
    args = p.parse_args(argv)
    if bool(args.dataset) != bool(args.table):
        p.error("--dataset and --table go together")
    if args.threads:
        torch.set_num_threads(args.threads)
    src = f"dataset {args.dataset}" if args.dataset else f"random tensors ({args.labels} labels)"
    print(f"# bench_train: preset={args.preset} camera={args.camera} batch={args.batch} device={args.device} "
          f"threads={torch.get_num_threads()} source={src} torch={torch.__version__} "
          f"load={os.getloadavg()[0]:.1f}", flush=True)
    if args.device.startswith("cuda"):
        print(f"# gpu: {torch.cuda.get_device_name()}")
    for L in args.L:
        r = bench_one(args, L)
        print(f"L={r['L']:>3}  {r['steps_per_s']:.3f} steps/s  {r['s_per_step']:.2f} s/step (wall)  "
              f"{r['cpu_s_per_step']:.2f} s/step (CPU)  peak {r['peak_mib']:.0f} MiB  "
              f"-> {r['round_steps']} steps = {r['round_min']:.1f} min at the wall rate", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
