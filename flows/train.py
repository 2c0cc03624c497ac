"""``leod train --round K``: train the detector of one round (resumes a killed run from its checkpoint).

Defaults: labels = <artifacts>/round_K/labels/labels.parquet, out = <artifacts>/round_K/model, init =
<artifacts>/round_{K-1}/model/last.pt when ``train.init_from_previous``. With ``train.devices > 1`` the
command starts itself again under ``torch.distributed.run`` with one process per device.

The stage's one module: tasks that train (in-process, or under torchrun) and publish, the flow that logs
losses to MLflow, and ``run``, the command (and one torchrun rank's body). Training runs in a work folder
outside the DVC output (``<artifacts>/.work/round_K/model``): DVC deletes a stage's outputs before
re-running it, so a resume checkpoint kept inside them would not survive a killed ``dvc repro``. Only the
finished files are published into the output folder, atomically.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefect import flow
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.mlflow_log import stage_run
from flows.policies import retry_on_io_error
from flows.settings import load_config
from flows.stages import check_round, stage_config
from leod_core.atomic import atomic_dir
from leod_core.config import LeodConfig
from leod_core.round_layout import BEST_WEIGHTS_FILE, METRICS_FILE, MODEL_FILES, WEIGHTS_FILE
from leod_core.round_layout import LOSS_FILE, METRICS_FILE
from leod_core.train.loop import TIMING_FILE

__all__ = ["train_model", "train_model_torchrun", "publish_model", "loss_rows", "train_flow", "resolve_train_paths"]


log = logging.getLogger(__name__)


@task(name="train-round", cache_policy=NO_CACHE)
def train_model(cfg: LeodConfig, round_idx: int, labels: Path, dataset: Path, work_dir: Path,
                init: Path | None = None, callback: Callable[[int, dict[str, float]], None] | None = None) -> Any:
    """``train_round`` in ``work_dir`` (resumes a killed run from its checkpoint); returns TrainResult."""
    from leod_core.train.loop import train_round

    return train_round(cfg, round_idx, labels, dataset, work_dir, init_weights=init, callback=callback)


@task(name="train-torchrun", cache_policy=NO_CACHE)
def train_model_torchrun(nproc: int, cli_args: Sequence[str]) -> None:
    """``leod train ...`` under torchrun, one process per device (train.devices > 1)."""
    from leod_core.train.ddp import torchrun_command

    cmd = torchrun_command(nproc, "flows.cli", list(cli_args))
    log.info("launching %s", " ".join(cmd))
    rc = subprocess.call(cmd)
    if rc != 0:
        raise RuntimeError(f"step train: torchrun with {nproc} processes exited with code {rc}")


@task(name="publish-model", retries=2, retry_delay_seconds=1, retry_condition_fn=retry_on_io_error,
      cache_policy=NO_CACHE)
def publish_model(work_dir: Path, out_dir: Path) -> Path:
    """Copy the finished files of ``work_dir`` into ``out_dir`` (replaced atomically), then delete the
    work folder (its resume checkpoint is spent). Returns ``out_dir/last.pt``."""
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    if not (work_dir / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"training left no weights: {work_dir / WEIGHTS_FILE}")
    with atomic_dir(out_dir) as tmp:
        for name in MODEL_FILES:
            if (work_dir / name).is_file():
                shutil.copy2(work_dir / name, tmp / name)
        summary = tmp / METRICS_FILE
        if summary.is_file():  # the trainer wrote work-folder paths; name the published files instead
            data = json.loads(summary.read_text())
            data["weights"] = str(out_dir / WEIGHTS_FILE)
            data["best"] = str(out_dir / BEST_WEIGHTS_FILE) if data.get("best") else None
            summary.write_text(json.dumps(data, indent=2) + "\n")
    shutil.rmtree(work_dir, ignore_errors=True)
    return out_dir / WEIGHTS_FILE


def loss_rows(csv_path: Path) -> list[tuple[int, dict[str, float]]]:
    """(step, metrics) rows of a trainer ``loss.csv`` (empty cells skipped): for runs whose steps could
    not be streamed to MLflow live (torchrun)."""
    rows: list[tuple[int, dict[str, float]]] = []
    if not Path(csv_path).is_file():
        return rows
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            step = int(float(row.pop("step")))
            rows.append((step, {k: float(v) for k, v in row.items() if v not in ("", None)}))
    return rows


def resolve_train_paths(cfg, round_idx: int, labels: str | None, out: str | None,
                        init: str | None) -> tuple[Path, Path, Path | None]:
    """(labels, out, init) with the defaults of ``leod train``; init = round K-1's weights when
    ``train.init_from_previous`` (rounds >= 1)."""
    r = cfg.layout.round(check_round("train", round_idx))
    labels_p = Path(labels) if labels else r.labels
    out_p = Path(out) if out else r.model_dir
    init_p = Path(init) if init else None
    if init_p is None and cfg.train.init_from_previous and round_idx >= 1:
        init_p = cfg.layout.round(round_idx - 1).weights
    if init_p is not None and not init_p.is_file():
        raise FileNotFoundError(f"initial weights not found: {init_p}")
    if not labels_p.is_file():
        raise FileNotFoundError(f"label table not found: {labels_p}")
    return labels_p, out_p, init_p


@flow(name="train", validate_parameters=False)
def train_flow(round_idx: int, params: str = "params.yaml", overrides: list[str] | None = None,
               labels: str | None = None, out: str | None = None, init: str | None = None,
               dataset: str | None = None, verbose: bool = False) -> dict:
    """Train round ``round_idx``; losses and lr go to MLflow per logging step. Returns the TrainResult
    as a dict."""
    cfg = load_config(params, overrides)
    labels_p, out_p, init_p = resolve_train_paths(cfg, round_idx, labels, out, init)
    dataset_p = Path(dataset or cfg.paths.dataset)
    work = cfg.layout.round(round_idx).work_dir
    deps = [str(labels_p.parent), str(dataset_p)] + ([str(init_p.parent)] if init_p else [])
    with stage_run(cfg, "train", round_idx, deps=deps) as run:
        if cfg.train.devices > 1 and "LOCAL_RANK" not in os.environ:
            argv = (["-v"] if verbose else []) + ["train", "--round", str(round_idx), "--params", params,
                                                   "--labels", str(labels_p), "--out", str(work),
                                                   "--dataset", str(dataset_p)]
            for o in overrides or []:
                argv += ["-S", o]
            if init_p:
                argv += ["--init", str(init_p)]
            train_model_torchrun(cfg.train.devices, argv)
            for step, metrics in loss_rows(work / LOSS_FILE):
                run.log_metrics(metrics, step=step)
            result = json.loads((work / METRICS_FILE).read_text()) | json.loads((work / TIMING_FILE).read_text())
        else:
            logger = run.step_logger()
            try:
                core = stage_config(cfg, "train", round_idx)
                result = train_model(core, round_idx, labels_p, dataset_p, work, init_p, logger).to_json()
            finally:
                logger.flush()
        weights = publish_model(work, out_p)
        result["weights"] = str(weights)
        run.log_metrics({k: v for k, v in result.items() if k in ("final_loss", "steps", "wall_s", "steps_per_s",
                                                                   "resumed_from", "best_ap") and v is not None})
        run.log_artifact(out_p / LOSS_FILE)
        run.log_artifact(out_p / METRICS_FILE)
    return result


def run(args: argparse.Namespace) -> int:
    from flows.settings import load_config
    from flows.stages import check_round

    cfg = load_config(args.params, args.overrides)
    check_round("train", args.round_idx)  # before Prefect starts
    if "LOCAL_RANK" in os.environ:  # one torchrun rank (started by the train flow): train into --out
        return _train_rank(args, cfg)

    from flows.runtime import prepare_environment, run_flow

    prepare_environment()

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
    from leod_core.train.loop import train_round

    k = args.round_idx
    labels, out, init = resolve_train_paths(cfg, k, args.labels, args.out, args.init)
    dataset = Path(args.dataset or cfg.paths.dataset)
    result = train_round(stage_config(cfg, "train", k), k, labels, dataset, out, init_weights=init)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"train round {k} (rank 0): {result.steps} steps, final loss {result.final_loss:.4f} -> {result.weights}")
    return 0
