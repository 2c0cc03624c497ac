"""One training step of ours beside RVT's own model and YOLOX loss: forward / loss (SimOTA assignment
inside) / backward / optimizer, same weights, same input, same targets, interleaved in one process.

    .venv/bin/python bench/bench_step_rvt.py --rvt-root /tmp/rvt [--presets nano tiny] [--threads 1 2]
        [--steps 20] [--warmup 5] [--batch 8] [--seq-len 5] [--labelled all|last]

``--rvt-root`` is a checkout of uzh-rpg/RVT (never copied into this repository). RVT's ``YoloXDetector``
is built from its own config files by ``bench_model.build_rvt_model`` (inert stand-ins for ``einops`` and
``torchvision`` when they are missing: its training loss needs neither, ``torchvision.ops`` is used only by
``postprocess``); our ``Detector`` of the same preset loads its state dict strictly.

The step of each side is what its training loop does, minus data loading and bookkeeping:
- ours (leod_core.train.step.bptt_forward + loop._step): L x ``forward_backbone``, labelled features
  ``index_select``-ed per time step and concatenated, ``forward_detect`` (PAFPN + head), ``detection_loss``
  with plain YOLOX settings (no ignore boxes, no soft targets), backward, ``clip_grad_value_(1.0)``, AdamW;
- RVT (modules/detection.py training_step): L x ``forward_backbone``, its ``BackboneFeatureSelector``,
  labels as its padded (N, max_boxes, 5) ``yolox`` tensor, ``forward_detect(features, targets)`` (PAFPN,
  head and ``YOLOXHead.get_losses``), backward, ``clip_grad_value_(1.0)`` (train.py's Lightning
  ``gradient_clip_algorithm='value'``), AdamW. Not timed: the ``postprocess`` (NMS) + ``to_prophesee`` that
  RVT's training_step runs on every step's predictions for logging, and our RNN-state store / logging.
Phases: "forward" is everything up to the loss (RVT: ``forward_detect`` minus ``get_losses``); "loss" is
``detection_loss`` / ``get_losses``, of which "assignment" (``simota_assign`` / ``get_assignments``) is a part;
"optimizer" is clipping + ``step`` + ``zero_grad(set_to_none=True)``.

Both sides run in this process alternately, ABBA (ours first on even steps, RVT first on odd ones) so
neither always follows the other, over ``--steps`` steps after ``--warmup``. Each phase gets wall time
(perf_counter) and this process's CPU time (process_time, all threads): on a shared machine CPU time is
disturbed less. "cores busy" = CPU time / wall time over the measured steps; the CPUs that other
processes kept busy meanwhile (/proc/stat less this process) tell how shared the machine was. OpenMP
threads wait passively, as under the leod CLI (bench_step.py does the same).

Before timing, one step's loss and gradients are compared on identical weights and inputs.

A script of its own rather than a mode of bench_step.py: that one times our real ``train_round`` on a
real dataset and label table (loader included), which RVT's model cannot run; this one needs a synthetic,
model-level step that both sides run the same way. Results: docs/results/step_vs_rvt.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_model import build_rvt_model  # noqa: E402
from cpu_facts import busy_cpu_seconds, cpu_info  # noqa: E402

import leod_core.model.losses as losses  # noqa: E402
from leod_core.cameras import get_camera  # noqa: E402
from leod_core.model.presets import build_detector  # noqa: E402

PHASES = ("forward", "loss", "assignment", "backward", "optimizer", "step")
_SIMOTA = losses.simota_assign  # the original, wrapped afresh for each run's clock
CLIP_VALUE = 1.0  # both: leod train.clip_value, RVT training.gradient_clip_val (by value)
LR = 2e-4  # RVT gen1 learning_rate; AdamW, weight decay 0 on both sides


class Clock:
    """Wall and CPU seconds per phase of the current step: ``tick`` closes the phase running since the
    last tick; ``timed`` wraps a function whose time is added to a phase of its own (nested in a ticked one)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._w = self._c = 0.0

    def start(self) -> None:
        self.wall.clear()
        self.cpu.clear()
        self._w, self._c = time.perf_counter(), time.process_time()

    def tick(self, phase: str) -> None:
        w, c = time.perf_counter(), time.process_time()
        self.wall[phase] += w - self._w
        self.cpu[phase] += c - self._c
        self._w, self._c = w, c

    def timed(self, fn: Callable[..., Any], phase: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            w, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[phase] += time.perf_counter() - w
                self.cpu[phase] += time.process_time() - c
        return wrapper


def make_inputs(seq_len: int, batch: int, hw: tuple[int, int], labelled: str, num_classes: int,
                seed: int) -> tuple[torch.Tensor, list[tuple[int, int]], list[np.ndarray], torch.Tensor]:
    """Event histograms (L, B, 20, H, W), labelled (t, b) pairs (t-major), our (N, 7) label arrays and
    RVT's padded yolox label tensor (N, max_boxes, 5) [cls, cx, cy, w, h] for the same boxes."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 6, (seq_len, batch, 20, *hw), generator=g).float()
    rng = np.random.default_rng(seed)
    pairs = ([(seq_len - 1, b) for b in range(batch)] if labelled == "last"
             else [(t, b) for t in range(seq_len) for b in range(batch)])
    ours, boxes = [], []
    for _ in pairs:
        k = int(rng.integers(1, 5))  # 1-4 boxes per frame
        wh = rng.uniform(8, 40, (k, 2))
        xy = rng.uniform(0, 1, (k, 2)) * (np.array(hw[::-1]) - wh)  # top-left, box inside the frame
        cls = rng.integers(0, num_classes, (k, 1))
        ours.append(np.concatenate([xy, wh, cls, np.ones((k, 2))], 1).astype(np.float32))
        boxes.append(np.concatenate([cls, xy + wh / 2, wh], 1).astype(np.float32))
    theirs = torch.zeros(len(pairs), max(len(b) for b in boxes), 5)
    for i, b in enumerate(boxes):
        theirs[i, :len(b)] = torch.from_numpy(b)
    return x, pairs, ours, theirs


class OursStep:
    def __init__(self, model: torch.nn.Module, clock: Clock) -> None:
        self.model, self.clock = model, clock
        self.opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
        self.settings = losses.LossSettings()  # plain YOLOX: what RVT's loss computes
        self.loss_fn = clock.timed(losses.detection_loss, "loss")
        losses.simota_assign = clock.timed(_SIMOTA, "assignment")  # looked up by detection_loss at call time

    def forward_loss(self, x: torch.Tensor, pairs: list, targets: list) -> tuple[torch.Tensor, dict]:
        model, by_t = self.model, defaultdict(list)
        for t, b in pairs:
            by_t[t].append(b)
        states, kept = None, []
        for t in range(x.shape[0]):
            feats, states = model.forward_backbone(x[t], states)
            if t in by_t:
                idx = torch.tensor(by_t[t])
                kept.append({s: feats[s].index_select(0, idx) for s in (2, 3, 4)})
        features = {s: torch.cat([k[s] for k in kept], dim=0) for s in (2, 3, 4)}
        out = model.forward_detect(features)
        loss, parts = self.loss_fn(out, targets, model.num_classes, self.settings)
        return loss, {"loss": loss.detach(), **parts}


class RvtStep:
    def __init__(self, model: torch.nn.Module, clock: Clock) -> None:
        from modules.utils.detection import BackboneFeatureSelector  # type: ignore  # RVT's own

        self.model, self.clock, self.selector = model, clock, BackboneFeatureSelector
        self.opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
        head = model.yolox_head  # instance attributes shadow the methods the head calls on itself
        head.get_losses = clock.timed(head.get_losses, "loss")
        head.get_assignments = clock.timed(head.get_assignments, "assignment")

    def forward_loss(self, x: torch.Tensor, pairs: list, targets: torch.Tensor) -> tuple[torch.Tensor, dict]:
        model, by_t = self.model, defaultdict(list)
        for t, b in pairs:
            by_t[t].append(b)
        selector, prev = self.selector(), None
        for t in range(x.shape[0]):
            feats, prev = model.forward_backbone(x[t], prev)
            if t in by_t:
                selector.add_backbone_features(backbone_features=feats, selected_indices=by_t[t])
        _, parts = model.forward_detect(backbone_features=selector.get_batched_backbone_features(),
                                        targets=targets)
        return parts["loss"], parts


def run_step(side: OursStep | RvtStep, x: torch.Tensor, pairs: list, targets: Any) -> tuple[dict, dict, float]:
    """One timed step: per-phase wall and CPU seconds and the loss. "forward" excludes "loss"; "loss"
    includes "assignment"; "step" is forward + loss + backward + optimizer."""
    clock = side.clock
    clock.start()
    loss, _ = side.forward_loss(x, pairs, targets)
    clock.tick("forward")  # includes loss and assignment so far: removed below
    loss.backward()
    clock.tick("backward")
    torch.nn.utils.clip_grad_value_(side.model.parameters(), CLIP_VALUE)
    side.opt.step()
    side.opt.zero_grad(set_to_none=True)
    clock.tick("optimizer")
    wall, cpu = dict(clock.wall), dict(clock.cpu)
    for d in (wall, cpu):
        d["forward"] -= d.get("loss", 0.0)
        d["step"] = d["forward"] + d["loss"] + d["backward"] + d["optimizer"]
    return wall, cpu, float(loss.detach())


def check_same(ours: OursStep, theirs: RvtStep, x: torch.Tensor, pairs: list, t_ours: list,
               t_rvt: torch.Tensor) -> str:
    """Loss parts and gradients of one step on identical weights and inputs (no optimizer step)."""
    lo, po = ours.forward_loss(x, pairs, t_ours)
    lr_, pr = theirs.forward_loss(x, pairs, t_rvt)
    lo.backward()
    lr_.backward()
    num_gts = sum(len(t) for t in t_ours)
    rows = [f"loss ours {lo.item():.6f} RVT {lr_.item():.6f} (rel diff {abs(lo.item() / lr_.item() - 1):.1e})"]
    for a, b in (("iou_loss", "iou_loss"), ("obj_loss", "conf_loss"), ("cls_loss", "cls_loss")):
        rows.append(f"{a} {po[a].item():.6f} / {pr[b].item():.6f}")
    rows.append(f"num_fg/num_gt {po['num_fg'].item() / num_gts:.4f} / {float(pr['num_fg']):.4f}")
    named = dict(theirs.model.named_parameters())
    worst, name = 0.0, ""
    for n, p in ours.model.named_parameters():
        q = named[n]
        if p.grad is None or q.grad is None:
            continue
        d = ((p.grad - q.grad).abs().max() / q.grad.abs().max().clamp(min=1e-12)).item()
        if d > worst:
            worst, name = d, n
    rows.append(f"max over tensors of max|dgrad|/max|grad| {worst:.1e} ({name})")
    for side in (ours, theirs):
        side.opt.zero_grad(set_to_none=True)
    return "; ".join(rows)


def bench(preset: str, rvt_root: Path, threads: int, steps: int, warmup: int, batch: int, seq_len: int,
          labelled: str, seed: int) -> list[str]:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    cam = get_camera("synth")
    theirs_model = build_rvt_model(rvt_root, preset, cam.input_hw, cam.num_classes).train()
    ours_model = build_detector(preset, cam).train()
    ours_model.load_state_dict(theirs_model.state_dict(), strict=True)
    n_params = sum(p.numel() for p in ours_model.parameters())
    x, pairs, t_ours, t_rvt = make_inputs(seq_len, batch, cam.input_hw, labelled, cam.num_classes, seed)
    clock_o, clock_r = Clock(), Clock()
    sides = {"ours": (OursStep(ours_model, clock_o), t_ours), "rvt": (RvtStep(theirs_model, clock_r), t_rvt)}
    check = check_same(sides["ours"][0], sides["rvt"][0], x, pairs, t_ours, t_rvt)

    keys = ("ours_wall", "ours_cpu", "rvt_wall", "rvt_cpu")
    rec: dict[str, dict[str, list[float]]] = {k: defaultdict(list) for k in keys}
    losses_seen: dict[str, list[float]] = {"ours": [], "rvt": []}
    load0 = os.getloadavg()[0]
    for i in range(warmup + steps):
        if i == warmup:
            busy0, cpu0, wall0 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
        for name in (("ours", "rvt") if i % 2 == 0 else ("rvt", "ours")):
            side, targets = sides[name]
            wall, cpu, loss = run_step(side, x, pairs, targets)
            losses_seen[name].append(loss)
            if i >= warmup:
                for k, v in wall.items():
                    rec[f"{name}_wall"][k].append(v)
                for k, v in cpu.items():
                    rec[f"{name}_cpu"][k].append(v)
    load1 = os.getloadavg()[0]
    others = (busy_cpu_seconds() - busy0 - (time.process_time() - cpu0)) / (time.perf_counter() - wall0)

    def med(key: str, phase: str) -> float:
        return statistics.median(rec[key][phase]) * 1e3 if rec[key][phase] else 0.0

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b > 0 else "-"

    lines = [f"### {preset} ({n_params} params), {threads} thread(s): batch {batch} x L {seq_len} at "
             f"{cam.input_hw[0]}x{cam.input_hw[1]}, {len(pairs)} labelled frames ({labelled}), "
             f"{sum(len(t) for t in t_ours)} boxes; {steps} steps after {warmup} warm-up, ABBA",
             "",
             f"same weights, same input, before any update: {check}",
             "",
             "| phase (median ms/step) | ours wall | RVT wall | ours/RVT | ours CPU | RVT CPU | ours/RVT |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for phase in PHASES:
        ow, rw, oc, rc = (med(k, phase) for k in ("ours_wall", "rvt_wall", "ours_cpu", "rvt_cpu"))
        label = {"assignment": "  of which assignment",
                 "step": "**step** (forward+loss+backward+optimizer)"}.get(phase, phase)
        lines.append(f"| {label} | {ow:.1f} | {rw:.1f} | {ratio(ow, rw)} | {oc:.1f} | {rc:.1f} | {ratio(oc, rc)} |")
    tot = {k: sum(rec[k]["step"]) for k in rec}
    sps_o, sps_r = steps / tot["ours_wall"], steps / tot["rvt_wall"]
    lines.append(f"| steps/s (wall; CPU) | {sps_o:.3f} | {sps_r:.3f} | {ratio(sps_o, sps_r)} | "
                 f"{steps / tot['ours_cpu']:.3f} | {steps / tot['rvt_cpu']:.3f} | "
                 f"{ratio(steps / tot['ours_cpu'], steps / tot['rvt_cpu'])} |")
    lines.append(f"| cores busy (CPU/wall) | {tot['ours_cpu'] / tot['ours_wall']:.2f} | "
                 f"{tot['rvt_cpu'] / tot['rvt_wall']:.2f} | | | | |")
    lines += ["", f"loss over the run: ours {losses_seen['ours'][0]:.4f} -> {losses_seen['ours'][-1]:.4f}, "
                  f"RVT {losses_seen['rvt'][0]:.4f} -> {losses_seen['rvt'][-1]:.4f}; "
                  f"max |ours - RVT| at the same step {max(abs(a - b) for a, b in zip(*losses_seen.values())):.2e}; "
                  f"load average {load0:.2f} -> {load1:.2f}; other processes kept {max(others, 0.0):.2f} "
                  f"of the {os.cpu_count()} CPUs busy during the measured steps", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rvt-root", type=Path, required=True, help="checkout of uzh-rpg/RVT")
    ap.add_argument("--presets", nargs="+", default=["nano"], choices=["nano", "tiny", "small", "base"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=5)
    ap.add_argument("--labelled", choices=["all", "last"], default="all",
                    help="which frames carry boxes: all B x L, or the last time step only")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        ap.error("--steps must be >= 1 and --warmup >= 0")
    # RVT's head calls torch.meshgrid without indexing= and torch.cuda.amp.autocast: harmless here
    warnings.filterwarnings("ignore", message=".*meshgrid.*")
    warnings.filterwarnings("ignore", message=".*torch.cuda.amp.autocast.*")
    print(f"# bench_step_rvt {date.today().isoformat()}: {' '.join(sys.argv[1:])}")
    rev = subprocess.run(["git", "-C", str(args.rvt_root), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True)
    commit = rev.stdout.strip() if rev.returncode == 0 else "an unknown commit (not a git work tree)"
    print(f"RVT: {args.rvt_root} at {commit}")
    for line in cpu_info():
        print(line)
    print(flush=True)
    for preset in args.presets:
        for threads in args.threads:
            for line in bench(preset, args.rvt_root, threads, args.steps, args.warmup, args.batch, args.seq_len,
                              args.labelled, args.seed):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
