"""Flow of the ``evaluate`` stage."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.settings import load_config
from leod_core.round_layout import FRAMES_DIR, METRICS_FILE, PR_PLOT_FILE, check_round
from tasks.evaluate import evaluate_model
from tasks.mlflow_log import stage_run

__all__ = ["evaluate_flow"]


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
        metrics = evaluate_model(cfg, ckpt_p, dataset_p, split, out_p, device)
        run.log_metrics(metrics, step=round_idx)
        for name in (METRICS_FILE, PR_PLOT_FILE, FRAMES_DIR):
            run.log_artifact(out_p / name)
        for csv_path in sorted(out_p.glob("pr_*.csv")):
            run.log_artifact(csv_path)
    return metrics | {"out": str(out_p)}
