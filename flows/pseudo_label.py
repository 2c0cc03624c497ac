"""Flow of the ``pseudo_label`` stage: round K-1's model labels every training sequence (mapped)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow

from flows.runtime import map_as_tasks
from flows.settings import load_config
from leod_core.round_layout import check_round
from tasks.pseudo_label import label_sequence, write_round_labels
from tasks.mlflow_log import stage_run

__all__ = ["pseudo_label_flow", "pseudo_label_table"]


def pseudo_label_table(cfg, ckpt: Path, dataset: Path, kept: pd.DataFrame, device: str,
                       split: str = "train", empty_gt_frames: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list]:
    """Map ``label_sequence`` over the sequences of ``split`` (as Prefect tasks of the calling flow) and
    concatenate in sequence order; returns (table, sequences). ``kept``: the GT copied verbatim,
    ``empty_gt_frames``: GT frames without boxes (sequence, frame_idx)."""
    from leod_core.pseudo.pipeline import concat_sequence_tables, sequence_jobs

    jobs = sequence_jobs(dataset, kept, cfg.camera, split, empty_gt_frames)
    parts = map_as_tasks(label_sequence, jobs, name="pseudo-label-sequence", ckpt=str(ckpt), cfg=cfg, device=device)
    return concat_sequence_tables(parts), [j.seq for j in jobs]


@flow(name="pseudo-label", validate_parameters=False)
def pseudo_label_flow(round_idx: int, params: str = "params.yaml", overrides: list[str] | None = None,
                      ckpt: str | None = None, out: str | None = None, dataset: str | None = None,
                      device: str | None = None) -> dict[str, int | str]:
    """Pseudo-label the training split for round ``round_idx``: ``labels.parquet`` + ``leod_export/``
    under ``out`` (default <artifacts>/round_K/labels). Returns box counts per source, plus ``out``.

    Ground truth, copied as it is and never pseudo-labelled: round 0's kept sparse GT and the frames a
    person reviewed (``paths.human_labels``: their boxes, or none on a frame left empty)."""
    from leod_core.compute import pick_device

    from leod_core.labels.human import read_human, with_human_gt
    from leod_core.labels.table import read_labels

    cfg = load_config(params, overrides)
    k = check_round("pseudo_label", round_idx)
    ckpt_p = Path(ckpt) if ckpt else cfg.layout.round(k - 1).weights
    if not ckpt_p.is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt_p}")
    device = str(pick_device(device))
    dataset_p = Path(dataset or cfg.paths.dataset)
    out_p = Path(out) if out else cfg.layout.round(k).labels_dir
    kept_path = cfg.layout.kept_labels
    human_path = Path(cfg.paths.human_labels)
    with stage_run(cfg, "pseudo_label", k, deps=[str(ckpt_p), str(kept_path), str(human_path),
                                                  str(dataset_p)]) as run:
        gt, empty_gt = with_human_gt(read_labels(kept_path), read_human(human_path))
        df, seqs = pseudo_label_table(cfg, ckpt_p, dataset_p, gt, device, empty_gt_frames=empty_gt)
        counts = write_round_labels(df, gt, seqs, dataset_p, out_p, cfg, empty_gt)
        run.log_metrics(counts, step=k, prefix="boxes.")
    return counts | {"out": str(out_p)}
