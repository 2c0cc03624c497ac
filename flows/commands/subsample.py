"""``leod subsample``: write the round-0 sparse label table (WSOD/SSOD) and the withheld ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--out", default=None,
                        help="output folder (default: <paths.artifacts>/round_0/labels)")


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config

    cfg = load_config(args.params, args.overrides)
    prepare_environment()
    from flows.subsample import subsample_flow

    r = run_flow(subsample_flow, cfg.orchestration, params=args.params, overrides=args.overrides, out=args.out)
    sub = cfg.subsample
    print(f"subsample {sub.setting} ratio={sub.ratio:g} split={sub.split_offset} L={cfg.data.sequence_length}: "
          f"kept {r.kept_frames} frames / {r.kept_boxes} boxes in {r.kept_sequences} sequences; "
          f"withheld {r.withheld_frames} frames / {r.withheld_boxes} boxes -> {r.labels.parent}")
    return 0
