"""``leod evaluate --round K``: Prophesee mAP of a round's checkpoint on the test (or val) split.

Defaults: ckpt = <artifacts>/round_K/model/last.pt, out = <artifacts>/round_K/eval (eval_val for val).
Writes metrics.json, pr_<class>.csv, pr_curves.png and frames/*.png (leod_core.eval.evaluate).

The stage's one module: the task (Prophesee mAP of one checkpoint on a split), the flow that logs it
to MLflow, and ``run``, the command.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from prefect import flow
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.mlflow_log import stage_run
from flows.settings import load_config
from flows.stages import check_round, stage_config
from leod_core.config import LeodConfig
from leod_core.round_layout import FRAMES_DIR, METRICS_FILE, PR_PLOT_FILE
from leod_core.round_layout import PR_TABLE_FILE

__all__ = ["evaluate_model", "write_mean_pr_csv", "evaluate_flow"]


log = logging.getLogger(__name__)


@task(name="evaluate-round", cache_policy=NO_CACHE)
def evaluate_model(cfg: LeodConfig, ckpt: Path, dataset: Path, split: str, out_dir: Path,
                   device: str | None = None) -> dict[str, float]:
    """Load ``ckpt``, run ``evaluate_round`` (writes metrics.json, PR CSVs/plot, frames under ``out_dir``);
    returns the scalar metrics."""
    from leod_core.compute import pick_device, use_threads

    from leod_core.eval.evaluate import evaluate_round
    from leod_core.train.checkpoint import load_detector

    if not Path(ckpt).is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt}")
    use_threads(cfg.train.threads)
    device = str(pick_device(device))
    model = load_detector(ckpt, map_location=device, camera=cfg.camera)  # refuses weights that do not fit the camera

    def progress(done: int, total: int) -> None:
        log.info("evaluate %s: %d/%d sequences", split, done, total)

    eval_cfg = dataclasses.replace(cfg.eval, split=split)
    metrics = evaluate_round(model, dataset, split, cfg.camera, eval_cfg, out_dir, progress=progress,
                             seq_len=cfg.data.sequence_length, device=device)
    write_mean_pr_csv(Path(out_dir), cfg.camera.class_names)
    return metrics


def write_mean_pr_csv(out_dir: Path, class_names: tuple[str, ...]) -> Path:
    """``pr.csv`` (recall, precision): the class-mean PR curve at IoU .5 on the shared 101-point recall grid
    of the per-class ``pr_<class>.csv``. One file with fixed columns, whatever the camera's classes, so
    ``dvc plots`` can declare it per round."""
    import pandas as pd

    from leod_core.atomic import atomic_path

    curves = [pd.read_csv(out_dir / f"pr_{name}.csv") for name in class_names]
    recall = curves[0]["recall"].to_numpy()
    for name, c in zip(class_names, curves):
        if len(c) != len(recall) or (c["recall"].to_numpy() != recall).any():
            raise ValueError(f"{out_dir / f'pr_{name}.csv'}: recall grid differs from pr_{class_names[0]}.csv")
    mean = sum(c["precision"].to_numpy() for c in curves) / len(curves)
    path = out_dir / PR_TABLE_FILE
    with atomic_path(path) as tmp:
        pd.DataFrame({"recall": recall, "precision": mean}).to_csv(tmp, index=False, float_format="%.6g")
    return path


@flow(name="evaluate", validate_parameters=False)
def evaluate_flow(round_idx: int, params: str = "params.yaml", overrides: list[str] | None = None,
                  split: str | None = None, ckpt: str | None = None, out: str | None = None,
                  dataset: str | None = None, device: str | None = None) -> dict:
    """Evaluate round ``round_idx``'s checkpoint; metrics and plots go to ``out`` and to MLflow. Returns the
    metrics, plus ``out`` (the folder written)."""
    cfg = load_config(params, overrides)
    r = cfg.layout.round(check_round("evaluate", round_idx))
    split = split or cfg.eval.split
    ckpt_p = Path(ckpt) if ckpt else r.weights
    out_p = Path(out) if out else r.eval_dir(split)
    dataset_p = Path(dataset or cfg.paths.dataset)
    with stage_run(cfg, "evaluate", round_idx, deps=[str(ckpt_p.parent), str(dataset_p)],
                   extra_tags={"split": split}) as run:
        metrics = evaluate_model(stage_config(cfg, "evaluate", round_idx), ckpt_p, dataset_p, split, out_p, device)
        run.log_metrics(metrics, step=round_idx)
        for name in (METRICS_FILE, PR_PLOT_FILE, FRAMES_DIR):
            run.log_artifact(out_p / name)
        for csv_path in sorted(out_p.glob("pr_*.csv")):
            run.log_artifact(csv_path)
    return metrics | {"out": str(out_p)}


def run(args: argparse.Namespace) -> int:
    from flows.commands.evaluate_boxes import print_metrics
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from flows.stages import check_round

    cfg = load_config(args.params, args.overrides)
    check_round("evaluate", args.round_idx)  # before Prefect starts
    prepare_environment()

    k = args.round_idx
    split = args.split or cfg.eval.split
    metrics = run_flow(evaluate_flow, cfg.orchestration, round_idx=k, params=args.params, overrides=args.overrides,
                       split=split, ckpt=args.ckpt, out=args.out, dataset=args.dataset, device=args.device)
    print_metrics(metrics, cfg.camera.class_names, f"round {k}, {split} split")
    print(f"evaluate round {k}: AP {metrics['AP']:.4f} -> {metrics['out']}")
    return 0
