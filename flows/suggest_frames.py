"""Flow of ``leod suggest-frames``: round K's pseudo-labelling pass per sequence (mapped), then the ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import flow
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.policies import retry_on_io_error
from flows.runtime import map_as_tasks
from flows.settings import load_config
from flows.stages import check_round
from leod_core.config import LeodConfig
from leod_core.pseudo.pipeline import PseudoLabelJob

__all__ = ["sequence_signals_of", "write_suggestions", "draw_suggestions", "suggest_frames_flow"]


def sequence_signals_of(job: PseudoLabelJob, ckpt: str, cfg: LeodConfig, device: str, low: float) -> pd.DataFrame:
    """Signals of the unlabelled label frames of one sequence (the pass of ``leod pseudo-label``)."""
    from leod_core.compute import use_threads

    from leod_core.labelling.signals import sequence_signals, signals_frame, unlabelled_frames
    from leod_core.pseudo.pipeline import pseudo_label_pass
    from flows.pseudo_label import _load_model  # the same cached model as pseudo-labelling

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


@flow(name="suggest-frames", validate_parameters=False)
def suggest_frames_flow(round_idx: int, budget: int, params: str = "params.yaml", overrides: list[str] | None = None,
                        ckpt: str | None = None, out: str | None = None, dataset: str | None = None,
                        device: str | None = None, low: float | None = None, min_gap_s: float = 1.0,
                        weights: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> dict:
    """Rank the unlabelled label frames of the train split with round K-1's model (what ``leod pseudo-label
    --round K`` runs) and write the ``budget`` best to ``out``, and the first 12 of them as a PNG beside it
    (``suggestions.png``). Returns counts, ``out`` and ``sheet``."""
    from leod_core.compute import pick_device

    from leod_core.labelling.paths import SUGGESTIONS_FILE, labelling_dir
    from leod_core.labelling.signals import signals_frame
    from leod_core.labelling.suggest import Weights, suggest_frames
    from leod_core.labels.human import read_human, with_human_gt
    from leod_core.labels.table import read_labels
    from leod_core.pseudo.pipeline import sequence_jobs

    cfg = load_config(params, overrides)
    k = check_round("pseudo_label", round_idx)
    ckpt_p = Path(ckpt) if ckpt else cfg.layout.round(k - 1).weights
    if not ckpt_p.is_file():
        raise FileNotFoundError(f"round {k - 1}'s weights not found: {ckpt_p} (train round {k - 1} first)")
    w = Weights(*weights)
    device = str(pick_device(device))
    out_p = Path(out) if out else labelling_dir(cfg.layout, k) / SUGGESTIONS_FILE
    # the round's ground truth, as leod pseudo-label --round K sees it: frames a person reviewed are not
    # suggested again
    kept, empty_gt = with_human_gt(read_labels(cfg.layout.kept_labels), read_human(cfg.paths.human_labels))
    dataset_p = Path(dataset or cfg.paths.dataset)
    jobs = sequence_jobs(dataset_p, kept, cfg.camera, "train", empty_gt)
    parts = map_as_tasks(sequence_signals_of, jobs, name="frame-signals", ckpt=str(ckpt_p), cfg=cfg, device=device,
                         low=cfg.pseudo.conf_threshold if low is None else low)
    parts = [p for p in parts if len(p)]
    signals = pd.concat(parts, ignore_index=True) if parts else signals_frame([])
    if not len(signals):
        raise ValueError("no unlabelled label frame in the train split: every label frame is in round 0's table")
    picks = suggest_frames(signals, budget, w, round(min_gap_s * 1e6))
    write_suggestions(picks, out_p)
    sheet = draw_suggestions(picks, dataset_p, cfg, cfg.layout.round(k).labels, out_p.with_suffix(".png"))
    return {"out": str(out_p), "sheet": str(sheet), "frames": len(picks), "candidates": len(signals), "sequences": len(jobs),
            "relaxed": int((picks["min_gap_us"] < round(min_gap_s * 1e6)).sum())}
