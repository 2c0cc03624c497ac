"""``leod serve``: the Prefect UI with the self-training deployment, and the MLflow UI (``make ui``).

Registers the self-training flow as a Prefect deployment (cron from ``orchestration.cron``) and serves
it, so it can be run, scheduled and watched from the Prefect UI. Reports to ``PREFECT_API_URL`` if set;
otherwise a Prefect server with the UI and the scheduler runs on 127.0.0.1:``orchestration.prefect_port``.
The MLflow UI runs on 127.0.0.1:``mlflow.port`` over the pipeline's tracking store (not when
``MLFLOW_TRACKING_URI`` names a remote server, which has its own UI). One Ctrl-C stops everything; a
taken port is a one-line error.
"""

from __future__ import annotations

import argparse

DEPLOYMENT_NAME = "leod-self-train"
#: how ``make ui`` installs the MLflow server when only mlflow-skinny is there
UI_INSTALL_HINT = "make ui (or: pip install --require-hashes --no-deps -r requirements-ui.lock)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from flows.cli_args import add_params_arguments

    add_params_arguments(parser)
    parser.add_argument("--repo", default=".", help="repository with dvc.yaml (default: .)")
    parser.add_argument("--cron", default=None, help="cron schedule (default: orchestration.cron; empty = none)")
    parser.add_argument("--name", default=DEPLOYMENT_NAME, help=f"deployment name (default: {DEPLOYMENT_NAME})")
    parser.add_argument("--no-mlflow", action="store_true", help="do not start the MLflow UI")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    import contextlib
    import os
    import signal
    from pathlib import Path

    from flows.runtime import prepare_environment
    from flows.server import mlflow_server, mlflow_ui_available, prefect_server, require_free_port, wait_healthy
    from flows.settings import load_config
    from flows.mlflow_log import tracking_uri

    repo = Path(args.repo).resolve()
    cfg = load_config(repo / args.params, args.overrides)
    cron = cfg.orchestration.cron if args.cron is None else args.cron
    prepare_environment(repo)
    store = tracking_uri(cfg)
    local_store = not store.startswith(("http://", "https://", "databricks"))
    want_mlflow = not args.no_mlflow and local_store and mlflow_ui_available()
    # both ports checked before either server starts: a taken one costs no start-up
    own_prefect = not os.environ.get("PREFECT_API_URL")
    if own_prefect:
        require_free_port(cfg.orchestration.prefect_port, "Prefect server",
                          "PREFECT_PORT or -S orchestration.prefect_port=N")
    if want_mlflow:
        require_free_port(cfg.mlflow.port, "MLflow UI", "MLFLOW_PORT or -S mlflow.port=N")
    # a closed terminal or a `kill` stops the servers as Ctrl-C does (they run in their own sessions,
    # so nothing else would stop them)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    with contextlib.ExitStack() as stack:
        # both start at once (each takes ~5-60 s on busy cores, migrating a new database the first time)
        murl = stack.enter_context(mlflow_server(cfg.mlflow.port, store, cwd=repo, wait=False)) if want_mlflow else None
        url = stack.enter_context(prefect_server(cfg.orchestration.prefect_port, services=True, ui=True,
                                                 strict_port=True))
        if murl:
            wait_healthy(murl, 120.0, name="mlflow server")
            print(f"MLflow UI at {murl} (store {store})", flush=True)
        elif not local_store:
            print(f"MLflow: runs go to {store} (its own UI)", flush=True)
        elif not args.no_mlflow:
            print(f"MLflow UI: not installed (the venv has mlflow-skinny only); {UI_INSTALL_HINT}", flush=True)
        from flows.self_train import self_train_flow  # Prefect reads PREFECT_API_URL at import

        where = f"Prefect UI at {url[:-4]}" if own_prefect else f"Prefect API {url}"
        print(f"{where}: deployment self-train/{args.name} "
              f"({'cron ' + repr(cron) if cron else 'no schedule'}); Ctrl-C stops", flush=True)
        self_train_flow.serve(name=args.name, cron=cron or None, print_starting_message=False,
                              parameters={"repo": str(repo), "params": args.params},
                              description="LEOD self-training DAG: one task per DVC stage")
    return 0
