"""``leod suggest-frames --round K --budget N``: which unlabelled frames a person should label first.

Runs round K's pseudo-labelling pass (round K-1's model, every test-time view, the track filter) over the
train split and ranks the label frames that round 0's table leaves unlabelled by three signals: views
that disagree, boxes the tracker rejected or inpainted, and score mass under the pseudo-label
thresholds. Picks lie 1 s apart within a sequence unless the budget needs closer ones. Writes a Parquet
frame list (default <artifacts>/labelling/round_K/suggestions.parquet) for ``leod export-labels``.
"""

from __future__ import annotations

import argparse

from flows.cli_args import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--round", type=int, required=True, dest="round_idx",
                        help="round K >= 1: signals of its pseudo-labelling, with round K-1's model")
    parser.add_argument("--budget", type=int, required=True, help="number of frames to suggest (>= 1)")
    parser.add_argument("--out", default=None,
                        help="frame list (default: <artifacts>/labelling/round_K/suggestions.parquet)")
    parser.add_argument("--ckpt", default=None, help="checkpoint (default: <artifacts>/round_{K-1}/model/last.pt)")
    parser.add_argument("--dataset", default=None, help="dataset root (default: paths.dataset)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--low", type=float, default=None,
                        help="lowest score counted as uncertain (default: pseudo.conf_threshold)")
    parser.add_argument("--min-gap", type=float, default=1.0, dest="min_gap_s",
                        help="seconds between two picks of one sequence before the budget relaxes it (default 1)")
    parser.add_argument("--weights", type=float, nargs=3, default=(1.0, 1.0, 1.0),
                        metavar=("DISAGREE", "TRACKER", "UNCERTAIN"), help="signal weights (default 1 1 1)")


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from leod_core.labelling.suggest import Weights
    from flows.stages import check_round

    cfg = load_config(args.params, args.overrides)
    k = check_round("pseudo_label", args.round_idx)  # bad input fails before Prefect starts
    if args.budget < 1:
        raise ValueError(f"--budget must be >= 1, got {args.budget}")
    if not args.min_gap_s >= 0:
        raise ValueError(f"--min-gap must be >= 0, got {args.min_gap_s}")
    Weights(*args.weights)
    prepare_environment()
    from flows.suggest_frames import suggest_frames_flow

    r = run_flow(suggest_frames_flow, cfg.orchestration, round_idx=k, budget=args.budget, params=args.params,
                 overrides=args.overrides, ckpt=args.ckpt, out=args.out, dataset=args.dataset, device=args.device,
                 low=args.low, min_gap_s=args.min_gap_s, weights=tuple(args.weights))
    relaxed = f", {r['relaxed']} closer than {args.min_gap_s:g} s" if r["relaxed"] else ""
    print(f"suggest-frames round {k}: {r['frames']} of {r['candidates']} unlabelled frames in "
          f"{r['sequences']} sequences{relaxed} -> {r['out']} (first {min(12, r['frames'])}: {r['sheet']})")
    return 0
