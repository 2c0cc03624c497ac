"""``leod evaluate --round K``: Prophesee mAP of a round's checkpoint on the test (or val) split.

Defaults: ckpt = <artifacts>/round_K/model/last.pt, out = <artifacts>/round_K/eval (eval_val for val).
Writes metrics.json, pr_<class>.csv, pr_curves.png and frames/*.png (leod_core.eval.evaluate).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

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
    from flows.commands.evaluate_boxes import print_metrics
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from leod_core.round_layout import check_round

    cfg = load_config(args.params, args.overrides)
    check_round("evaluate", args.round_idx)  # before Prefect starts
    prepare_environment()
    from flows.evaluate import evaluate_flow

    k = args.round_idx
    split = args.split or cfg.eval.split
    metrics = run_flow(evaluate_flow, cfg.orchestration, round_idx=k, params=args.params, overrides=args.overrides,
                       split=split, ckpt=args.ckpt, out=args.out, dataset=args.dataset, device=args.device)
    print_metrics(metrics, cfg.camera.class_names, f"round {k}, {split} split")
    print(f"evaluate round {k}: AP {metrics['AP']:.4f} -> {metrics['out']}")
    return 0
