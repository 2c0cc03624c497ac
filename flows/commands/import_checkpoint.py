"""``leod import-checkpoint IN.ckpt OUT.pt``: RVT/LEOD Lightning checkpoint -> leod detector file."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="RVT/LEOD .ckpt (Lightning checkpoint or extracted state dict)")
    parser.add_argument("dst", help="output leod detector file (.pt)")
    parser.add_argument("--preset", default=None, help="tiny | small | base (default: inferred from shapes)")
    parser.add_argument("--camera", default=None, help="gen1 | gen4 | synth or a camera YAML file (default: by class count: 2 gen1, 3 gen4, 7 gen4 all classes)")


def run(args: argparse.Namespace) -> int:
    from leod_core.model.checkpoint_io import import_checkpoint

    model = import_checkpoint(args.src, args.dst, preset=args.preset, camera=args.camera)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"imported {args.src}: preset {model.preset}, camera {model.camera}, params {n_params} -> {args.dst}")
    return 0
