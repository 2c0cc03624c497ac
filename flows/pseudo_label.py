"""``leod pseudo-label --round K``: pseudo-label the training split with round K-1's model.

Defaults: ckpt = <artifacts>/round_{K-1}/model/last.pt, kept GT = <artifacts>/round_0/labels/labels.parquet,
dataset = paths.dataset (train split), out = <artifacts>/round_K/labels. Writes ``labels.parquet`` (the
round's label table, checked against the kept GT first) and ``leod_export/`` (LEOD's pseudo-dataset
layout). Sequences run one after another here; the Prefect flow maps them in parallel.

The stage's one module: one task per training sequence (mapped by the flow), then the round's table, MLflow
logging, and ``run``, the command. Tasks receive the checkpoint *path*, never the model: on a Dask cluster
each worker process loads the weights once (cached) instead of receiving a pickled model with every
sequence.
"""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.mlflow_log import stage_run
from flows.policies import retry_on_io_error
from flows.runtime import map_as_tasks
from flows.settings import load_config
from flows.stages import check_round, stage_config
from leod_core.cameras import IGNORE_CLASS_ID, CameraSpec
from leod_core.config import LeodConfig
from leod_core.layout import SequencePaths
from leod_core.pseudo.pipeline import PseudoLabelJob

__all__ = ["label_sequence", "write_round_labels", "pseudo_label_flow", "pseudo_label_table"]


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
        core = stage_config(cfg, "pseudo_label", k)
        df, seqs = pseudo_label_table(core, ckpt_p, dataset_p, gt, device, empty_gt_frames=empty_gt)
        counts = write_round_labels(df, gt, seqs, dataset_p, out_p, core, empty_gt)
        run.log_metrics(counts, step=k, prefix="boxes.")
    return counts | {"out": str(out_p)}


log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from flows.stages import check_round

    cfg = load_config(args.params, args.overrides)
    k = check_round("pseudo_label", args.round_idx)  # before Prefect starts
    prepare_environment()

    # sequences are mapped as Prefect tasks on the task runner of orchestration.* (threads, Dask)
    counts = run_flow(pseudo_label_flow, cfg.orchestration, round_idx=k, params=args.params,
                      overrides=args.overrides, ckpt=args.ckpt, out=args.out, dataset=args.dataset,
                      device=args.device)
    human = f" + human {counts['human']}" if counts.get("human") else ""
    print(f"pseudo-label round {k}: {counts.get('total', 0)} boxes: gt {counts.get('gt', 0)}{human}, "
          f"pseudo {counts.get('pseudo', 0)} ({counts.get('ignore', 0)} ignore), "
          f"inpainted {counts.get('inpainted', 0)} -> {counts['out']}")
    return 0
