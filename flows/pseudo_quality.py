"""Flow of the ``pseudo_quality`` stage."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.settings import load_config
from leod_core.round_layout import QUALITY_FILE, QUALITY_PLOT_FILE, check_round
from tasks.pseudo_quality import measure_quality
from tasks.mlflow_log import stage_run

__all__ = ["pseudo_quality_flow"]


@flow(name="pseudo-quality", validate_parameters=False)
def pseudo_quality_flow(round_idx: int, params: str = "params.yaml", overrides: list[str] | None = None,
                        labels: str | None = None, withheld: str | None = None, out: str | None = None) -> dict:
    """Quality of round ``round_idx``'s pseudo labels (default paths: the round layout; frames a person
    reviewed, ``paths.human_labels``, are not scored); returns the quality record plus ``out`` (the folder
    written)."""
    cfg = load_config(params, overrides)
    r = cfg.layout.round(check_round("pseudo_quality", round_idx))
    labels_p = Path(labels) if labels else r.labels
    withheld_p = Path(withheld) if withheld else cfg.layout.withheld
    out_p = Path(out) if out else r.quality_dir
    human_p = Path(cfg.paths.human_labels)
    with stage_run(cfg, "pseudo_quality", round_idx,
                   deps=[str(labels_p.parent), str(withheld_p.parent), str(human_p)]) as run:
        q = measure_quality(labels_p, withheld_p, cfg.camera, out_p, round_idx, human_p)
        run.log_metrics({"overall": q["overall"], "per_class": q["per_class"], "counts": q["counts"]},
                        step=round_idx, prefix="pseudo.")
        run.log_artifact(out_p / QUALITY_FILE)
        run.log_artifact(out_p / QUALITY_PLOT_FILE)
    return q | {"out": str(out_p)}
