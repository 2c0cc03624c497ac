"""Flow of the ``train`` stage: one round's detector, trained in a resumable work folder, then published."""

from __future__ import annotations

import json
import os
from pathlib import Path

from prefect import flow

from flows.settings import load_config
from leod_core.round_layout import LOSS_FILE, METRICS_FILE, check_round
from tasks.mlflow_log import stage_run
from leod_core.train.loop import TIMING_FILE
from tasks.train import loss_rows, publish_model, train_model, train_model_torchrun

__all__ = ["train_flow", "resolve_train_paths"]


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
                result = train_model(cfg, round_idx, labels_p, dataset_p, work, init_p, logger).to_json()
            finally:
                logger.flush()
        weights = publish_model(work, out_p)
        result["weights"] = str(weights)
        run.log_metrics({k: v for k, v in result.items() if k in ("final_loss", "steps", "wall_s", "steps_per_s",
                                                                   "resumed_from", "best_ap") and v is not None})
        run.log_artifact(out_p / LOSS_FILE)
        run.log_artifact(out_p / METRICS_FILE)
    return result
