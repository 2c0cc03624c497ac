"""Flow of the ``subsample`` stage."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.settings import load_config
from tasks.subsample import SubsampleResult, subsample_labels
from tasks.mlflow_log import stage_run

__all__ = ["subsample_flow"]


@flow(name="subsample", validate_parameters=False)
def subsample_flow(params: str = "params.yaml", overrides: list[str] | None = None,
                   out: str | None = None) -> SubsampleResult:
    """Round-0 sparse labels (WSOD/SSOD per params) under ``out`` (default <artifacts>/round_0/labels)."""
    from leod_core.layout import labels_full_path

    cfg = load_config(params, overrides)
    full = labels_full_path(cfg.paths.dataset, "train")
    out_dir = Path(out) if out else cfg.layout.round(0).labels_dir
    with stage_run(cfg, "subsample", round_idx=0, deps=[cfg.paths.dataset]) as run:
        result = subsample_labels(full, out_dir, cfg.subsample, cfg.data.sequence_length)
        run.log_metrics(result.metrics())
    return result
