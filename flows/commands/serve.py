"""``leod serve``: register the self-training flow as a Prefect deployment (cron from
``orchestration.cron``) and serve it, so it can be run and watched from the Prefect UI.

Reports to ``PREFECT_API_URL`` (e.g. the server of ``make ui``); without it, a local server with the
UI and the scheduler is started on 127.0.0.1:``orchestration.prefect_port`` for as long as this runs.
"""

from __future__ import annotations

import argparse

DEPLOYMENT_NAME = "leod-self-train"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--repo", default=".", help="repository with dvc.yaml (default: .)")
    parser.add_argument("--cron", default=None, help="cron schedule (default: orchestration.cron; empty = none)")
    parser.add_argument("--name", default=DEPLOYMENT_NAME, help=f"deployment name (default: {DEPLOYMENT_NAME})")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flows.runtime import prepare_environment
    from flows.server import prefect_server
    from leod_core.config import load_config

    repo = Path(args.repo).resolve()
    cfg = load_config(repo / args.params)
    cron = cfg.orchestration.cron if args.cron is None else args.cron
    prepare_environment(repo)
    with prefect_server(cfg.orchestration.prefect_port, services=True, ui=True) as url:
        from flows.self_train import self_train_flow

        print(f"serving deployment self-train/{args.name} at {url[:-4]} "
              f"({'cron ' + repr(cron) if cron else 'no schedule'}); Ctrl-C stops", flush=True)
        self_train_flow.serve(name=args.name, cron=cron or None,
                              parameters={"repo": str(repo), "params": args.params},
                              description="LEOD self-training DAG: one task per DVC stage")
    return 0
