"""``leod self-train``: the whole self-training DAG as one Prefect flow, one task per DVC stage.

Without ``PREFECT_API_URL`` a local Prefect server is started on 127.0.0.1 for the run (all stage
flows report to it; stopped at the end).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--repo", default=".", help="repository with dvc.yaml (default: .)")
    parser.add_argument("--force", action="store_true", help="re-run every stage even if up to date")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows.runtime import prepare_environment
    from flows.server import prefect_server
    from flows.settings import load_config

    cfg = load_config(Path(args.repo) / args.params)
    prepare_environment(Path(args.repo))
    with prefect_server(cfg.orchestration.prefect_port):
        from flows.self_train import self_train_flow  # Prefect reads PREFECT_API_URL at import

        seconds = self_train_flow(repo=args.repo, params=args.params, force=args.force)
    for stage, s in seconds.items():
        print(f"{stage:20s} {s:7.1f} s")
    print(f"self-train: {len(seconds)} stages, {sum(seconds.values()):.1f} s")
    return 0
