"""``leod import SRC DST --camera ...`` (also ``leod import-prophesee``): raw recordings -> RVT layout + label tables.

SRC holds ``train/ val/ test/`` with, per sequence, a recording in any format of
:mod:`leod_core.events.readers` (``NAME_td.dat``, ``NAME_td.raw`` / ``NAME.raw`` EVT 2.0/3.0,
``NAME.aedat4``, RVT's ``NAME_td.dat.h5`` / ``NAME_td.h5``) beside ``NAME_bbox.npy`` or ``NAME_bbox.csv``;
an already preprocessed RVT folder is read as it is (only ``labels_full.parquet`` is added per split).

The stage's one module: its flow maps the import over the sequences (one task each, the work is
``leod_core``'s) and logs a summary to MLflow; ``run`` is the command.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow

from flows.mlflow_log import stage_run
from flows.runtime import task_map_fn
from flows.settings import load_config

__all__ = ["import_totals", "import_flow"]


def import_totals(summaries: Sequence[Any]) -> dict[str, float]:
    """Per-split sequence, representation, label-frame and box counts of ImportedSequence records."""
    out: dict[str, float] = {}
    for s in summaries:
        for key, n in (("sequences", 1), ("reprs", s.num_reprs), ("label_frames", s.num_label_frames),
                       ("boxes", s.num_boxes), ("events", s.num_events)):
            out[f"{s.split}.{key}"] = out.get(f"{s.split}.{key}", 0) + n
    return out


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


def run(args: argparse.Namespace) -> int:
    from flows.runtime import config_for_command, prepare_environment, run_flow

    params, cfg, orch = config_for_command(args.params, args.overrides, args.workers)  # sequences = mapped tasks
    camera = args.camera if args.camera is not None else cfg.dataset.camera  # a name or a camera's mapping
    prepare_environment()

    summaries = run_flow(import_flow, orch, src=args.src, dst=args.dst, camera=camera,
                         params=params, overrides=args.overrides)
    for split in sorted({s.split for s in summaries}):
        rows = [s for s in summaries if s.split == split]
        repaired = sum(s.timestamps_repaired for s in rows)
        print(f"{split}: {len(rows)} sequences, {sum(s.num_reprs for s in rows)} reprs, "
              f"{sum(s.num_label_frames for s in rows)} label frames, {sum(s.num_boxes for s in rows)} boxes, "
              f"{sum(s.num_events for s in rows)} events read"
              + (f", {repaired} timestamps repaired" if repaired else ""))
    print(f"dataset written to {args.dst}")
    return 0
