"""``leod train --round K``: train the detector of one round (resumes a killed run from its checkpoint).

Defaults: labels = <artifacts>/round_K/labels/labels.parquet, out = <artifacts>/round_K/model, init =
<artifacts>/round_{K-1}/model/last.pt when ``train.init_from_previous``. With ``train.devices > 1`` the
command starts itself again under ``torch.distributed.run`` with one process per device.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from flows.cli import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--round", type=int, required=True, dest="round_idx", help="round index K (0 = supervised)")
    parser.add_argument("--labels", default=None, help="label table (default: <artifacts>/round_K/labels/labels.parquet)")
    parser.add_argument("--out", default=None, help="output folder (default: <artifacts>/round_K/model)")
    parser.add_argument("--init", default=None,
                        help="initial weights (default: round K-1's last.pt when train.init_from_previous)")
    parser.add_argument("--dataset", default=None, help="dataset root (default: paths.dataset)")


def run(args: argparse.Namespace) -> int:
    from leod_core.config import load_config

    cfg = load_config(args.params, args.overrides)
    if args.round_idx < 0:
        raise ValueError(f"--round must be >= 0, got {args.round_idx}")
    if cfg.train.devices > 1 and "LOCAL_RANK" not in os.environ:
        return _relaunch(args, cfg.train.devices)

    from leod_core.train.loop import train_round

    k = args.round_idx
    labels = Path(args.labels) if args.labels else cfg.round_dir(k) / "labels" / "labels.parquet"
    out = Path(args.out) if args.out else cfg.round_dir(k) / "model"
    init = Path(args.init) if args.init else None
    if init is None and cfg.train.init_from_previous and k >= 1:
        init = cfg.round_dir(k - 1) / "model" / "last.pt"
    if init is not None and not init.is_file():
        raise FileNotFoundError(f"initial weights not found: {init}")
    result = train_round(cfg, k, labels, Path(args.dataset or cfg.paths.dataset), out, init_weights=init)
    if int(os.environ.get("RANK", "0")) == 0:
        resumed = f", resumed at step {result.resumed_from}" if result.resumed_from else ""
        print(f"train round {k}: {result.steps} steps, final loss {result.final_loss:.4f}, "
              f"{result.steps_per_s:.2f} steps/s{resumed} -> {result.weights}")
    return 0


def _relaunch(args: argparse.Namespace, nproc: int) -> int:
    """Run this same command under torchrun, one process per device; returns torchrun's exit code."""
    from leod_core.train.ddp import torchrun_command

    argv = ["train", "--round", str(args.round_idx), "--params", args.params]
    for over in args.overrides:
        argv += ["-S", over]
    for flag in ("labels", "out", "init", "dataset"):
        if getattr(args, flag):
            argv += [f"--{flag}", str(getattr(args, flag))]
    if getattr(args, "verbose", False):
        argv.insert(0, "-v")
    return subprocess.call(torchrun_command(nproc, "flows.cli", argv))
