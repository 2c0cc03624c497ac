"""Task of the ``evaluate`` stage: Prophesee mAP of one checkpoint on a split."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from leod_core.config import LeodConfig
from leod_core.round_layout import PR_TABLE_FILE

__all__ = ["evaluate_model", "write_mean_pr_csv"]

log = logging.getLogger(__name__)


@task(name="evaluate-round", cache_policy=NO_CACHE)
def evaluate_model(cfg: LeodConfig, ckpt: Path, dataset: Path, split: str, out_dir: Path,
                   device: str | None = None) -> dict[str, float]:
    """Load ``ckpt``, run ``evaluate_round`` (writes metrics.json, PR CSVs/plot, frames under ``out_dir``);
    returns the scalar metrics."""
    from leod_core.compute import pick_device, use_threads

    from leod_core.eval.evaluate import evaluate_round
    from leod_core.train.checkpoint import load_detector

    if not Path(ckpt).is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt}")
    use_threads(cfg.train.threads)
    device = str(pick_device(device))
    model = load_detector(ckpt, map_location=device, camera=cfg.camera)  # refuses weights that do not fit the camera

    def progress(done: int, total: int) -> None:
        log.info("evaluate %s: %d/%d sequences", split, done, total)

    eval_cfg = dataclasses.replace(cfg.eval, split=split)
    metrics = evaluate_round(model, dataset, split, cfg.camera, eval_cfg, out_dir, progress=progress,
                             seq_len=cfg.data.sequence_length, device=device)
    write_mean_pr_csv(Path(out_dir), cfg.camera.class_names)
    return metrics


def write_mean_pr_csv(out_dir: Path, class_names: tuple[str, ...]) -> Path:
    """``pr.csv`` (recall, precision): the class-mean PR curve at IoU .5 on the shared 101-point recall grid
    of the per-class ``pr_<class>.csv``. One file with fixed columns, whatever the camera's classes, so
    ``dvc plots`` can declare it per round."""
    import pandas as pd

    from leod_core.atomic import atomic_path

    curves = [pd.read_csv(out_dir / f"pr_{name}.csv") for name in class_names]
    recall = curves[0]["recall"].to_numpy()
    for name, c in zip(class_names, curves):
        if len(c) != len(recall) or (c["recall"].to_numpy() != recall).any():
            raise ValueError(f"{out_dir / f'pr_{name}.csv'}: recall grid differs from pr_{class_names[0]}.csv")
    mean = sum(c["precision"].to_numpy() for c in curves) / len(curves)
    path = out_dir / PR_TABLE_FILE
    with atomic_path(path) as tmp:
        pd.DataFrame({"recall": recall, "precision": mean}).to_csv(tmp, index=False, float_format="%.6g")
    return path
