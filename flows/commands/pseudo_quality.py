"""``leod pseudo-quality --round K``: precision/recall/AP of round K's pseudo labels vs the withheld GT.

Reads <artifacts>/round_K/labels/labels.parquet and <artifacts>/round_0/labels/withheld.parquet (leaving
out the frames a person reviewed, paths.human_labels); writes <artifacts>/round_K/quality/quality.json and quality.png.
"""

from __future__ import annotations

import argparse

from flows.cli import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--round", type=int, required=True, dest="round_idx", help="round index K (>= 1)")
    parser.add_argument("--labels", default=None,
                        help="pseudo-label table (default: <artifacts>/round_K/labels/labels.parquet)")
    parser.add_argument("--withheld", default=None,
                        help="withheld GT table (default: <artifacts>/round_0/labels/withheld.parquet)")
    parser.add_argument("--out", default=None, help="output folder (default: <artifacts>/round_K/quality)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from leod_core.round_layout import check_round
    from leod_core.eval.quality import IOU_THRESHOLDS

    cfg = load_config(args.params, args.overrides)
    k = check_round("pseudo_quality", args.round_idx)  # before Prefect starts
    prepare_environment()
    from flows.pseudo_quality import pseudo_quality_flow

    q = run_flow(pseudo_quality_flow, cfg.orchestration, round_idx=k, params=args.params, overrides=args.overrides,
                 labels=args.labels, withheld=args.withheld, out=args.out)

    table = Table(title=f"Pseudo-label quality, round {k} ({q['counts']['withheld_frames']} withheld frames)")
    table.add_column("class")
    cols = [f"{m}@{t}" for m in ("recall", "precision") for t in IOU_THRESHOLDS] + ["AP", "num_gt", "num_pseudo"]
    for c in cols:  # short headers: R@.5 = recall at IoU .5, P@.5 = precision
        head = c.replace("recall@0", "R@").replace("precision@0", "P@").replace("num_", "#")
        table.add_column(head, justify="right")
    for name, d in [*q["per_class"].items(), ("all", q["overall"])]:
        table.add_row(name, *(f"{d[c]:.3f}" if isinstance(d[c], float) else str(d[c]) for c in cols))
    Console().print(table)
    c = q["counts"]
    human = f" + {c['human']} human on {c['reviewed_frames']} reviewed frames" if c["reviewed_frames"] else ""
    print(f"pseudo-quality round {k}: {c['pseudo']} pseudo, {c['ignore']} ignore, {c['inpainted']} inpainted, "
          f"{c['gt']} GT{human} boxes -> {q['out']}")
    return 0
