"""Tasks of the ``pseudo_label`` stage: one task per training sequence, then the round's table.

Tasks receive the checkpoint *path*, never the model: on a Dask cluster each worker process loads the
weights once (cached) instead of receiving a pickled model with every sequence.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from leod_core.cameras import IGNORE_CLASS_ID, CameraSpec
from leod_core.config import LeodConfig
from leod_core.layout import SequencePaths
from leod_core.pseudo.pipeline import PseudoLabelJob
from tasks.policies import retry_on_io_error

__all__ = ["label_sequence", "write_round_labels"]


@functools.lru_cache(maxsize=2)
def _load_model(ckpt: str, device: str, camera: CameraSpec, mtime_ns: int) -> Any:
    # keyed by mtime too: a new checkpoint at the same path is loaded again
    from leod_core.train.checkpoint import load_detector

    return load_detector(ckpt, map_location=device, camera=camera)  # already in eval mode


def label_sequence(job: PseudoLabelJob, ckpt: str, cfg: LeodConfig, device: str) -> pd.DataFrame:
    """Label-table rows of one sequence (kept GT + pseudo + ignore boxes), via ``pseudo_label_sequence``."""
    from leod_core.compute import use_threads

    from leod_core.pseudo.pipeline import pseudo_label_sequence

    use_threads(cfg.train.threads)
    model = _load_model(str(ckpt), device, cfg.camera, Path(ckpt).stat().st_mtime_ns)
    return pseudo_label_sequence(model, job.seq, job.kept_gt, cfg, cfg.camera, job.empty_gt_frames)


@task(name="write-round-labels", retries=1, retry_delay_seconds=1, retry_condition_fn=retry_on_io_error,
      cache_policy=NO_CACHE)
def write_round_labels(df: pd.DataFrame, kept: pd.DataFrame, seqs: list[SequencePaths], dataset: Path,
                       out_dir: Path, cfg: LeodConfig, empty_gt_frames: pd.DataFrame | None = None) -> dict[str, int]:
    """Check the table (LEOD's sanity checks; ``kept``: the round's GT, ``empty_gt_frames``: its GT frames
    without boxes), write ``labels.parquet`` and the LEOD-layout export under ``out_dir``; return box
    counts per source."""
    from leod_core.labels.table import write_labels
    from leod_core.pseudo.export import export_leod_layout
    from leod_core.pseudo.pipeline import check_round_table, num_reprs_of

    check_round_table(df, kept, {s.name: len(num_reprs_of(s)) for s in seqs}, use_gt=cfg.pseudo.use_gt,
                      empty_gt_frames=empty_gt_frames)
    write_labels(df, Path(out_dir) / "labels.parquet")
    export_leod_layout(df, dataset, Path(out_dir) / "leod_export", cfg.camera)
    counts = {str(k): int(v) for k, v in df.groupby("source").size().items()} if len(df) else {}
    counts["ignore"] = int((df["class_id"] == IGNORE_CLASS_ID).sum()) if len(df) else 0
    counts["total"] = len(df)
    return counts
