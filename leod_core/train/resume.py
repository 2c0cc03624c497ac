"""Save and restore the whole training state, so a killed run continues exactly where it stopped.

One file, written by rank 0 only: model, optimizer, scheduler, grad scaler, step, loss history, best AP, model
spec and config, plus one entry per rank with that rank's RNG states (python, numpy, torch, CUDA), loader
state and RNN state store (gathered from the other ranks). A checkpoint made by a different run (other
config, labels, round or world size: see ``TrainState.fingerprint``) is ignored with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from leod_core.train import ddp
from leod_core.train.checkpoint import ModelSpec, capture_rng, load_checkpoint, restore_rng, save_checkpoint
from leod_core.train.history import LossHistory
from leod_core.train.rnn_state import RnnStateStore

__all__ = ["TrainState", "save_train_state", "load_train_state"]

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    """Everything a step changes; the loop mutates it, ``save_train_state`` persists it."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    loader: Any  # has state_dict() / load_state_dict()
    rnn: RnnStateStore
    history: LossHistory
    spec: ModelSpec
    config: dict[str, Any]
    round_idx: int
    total: int
    fingerprint: dict[str, Any] = field(default_factory=dict)  # must match to resume
    best_ap: float | None = None


def save_train_state(path: Path, state: TrainState, step: int) -> None:
    """Collective under torchrun (every rank calls it); rank 0 writes ``path`` atomically."""
    mine = {"rng": capture_rng(), "loader": _loader_state(state.loader), "rnn": state.rnn.state_dict()}
    ranks = [mine]
    if dist.is_initialized() and dist.get_world_size() > 1:
        ranks = [None] * dist.get_world_size()
        dist.all_gather_object(ranks, mine)
        if dist.get_rank() != 0:
            return
    save_checkpoint(path, {
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "scaler": state.scaler.state_dict(),
        "step": step,
        "ranks": ranks,
        "history": state.history.state_dict(),
        "best_ap": state.best_ap,
        "spec": {"preset": state.spec.preset, "camera": state.spec.camera},
        "config": state.config,
        "fingerprint": _fingerprint(state),
    })


def load_train_state(path: Path, state: TrainState, info: ddp.DistInfo) -> int:
    """Restore ``state`` from ``path`` if it belongs to this run; return the step to start from (0 = fresh)."""
    if not path.is_file():
        return 0
    ckpt = load_checkpoint(path, map_location="cpu")
    if ckpt.get("fingerprint") != _fingerprint(state):
        log.warning("%s was written by a different run (config, labels, round or devices changed); "
                    "starting from scratch", path)
        return 0
    if len(ckpt["ranks"]) != info.world_size:
        log.warning("%s holds %d ranks, this run has %d; starting from scratch", path, len(ckpt["ranks"]),
                    info.world_size)
        return 0
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    state.scheduler.load_state_dict(ckpt["scheduler"])
    state.scaler.load_state_dict(ckpt["scaler"])
    state.history.load_state_dict(ckpt["history"])
    state.best_ap = ckpt["best_ap"]
    mine = ckpt["ranks"][info.rank]
    restore_rng(mine["rng"])
    state.rnn.load_state_dict(mine["rnn"])
    if mine["loader"] is not None:
        state.loader.load_state_dict(mine["loader"])
    step = int(ckpt["step"])
    log.info("resuming round %d from %s at step %d/%d", state.round_idx, path, step, state.total)
    return step


def _loader_state(loader: Any) -> Any:
    fn = getattr(loader, "state_dict", None)
    if fn is None:
        log.warning("the loader has no state_dict(): a resumed run will not continue its sample order")
        return None
    return fn()


_RUN_ONLY_TRAIN_KEYS = ("threads", "ckpt_every", "val_every", "val_conf_threshold")


def _fingerprint(state: TrainState) -> dict[str, Any]:
    """What must not change between a checkpoint and the run resuming from it."""
    cfg = state.config
    train = {k: v for k, v in cfg.get("train", {}).items() if k not in _RUN_ONLY_TRAIN_KEYS}
    world = dist.get_world_size() if dist.is_initialized() else 1
    return {"round": state.round_idx, "total": state.total, "spec": [state.spec.preset, state.spec.camera],
            "world_size": world, "train": train,
            **{k: cfg.get(k) for k in ("dataset", "data", "model", "loss")}, **state.fingerprint}
