"""Model benchmarks (prints numbers; not run by pytest).

1. Streaming inference latency per frame (batch 1, LSTM states carried) of each preset at Gen1 input
   256x320 on this CPU; with ``--rvt-root`` (a checkout of uzh-rpg/RVT) RVT's own ``YoloXDetector`` is
   built with the same weights and timed in the same run (interleaved), and the outputs are compared.
Times are CPU seconds of this process (``time.process_time``): on a shared machine they stay close to
what an idle core would give, unlike wall time. Keep ``--threads 1`` there: oversubscribed OpenMP threads
spin and slow down by an order of magnitude.

2. One ``nano`` training step on the synthetic camera (128x160, batch 8 x L 5, AdamW): time and peak RSS.

RVT's model code imports ``einops`` and ``torchvision`` only for things the forward pass does not use;
when they are missing, inert stand-ins are put in ``sys.modules`` of this process (never installed).

    .venv/bin/python bench/bench_model.py --rvt-root /tmp/rvt --threads 1
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

from leod_core.cameras import get_camera
from leod_core.model.presets import PRESETS, build_detector

def _inert(module: str):
    """Module-level __getattr__ handing out functions that raise when called (never at import)."""
    def getattr_(attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)

        def unavailable(*_a, **_k):
            raise NotImplementedError(f"{module}.{attr} is a benchmark stand-in")
        return unavailable
    return getattr_


def _stub_missing(names: list[str]) -> None:
    for name in names:
        try:
            __import__(name)
        except ImportError:
            mod = types.ModuleType(name)
            mod.__getattr__ = _inert(name)
            sys.modules[name] = mod
            if name == "torchvision":
                ops = types.ModuleType("torchvision.ops")
                ops.__getattr__ = _inert("torchvision.ops")
                sys.modules["torchvision.ops"] = ops
                mod.ops = ops


def build_rvt_model(rvt_root: Path, preset: str, input_hw: tuple[int, int], num_classes: int) -> torch.nn.Module:
    """RVT's YoloXDetector from its own config files (Gen1 partition split 1)."""
    from omegaconf import OmegaConf

    _stub_missing(["einops", "torchvision"])
    sys.path.insert(0, str(rvt_root))
    from models.detection.yolox_extension.models.detector import YoloXDetector  # type: ignore

    cfg = OmegaConf.load(rvt_root / "config/model/maxvit_yolox/default.yaml").model
    widths = PRESETS[preset]  # RVT's tiny/small/base widths; nano is the same architecture, narrower
    cfg.backbone.embed_dim = widths.embed_dim
    cfg.backbone.stage.attention.dim_head = widths.dim_head
    cfg.fpn.depth = widths.fpn_depth
    cfg.backbone.partition_split_32 = 1
    cfg.backbone.stage.attention.partition_size = [x // 32 for x in input_hw]
    cfg.head.num_classes = num_classes
    for part in (cfg.backbone, cfg.fpn, cfg.head):
        del part["compile"]
    return YoloXDetector(cfg)


def _time_frames(model: torch.nn.Module, xs: list[torch.Tensor], start: int, n: int,
                 state: object) -> tuple[list[float], list[torch.Tensor], object]:
    """Stream ``n`` frames through ``model`` (states carried); CPU seconds and raw head output per frame."""
    times, outs = [], []
    for i in range(start, start + n):
        t0 = time.process_time()
        feats, state = model.forward_backbone(xs[i % len(xs)], state)
        out = model.forward_detect(feats)
        times.append(time.process_time() - t0)
        outs.append(out.preds if hasattr(out, "preds") else out[0])
    return times, outs, state


def bench_inference(preset: str, rvt_root: Path | None, frames: int, block: int) -> None:
    """Per-frame latency; with RVT, the two models alternate in blocks of ``block`` frames.

    Steady state (what a streaming detector sees): the first frame of each block is dropped, since the
    other model has just evicted this one's weights from the 32 MiB L3 (tiny: 17.6 MB of fp32 weights
    each). ``block=1`` alternates every frame: every frame starts cold, reported as well.
    """
    cam = get_camera("gen1")
    ours = build_detector(preset, cam).eval()
    theirs = None
    if rvt_root is not None:
        theirs = build_rvt_model(rvt_root, preset, cam.input_hw, cam.num_classes).eval()
        ours.load_state_dict(theirs.state_dict(), strict=True)
    g = torch.Generator().manual_seed(0)
    xs = [torch.randint(0, 11, (1, 20, *cam.input_hw), generator=g).float() for _ in range(4)]
    models = {"ours": ours} if theirs is None else {"ours": ours, "rvt": theirs}
    line = f"{preset:6s} params {sum(p.numel() for p in ours.parameters()):>9d}"
    for mode, n_block, drop in (("steady", max(block, 2), 1), ("cold", 1, 0)):
        times: dict[str, list[float]] = {k: [] for k in models}
        outs: dict[str, list[torch.Tensor]] = {k: [] for k in models}
        states: dict[str, object] = dict.fromkeys(models)
        with torch.inference_mode():
            for start in range(0, frames, n_block):
                for name, model in models.items():
                    t, o, states[name] = _time_frames(model, xs, start, n_block, states[name])
                    times[name] += t[drop:] if start else t[2:]  # the first block also warms up allocators
                    outs[name] += o
        ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        line += f"  {mode}: ours {ms['ours']:6.1f}"
        if theirs is not None:
            line += f" RVT {ms['rvt']:6.1f} CPU-ms/frame ratio {ms['ours'] / ms['rvt']:.2f}"
    if theirs is not None:  # the same frames in the same order: outputs must agree
        prob = max((a[..., 4:].sigmoid() - b[..., 4:]).abs().max().item() for a, b in zip(outs["ours"], outs["rvt"]))
        box = max(((a[..., :4] - b[..., :4]).abs() / b[..., :4].abs().clamp(min=1)).max().item()
                  for a, b in zip(outs["ours"], outs["rvt"]))
        line += f"  max |dprob| {prob:.1e}  max rel |dbox| {box:.1e}"
    print(line, flush=True)


def _run_parts(model: torch.nn.Module, x: torch.Tensor, states: list, ours: bool,
               acc: dict[str, list[float]]) -> list:
    """One frame, stage by stage; the CPU time of each part (summed over stages) is appended to ``acc``."""
    frame: dict[str, float] = {}

    def tick(key: str, t0: float) -> float:
        t = time.process_time()
        frame[key] = frame.get(key, 0.0) + t - t0
        return t

    t = time.process_time()
    if ours:  # our backbone's first step; RVT's stem conv takes NCHW input as it is
        x = x.contiguous(memory_format=torch.channels_last)
    t = tick("stem", t)
    feats, new_states = {}, []
    for i, stage in enumerate(model.backbone.stages):
        y = stage.downsample_cf2cl(x)
        t = tick("stem" if i == 0 else "downsample 2-4", t)
        y = stage.att_blocks[0].att_grid(stage.att_blocks[0].att_window(y))
        t = tick("attention blocks", t)
        state = stage.lstm(y, states[i]) if ours else stage.lstm(y.permute(0, 3, 1, 2), states[i])
        t = tick("lstm", t)
        x = feats[i + 1] = state[0]
        new_states.append(state)
    pyramid = model.fpn(feats)
    t = tick("pafpn", t)
    model.yolox_head(pyramid)
    tick("head", t)
    for key, dt in frame.items():
        acc.setdefault(key, []).append(dt)
    return new_states


def bench_parts(preset: str, rvt_root: Path, frames: int) -> None:
    """Median CPU ms per frame of each part, ours vs RVT (blocks of 8 frames, first of each dropped)."""
    cam = get_camera("gen1")
    theirs = build_rvt_model(rvt_root, preset, cam.input_hw, cam.num_classes).eval()
    ours = build_detector(preset, cam).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    g = torch.Generator().manual_seed(0)
    xs = [torch.randint(0, 11, (1, 20, *cam.input_hw), generator=g).float() for _ in range(4)]
    acc: dict[str, dict[str, list[float]]] = {"ours": {}, "rvt": {}}
    states = {"ours": [None] * 4, "rvt": [None] * 4}
    with torch.inference_mode():
        for start in range(0, frames, 8):
            for name, model in (("ours", ours), ("rvt", theirs)):
                for i in range(8):
                    part = {} if i == 0 else acc[name]  # the first frame of a block warms the caches
                    states[name] = _run_parts(model, xs[(start + i) % 4], states[name], name == "ours", part)
    print(f"{preset} parts (CPU-ms/frame, median)     ours     RVT")
    for key in acc["ours"]:
        a, b = (statistics.median(acc[k][key]) * 1e3 for k in ("ours", "rvt"))
        print(f"  {key:32s} {a:7.2f} {b:7.2f}")


def bench_train_step(preset: str, steps: int, batch: int, seq_len: int, labelled: str) -> None:
    cam = get_camera("synth")
    model = build_detector(preset, cam).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
    rng = np.random.default_rng(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 6, (seq_len, batch, 20, *cam.input_hw), generator=g).float()
    pairs = ([(seq_len - 1, b) for b in range(batch)] if labelled == "last"
             else [(t, b) for t in range(seq_len) for b in range(batch)])
    targets = []
    for _ in pairs:
        k = int(rng.integers(1, 5))
        xy, wh = rng.uniform(0, 110, (k, 2)), rng.uniform(8, 40, (k, 2))
        targets.append(np.concatenate([xy, wh, rng.integers(0, 2, (k, 1)), np.ones((k, 2))], 1).astype(np.float32))
    times, cpu_times = [], []
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        states, feats = None, []
        for t in range(seq_len):
            f, states = model.forward_backbone(x[t], states)
            feats.append(f)
        loss, _ = model.loss(model.gather_features(feats, pairs), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_params = sum(p.numel() for p in model.parameters())
    print(f"train step {preset} ({n_params} params) B {batch} x L {seq_len} at {cam.input_hw[0]}x{cam.input_hw[1]}, "
          f"labelled={labelled}: wall median {statistics.median(times[1:]):.3f} s (min {min(times[1:]):.3f}), "
          f"CPU time median {statistics.median(cpu_times[1:]):.3f} s, "
          f"peak RSS {peak_mb:.0f} MB (+{(peak_mb - rss0 / 1024):.0f} MB)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rvt-root", type=Path, default=None, help="checkout of uzh-rpg/RVT to compare with")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--presets", nargs="*", default=["tiny", "small", "base"], choices=list(PRESETS))
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--parts", action="store_true", help="also time each part vs RVT (needs --rvt-root)")
    ap.add_argument("--block", type=int, default=10, help="frames per model before switching (steady state)")
    ap.add_argument("--train-preset", default="nano", choices=list(PRESETS))
    ap.add_argument("--train-steps", type=int, default=4, help="0 or 1: no training-step benchmark")
    ap.add_argument("--train-threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), Gen1 input 256x320, batch 1, streaming")
    for preset in args.presets:
        bench_inference(preset, args.rvt_root, args.frames, args.block)
        if args.parts and args.rvt_root is not None:
            bench_parts(preset, args.rvt_root, args.frames)
    torch.set_num_threads(args.train_threads)
    for labelled in ("last", "all") if args.train_steps > 1 else ():
        bench_train_step(args.train_preset, args.train_steps, 8, 5, labelled)


if __name__ == "__main__":
    main()
