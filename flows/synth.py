"""``leod synth DST``: write the synthetic event-camera dataset as raw Prophesee files.

Output: ``DST/{train,val,test}/<name>_td.dat`` + ``<name>_bbox.npy``, to be preprocessed by
``leod import-prophesee`` like real data. Sequences are generated in parallel worker processes; the
result does not depend on ``--workers`` (one RNG per sequence).

The stage's one module: its flow maps the synthetic camera over the sequences (one task each, the
work is ``leod_core.synth``'s) and logs a summary to MLflow; ``run`` is the command.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow

from flows.mlflow_log import stage_run
from flows.runtime import task_map_fn
from flows.settings import load_config
from flows.stages import stage_config

__all__ = ["synth_totals", "synth_flow"]


def synth_totals(summaries: Sequence[Any]) -> dict[str, float]:
    """Per-split sequence, event and box counts of SynthSequenceSummary records."""
    out: dict[str, float] = {}
    for s in summaries:
        for key, n in (("sequences", 1), ("events", s.n_events), ("boxes", sum(s.n_boxes_per_class))):
            out[f"{s.split}.{key}"] = out.get(f"{s.split}.{key}", 0) + n
    return out


@flow(name="synth", validate_parameters=False)
def synth_flow(dst: str, preset: str = "default", seed: int = 0, params: str | None = "params.yaml",
               overrides: list[str] | None = None) -> list:
    """Write the synthetic dataset of ``preset`` under ``dst`` (replaced atomically); returns the
    per-sequence summaries. ``preset`` and ``seed`` set the scenes; the params name the MLflow experiment and
    the rendered sensor and class count (``synth.height/width/num_classes``, 0 = ``dataset.camera``'s)."""
    from leod_core.synth.simulator import get_synth_preset, synth_geometry, write_synth_dataset

    cfg = load_config(params if params and Path(params).exists() else None, overrides)
    core = stage_config(cfg, "synth")
    geometry = synth_geometry(core.synth, core.camera)
    tags = {"synth.preset": preset, "synth.seed": str(seed),
            "synth.geometry": f"{geometry.height}x{geometry.width}, {geometry.num_classes} classes"}
    with stage_run(cfg, "synth", extra_tags=tags) as run:
        t0 = time.perf_counter()
        summaries = write_synth_dataset(dst, get_synth_preset(preset), seed,
                                        map_fn=task_map_fn("synth-sequence", retries=1), geometry=geometry,
                                        label_format=core.synth.label_format)
        run.log_metrics(synth_totals(summaries) | {"wall_s": time.perf_counter() - t0})
    return summaries


log = logging.getLogger(__name__)


def print_summary(summaries: list, class_names: tuple[str, ...], seconds: float) -> None:
    """Per-split sequence, event and box counts."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"synthetic dataset ({seconds:.1f} s)")
    for col in ("split", "sequences", "events", "ev/s (mean)", *(f"boxes {c}" for c in class_names), "ego"):
        table.add_column(col, justify="right")
    for split in ("train", "val", "test"):
        rows = [s for s in summaries if s.split == split]
        if not rows:
            continue
        n_ev = sum(s.n_events for s in rows)
        dur = sum(s.duration_s for s in rows)
        per_class = [sum(s.n_boxes_per_class[i] for s in rows) for i in range(len(class_names))]
        table.add_row(split, str(len(rows)), f"{n_ev:,}", f"{n_ev / dur:,.0f}", *(f"{n:,}" for n in per_class),
                      str(sum(s.ego_motion for s in rows)))
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    from flows.runtime import config_for_command, prepare_environment, run_flow

    params, cfg, orch = config_for_command(args.params, args.overrides, args.workers)  # sequences = mapped tasks
    prepare_environment()

    t0 = time.perf_counter()
    summaries = run_flow(synth_flow, orch, dst=args.dst, preset=args.preset, seed=args.seed,
                         params=params, overrides=args.overrides)
    n_cls = len(summaries[0].n_boxes_per_class) if summaries else 0
    # the camera's class names where the synthetic classes are the camera's
    names = cfg.camera.class_names if n_cls == cfg.camera.num_classes else tuple(f"class {i}" for i in range(n_cls))
    print_summary(summaries, names, time.perf_counter() - t0)
    print(f"synthetic dataset ({args.preset}, seed {args.seed}) -> {args.dst}")
    return 0
