"""``leod compare``: table of the self-training rounds (from the round folders' files, or from MLflow),
``rounds.csv`` and ``rounds.png``."""

from __future__ import annotations

import argparse
import math

from flows.cli import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--out", default=None, help="output folder (default: <paths.artifacts>/report)")
    parser.add_argument("--source", choices=["files", "mlflow"], default="files",
                        help="read round metrics from the round folders' metrics.json and quality.json (default: "
                             "what DVC tracks) or from the latest finished MLflow runs of the experiment")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config

    cfg = load_config(args.params, args.overrides)
    prepare_environment()
    from flows.report import report_flow

    df = run_flow(report_flow, cfg.orchestration, params=args.params, overrides=args.overrides, out=args.out,
                  source=args.source)
    table = Table(title=f"{cfg.experiment_name()}: rounds ({args.source})")
    for col in df.columns:
        table.add_column(col, justify="right")
    for _, row in df.iterrows():
        table.add_row(*(str(int(v)) if c == "round" else ("-" if math.isnan(v) else f"{v:.4f}")
                        for c, v in row.items()))
    Console().print(table)
    print(f"report -> {args.out or cfg.paths.artifacts + '/report'}")
    return 0
