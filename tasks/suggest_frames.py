"""Tasks of ``leod suggest-frames``: one pseudo-labelling pass per training sequence, kept as signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from leod_core.config import LeodConfig
from leod_core.pseudo.pipeline import PseudoLabelJob
from tasks.policies import retry_on_io_error

__all__ = ["sequence_signals_of", "write_suggestions", "draw_suggestions"]


def sequence_signals_of(job: PseudoLabelJob, ckpt: str, cfg: LeodConfig, device: str, low: float) -> pd.DataFrame:
    """Signals of the unlabelled label frames of one sequence (the pass of ``leod pseudo-label``)."""
    from leod_core.compute import use_threads

    from leod_core.labelling.signals import sequence_signals, signals_frame, unlabelled_frames
    from leod_core.pseudo.pipeline import pseudo_label_pass
    from tasks.pseudo_label import _load_model  # the same cached model as pseudo-labelling

    use_threads(cfg.train.threads)
    candidates = unlabelled_frames(np.load(job.seq.objframe_idx_2_repr_idx).ravel(),
                                   [*job.kept_gt["frame_idx"].to_numpy(np.int64), *job.empty_gt_frames])
    model = _load_model(str(ckpt), device, cfg.camera, Path(ckpt).stat().st_mtime_ns)
    p = (pseudo_label_pass(model, job.seq, job.kept_gt, cfg, cfg.camera, job.empty_gt_frames)
         if len(candidates) else None)
    if p is None:
        return signals_frame([])
    return sequence_signals(job.name, p, candidates, cfg.per_class(cfg.pseudo.obj_thresh),
                            cfg.per_class(cfg.pseudo.cls_thresh), cfg.camera.label_scale, low)


@task(name="write-suggestions", retries=1, retry_delay_seconds=1, retry_condition_fn=retry_on_io_error,
      cache_policy=NO_CACHE)
def write_suggestions(df: pd.DataFrame, out: Path) -> Path:
    """The frame list, written atomically."""
    from leod_core.labelling.frame_list import write_frame_list

    return write_frame_list(df, out)


@task(name="draw-suggestions", cache_policy=NO_CACHE)
def draw_suggestions(picks: pd.DataFrame, dataset_root: Path, cfg: LeodConfig, round_labels: Path, out: Path) -> Path:
    """The picked frames as one PNG (:func:`leod_core.viz.suggestions.suggestions_sheet`), with round K's
    boxes on them where ``leod pseudo-label --round K`` has run (the boxes a person will correct)."""
    from leod_core.labels.table import read_labels
    from leod_core.viz.suggestions import suggestions_sheet

    boxes = read_labels(round_labels) if Path(round_labels).is_file() else None
    return suggestions_sheet(picks, dataset_root, cfg.camera, out, boxes)
