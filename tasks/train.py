"""Tasks of the ``train`` stage.

Training runs in a work folder outside the DVC output (``<artifacts>/.work/round_K/model``): DVC deletes
a stage's outputs before re-running it, so a resume checkpoint kept inside them would not survive a
killed ``dvc repro``. Only the finished files are published into the output folder, atomically.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from leod_core.atomic import atomic_dir
from leod_core.config import LeodConfig
from leod_core.round_layout import BEST_WEIGHTS_FILE, METRICS_FILE, MODEL_FILES, WEIGHTS_FILE
from tasks.policies import retry_on_io_error

__all__ = ["train_model", "train_model_torchrun", "publish_model", "loss_rows"]

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
