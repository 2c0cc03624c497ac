"""``leod evaluate --round K``: Prophesee mAP of a round's checkpoint on the test (or val) split.

Defaults: ckpt = <artifacts>/round_K/model/last.pt, out = <artifacts>/round_K/eval (eval_val for val).
Writes metrics.json, pr_<class>.csv, pr_curves.png and frames/*.png (leod_core.eval.evaluate).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from flows.cli import add_params_arguments

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--round", type=int, required=True, dest="round_idx", help="round index K")
    parser.add_argument("--split", choices=["test", "val"], default=None, help="split (default: eval.split)")
    parser.add_argument("--ckpt", default=None, help="checkpoint (default: <artifacts>/round_K/model/last.pt)")
    parser.add_argument("--out", default=None, help="output folder (default: <artifacts>/round_K/eval[_val])")
    parser.add_argument("--dataset", default=None, help="dataset root (default: paths.dataset)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")


def run(args: argparse.Namespace) -> int:
    import torch

    from flows.commands.evaluate_boxes import print_metrics
    from leod_core.config import load_config
    from leod_core.eval.evaluate import evaluate_round
    from leod_core.train.checkpoint import load_detector

    cfg = load_config(args.params, args.overrides)
    if args.round_idx < 0:
        raise ValueError(f"--round must be >= 0, got {args.round_idx}")
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    split = args.split or cfg.eval.split
    k = args.round_idx
    ckpt = Path(args.ckpt) if args.ckpt else cfg.round_dir(k) / "model" / "last.pt"
    if not ckpt.is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt}")
    out = Path(args.out) if args.out else cfg.round_dir(k) / ("eval" if split == "test" else "eval_val")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_detector(ckpt, map_location=device)
    if model.camera and model.camera != cfg.dataset.camera:
        raise ValueError(f"{ckpt}: model was trained for camera {model.camera!r}, params say {cfg.dataset.camera!r}")

    def progress(done: int, total: int) -> None:
        log.info("evaluate round %d: %d/%d sequences", k, done, total)

    eval_cfg = dataclasses.replace(cfg.eval, split=split)
    metrics = evaluate_round(model, Path(args.dataset or cfg.paths.dataset), split, cfg.camera, eval_cfg, out,
                             progress=progress, seq_len=cfg.data.sequence_length, device=device)
    print_metrics(metrics, cfg.camera.class_names, f"round {k}, {split} split ({ckpt})")
    print(f"evaluate round {k}: AP {metrics['AP']:.4f} -> {out}")
    return 0
