"""``leod pseudo-label --round K``: pseudo-label the training split with round K-1's model.

Defaults: ckpt = <artifacts>/round_{K-1}/model/last.pt, kept GT = <artifacts>/round_0/labels/labels.parquet,
dataset = paths.dataset (train split), out = <artifacts>/round_K/labels. Writes ``labels.parquet`` (the
round's label table, checked against the kept GT first) and ``leod_export/`` (LEOD's pseudo-dataset
layout). Sequences run one after another here; the Prefect flow maps them in parallel.
"""

from __future__ import annotations

import argparse
import logging

from flows.cli import add_params_arguments

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--round", type=int, required=True, dest="round_idx", help="round index K >= 1")
    parser.add_argument("--ckpt", default=None, help="checkpoint (default: <artifacts>/round_{K-1}/model/last.pt)")
    parser.add_argument("--out", default=None, help="output folder (default: <artifacts>/round_K/labels)")
    parser.add_argument("--dataset", default=None, help="dataset root (default: paths.dataset)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from leod_core.round_layout import check_round

    cfg = load_config(args.params, args.overrides)
    k = check_round("pseudo_label", args.round_idx)  # before Prefect starts
    prepare_environment()
    from flows.pseudo_label import pseudo_label_flow

    # sequences are mapped as Prefect tasks on the task runner of orchestration.* (threads, Dask)
    counts = run_flow(pseudo_label_flow, cfg.orchestration, round_idx=k, params=args.params,
                      overrides=args.overrides, ckpt=args.ckpt, out=args.out, dataset=args.dataset,
                      device=args.device)
    human = f" + human {counts['human']}" if counts.get("human") else ""
    print(f"pseudo-label round {k}: {counts.get('total', 0)} boxes: gt {counts.get('gt', 0)}{human}, "
          f"pseudo {counts.get('pseudo', 0)} ({counts.get('ignore', 0)} ignore), "
          f"inpainted {counts.get('inpainted', 0)} -> {counts['out']}")
    return 0
