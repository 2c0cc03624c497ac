"""Flow of the ``synth`` stage: the synthetic event camera, one mapped task per sequence."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow

from flows.runtime import task_map_fn
from flows.settings import load_config
from tasks.synth import synth_totals
from tasks.mlflow_log import stage_run

__all__ = ["synth_flow"]


@flow(name="synth", validate_parameters=False)
def synth_flow(dst: str, preset: str = "default", seed: int = 0, params: str | None = "params.yaml",
               overrides: list[str] | None = None) -> list:
    """Write the synthetic dataset of ``preset`` under ``dst`` (replaced atomically); returns the
    per-sequence summaries. ``preset`` and ``seed`` set the scenes; the params name the MLflow experiment and
    the rendered sensor and class count (``synth.height/width/num_classes``, 0 = ``dataset.camera``'s)."""
    from leod_core.synth.simulator import get_synth_preset, synth_geometry, write_synth_dataset

    cfg = load_config(params if params and Path(params).exists() else None, overrides)
    geometry = synth_geometry(cfg.synth, cfg.camera)
    tags = {"synth.preset": preset, "synth.seed": str(seed),
            "synth.geometry": f"{geometry.height}x{geometry.width}, {geometry.num_classes} classes"}
    with stage_run(cfg, "synth", extra_tags=tags) as run:
        t0 = time.perf_counter()
        summaries = write_synth_dataset(dst, get_synth_preset(preset), seed,
                                        map_fn=task_map_fn("synth-sequence", retries=1), geometry=geometry,
                                        label_format=cfg.synth.label_format)
        run.log_metrics(synth_totals(summaries) | {"wall_s": time.perf_counter() - t0})
    return summaries
