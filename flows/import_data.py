"""Flow of the ``import`` stage: raw Prophesee files -> RVT layout, one mapped task per sequence."""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow

from flows.runtime import task_map_fn
from flows.settings import load_config
from tasks.import_data import import_totals
from tasks.mlflow_log import stage_run

__all__ = ["import_flow"]


@flow(name="import", validate_parameters=False)
def import_flow(src: str, dst: str, camera: str | dict, params: str | None = "params.yaml",
                overrides: list[str] | None = None) -> list:
    """Import every split of ``src`` into ``dst`` and write ``labels_full.parquet`` per split. ``camera``: a
    built-in name, a camera file or a camera mapping (leod_core.cameras)."""
    from leod_core.cameras import resolve_camera
    from leod_core.events.prophesee_import import import_dataset

    cam = resolve_camera(camera, key="--camera")
    cfg = load_config(params if params and Path(params).exists() else None, overrides)
    with stage_run(cfg, "import", deps=[src], extra_tags={"camera": cam.name}) as run:
        t0 = time.perf_counter()
        summaries = import_dataset(src, dst, cam, map_fn=task_map_fn("import-sequence", retries=1))
        run.log_metrics(import_totals(summaries) | {"wall_s": time.perf_counter() - t0})
    return summaries
