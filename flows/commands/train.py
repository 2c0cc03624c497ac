"""``leod train --round K``: train the detector of one round (resumes a killed run from its checkpoint).

Defaults: labels = <artifacts>/round_K/labels/labels.parquet, out = <artifacts>/round_K/model, init =
<artifacts>/round_{K-1}/model/last.pt when ``train.init_from_previous``. With ``train.devices > 1`` the
command starts itself again under ``torch.distributed.run`` with one process per device.
"""

from __future__ import annotations

import argparse
import os
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
    from flows.settings import load_config
    from leod_core.round_layout import check_round

    cfg = load_config(args.params, args.overrides)
    check_round("train", args.round_idx)  # before Prefect starts
    if "LOCAL_RANK" in os.environ:  # one torchrun rank (started by the train flow): train into --out
        return _train_rank(args, cfg)

    from flows.runtime import prepare_environment, run_flow

    prepare_environment()
    from flows.train import train_flow

    # the flow trains in a resumable work folder (or under torchrun when train.devices > 1), publishes
    # the weights into --out and logs losses to MLflow
    result = run_flow(train_flow, cfg.orchestration, round_idx=args.round_idx, params=args.params,
                      overrides=args.overrides, labels=args.labels, out=args.out, init=args.init,
                      dataset=args.dataset, verbose=getattr(args, "verbose", False))
    resumed = f", resumed at step {result['resumed_from']}" if result.get("resumed_from") else ""
    print(f"train round {args.round_idx}: {result['steps']} steps, final loss {result['final_loss']:.4f}, "
          f"{result['steps_per_s']:.2f} steps/s{resumed} -> {result['weights']}")
    return 0


def _train_rank(args: argparse.Namespace, cfg) -> int:
    """Body of one torchrun process: every rank trains, rank 0 writes ``--out``."""
    from flows.train import resolve_train_paths
    from leod_core.train.loop import train_round

    k = args.round_idx
    labels, out, init = resolve_train_paths(cfg, k, args.labels, args.out, args.init)
    result = train_round(cfg, k, labels, Path(args.dataset or cfg.paths.dataset), out, init_weights=init)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"train round {k} (rank 0): {result.steps} steps, final loss {result.final_loss:.4f} -> {result.weights}")
    return 0
