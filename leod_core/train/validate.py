"""Validation during training (``train.val_every > 0``): the round's model scored on the val split."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from leod_core.config import LeodConfig

__all__ = ["make_validator"]

log = logging.getLogger(__name__)


def make_validator(cfg: LeodConfig, dataset_root: str | Path, device: torch.device):
    """A ``model -> val AP`` function, or None (with a warning) when the evaluation module is unavailable."""
    try:
        from leod_core.eval.evaluate import evaluate_model  # type: ignore[import-not-found]
    except ImportError:
        log.warning("train.val_every=%d but leod_core.eval provides no evaluate_model; training without "
                    "validation (no best.pt)", cfg.train.val_every)
        return None

    def validator(model: nn.Module) -> float | None:
        metrics = evaluate_model(model, cfg, dataset_root, split="val",
                                 conf_threshold=cfg.train.val_conf_threshold, device=device)
        return float(metrics["AP"]) if metrics else None

    return validator
