"""What each way of speeding up a CPU training step buys, A/B on one machine: fp32 (what training does),
bf16 autocast, channels_last memory format, both, and ``torch.compile`` of the backbone (its compile time
printed beside its step time).

One ``nano`` training step on the synthetic camera (128x160, batch 8 x L 5, every frame labelled, AdamW):
forward through L steps of the recurrent backbone, loss with SimOTA assignment, backward, optimizer. The
variants are timed alternately, step by step, so drift in the machine's speed hits them all alike; run it
on an otherwise idle machine. The CPU (instruction set, native bf16, topology) is printed first.

    .venv/bin/python bench/bench_step_variants.py [--threads 2] [--steps 6] [--compile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # as the leod CLI runs

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_facts import cpu_info  # noqa: E402

from leod_core.cameras import get_camera  # noqa: E402
from leod_core.model.presets import build_detector  # noqa: E402

VARIANTS = ("fp32", "bf16", "channels_last", "bf16+channels_last")
BATCH, SEQ_LEN = 8, 5


def _inputs(hw: tuple[int, int]) -> tuple[torch.Tensor, list, list]:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 6, (SEQ_LEN, BATCH, 20, *hw), generator=g).float()
    rng = np.random.default_rng(0)
    pairs = [(t, b) for t in range(SEQ_LEN) for b in range(BATCH)]
    targets = []
    for _ in pairs:
        k = int(rng.integers(1, 5))
        xy, wh = rng.uniform(0, 110, (k, 2)), rng.uniform(8, 40, (k, 2))
        targets.append(np.concatenate([xy, wh, rng.integers(0, 2, (k, 1)), np.ones((k, 2))], 1).astype(np.float32))
    return x, pairs, targets


class Side:
    """One variant: its own model and optimizer (same initial weights), and how it runs a step."""

    def __init__(self, name: str, preset: str) -> None:
        torch.manual_seed(0)
        self.name = name
        self.model = build_detector(preset, get_camera("synth")).train()
        self.channels_last = "channels_last" in name
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.bf16 = "bf16" in name
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=2e-4)
        self.times: list[float] = []

    def step(self, x: torch.Tensor, pairs: list, targets: list) -> float:
        t0 = time.perf_counter()
        frames = [f.contiguous(memory_format=torch.channels_last) if self.channels_last else f for f in x]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            states, feats = None, []
            for f in frames:
                out, states = self.model.forward_backbone(f, states)
                feats.append(out)
            loss, _ = self.model.loss(self.model.gather_features(feats, pairs), targets)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        spent = time.perf_counter() - t0
        self.times.append(spent)
        return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per variant (after 2 warm-up steps)")
    parser.add_argument("--preset", default="nano")
    parser.add_argument("--compile", action="store_true", help="also torch.compile the backbone (minutes)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("\n".join(cpu_info()))
    x, pairs, targets = _inputs(get_camera("synth").input_hw)
    sides = [Side(v, args.preset) for v in VARIANTS]
    if args.compile:
        # a cold compile, as a user's first training run has it (inductor caches its kernels on disk)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-cold-")
        compiled = Side("fp32, compiled backbone", args.preset)
        compiled.model.forward_backbone = torch.compile(compiled.model.forward_backbone)
        t0 = time.perf_counter()
        compiled.step(x, pairs, targets)
        print(f"torch.compile of the backbone: first step {time.perf_counter() - t0:.1f} s (cold compilation included)")
        sides.append(compiled)
    for side in sides:
        for _ in range(2):
            side.step(x, pairs, targets)
        side.times.clear()
    for _ in range(args.steps):
        for side in sides:
            side.step(x, pairs, targets)
    base = statistics.median(sides[0].times)
    print(f"{args.preset}, batch {BATCH} x L {SEQ_LEN}, {args.threads} threads, {args.steps} steps each, alternated:")
    for side in sides:
        med = statistics.median(side.times)
        print(f"  {side.name:<26} {med:.3f} s/step (min {min(side.times):.3f})  {1 / med:.2f} steps/s  "
              f"{base / med:.2f}x fp32")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
