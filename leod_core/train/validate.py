"""Validation during training (``train.val_every > 0``): the model's Prophesee AP on the val split."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from leod_core.config import EvalConfig, LeodConfig
from leod_core.layout import labels_full_path

__all__ = ["make_validator"]

log = logging.getLogger(__name__)


def make_validator(cfg: LeodConfig, dataset_root: str | Path, device: torch.device,
                   work_dir: str | Path) -> Callable[[nn.Module], float | None] | None:
    """A ``model -> val AP`` function (LEOD: conf threshold ``train.val_conf_threshold``); None, with a
    warning, when the dataset has no val split. Reports go to ``work_dir`` (overwritten each time)."""
    gt = labels_full_path(dataset_root, "val")
    if not gt.is_file():
        log.warning("train.val_every=%d but %s does not exist: training without validation (no best.pt)",
                    cfg.train.val_every, gt)
        return None
    from leod_core.eval.evaluate import evaluate_round

    # the evaluation keys validation reads, one by one (the train stages declare them); the LSTM memory
    # is kept as in training, whatever eval.memory_reset_every (an ablation of evaluation only) says
    eval_cfg = EvalConfig(conf_threshold=cfg.train.val_conf_threshold, nms_iou=cfg.eval.nms_iou,
                          batch_size=cfg.eval.batch_size, memory_reset_every=0, num_vis_frames=0)

    def validator(model: nn.Module) -> float | None:
        with torch.no_grad():
            metrics = evaluate_round(model, dataset_root, "val", cfg.camera, eval_cfg, work_dir,
                                     seq_len=cfg.data.sequence_length, device=str(device))
        return float(metrics["AP"])

    return validator
