"""Training of one self-training round: ``train_round`` (builds everything) and ``run_training`` (the loop).

Per REFERENCE section 8: AdamW (weight decay 0), OneCycle LR, gradient clipping by value, AMP on CUDA
(bf16 where supported, else fp16 with a GradScaler), fp32 on CPU. Round 0 trains on the sparse GT with
``cfg.train.lr`` / ``steps``; rounds >= 1 on pseudo labels with ``lr_self_train`` / ``steps_self_train`` and
LEOD's ignore thresholds (pre-training uses none). Every ``ckpt_every`` steps the whole training state goes to
``out_dir/.work/last_ckpt.pt``; a run started again on the same ``out_dir`` resumes from it and, on CPU with a
fixed seed, ends with bit-identical weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leod_core.atomic import atomic_path
from leod_core.compute import pick_device, use_threads
from leod_core.config import LeodConfig
from leod_core.config_view import declared_dict
from leod_core.round_layout import BEST_WEIGHTS_FILE, LOSS_FILE, METRICS_FILE, WEIGHTS_FILE
from leod_core.train import ddp
from leod_core.train.checkpoint import ModelSpec, load_weights_into, save_weights
from leod_core.train.history import LossHistory
from leod_core.train.resume import TrainState, load_train_state, save_train_state
from leod_core.train.rnn_state import RnnStateStore
from leod_core.train.schedule import OneCycle, make_scheduler
from leod_core.train.step import StepOutput, bptt_forward

__all__ = ["TrainResult", "training_config", "TIMING_FIELDS", "TIMING_FILE", "Callback", "Validator", "round_lr_steps", "loss_settings", "train_round",
           "run_training"]

log = logging.getLogger(__name__)

Callback = Callable[[int, dict[str, float]], None]
Validator = Callable[[nn.Module], float | None]  # model -> validation AP (None = skipped)

CKPT_NAME = ".work/last_ckpt.pt"


#: TrainResult fields that differ between two runs of the same training (clock, machine load, restarts)
TIMING_FIELDS = ("wall_s", "steps_per_s", "resumed_from")
#: the training folder's record of those fields (not published: the model folder stays bit-stable)
TIMING_FILE = "timing.json"


def training_config(cfg: LeodConfig) -> dict[str, Any]:
    """What weights files and resume checkpoints record of the config: the keys the training declares (the
    orchestration hands it a config restricted to its stage's params, leod_core/config_view.py), so the
    record, DVC's params and the study's cache key are one list; a whole config when called without one."""
    return declared_dict(cfg)


@dataclass(frozen=True)
class TrainResult:
    """Where the weights went and how the run went."""

    weights: Path  # out_dir/last.pt
    best: Path | None  # out_dir/best.pt when validating
    steps: int
    final_loss: float  # mean loss of the last logging window
    wall_s: float  # this invocation only (a resumed run counts from its restart)
    steps_per_s: float
    resumed_from: int  # 0 = fresh start
    best_ap: float | None = None

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["weights"] = str(self.weights)
        d["best"] = str(self.best) if self.best else None
        return d

    def reproducible(self) -> dict[str, Any]:
        """What ``metrics.json`` (a DVC output) holds: the fields a rerun or a resumed run reproduces
        bit for bit; wall time, speed and the resume point go to :data:`TIMING_FILE` and MLflow."""
        return {k: v for k, v in self.to_json().items() if k not in TIMING_FIELDS}


def round_lr_steps(cfg: LeodConfig, round_idx: int) -> tuple[float, int]:
    """Peak LR and step count: pre-training (round 0) vs self-training (rounds >= 1)."""
    if round_idx < 0:
        raise ValueError(f"--round must be >= 0, got {round_idx}")
    if round_idx == 0:
        return cfg.train.lr, cfg.train.steps
    return cfg.train.lr_self_train, cfg.train.steps_self_train


def loss_settings(cfg: LeodConfig, round_idx: int) -> Any:
    """Loss options of a round; LEOD pre-training (``rnndet.yaml``) has no ignore thresholds."""
    from leod_core.model.losses import LossSettings

    return LossSettings.from_config(cfg.loss, cfg.camera.num_classes, ignore=round_idx >= 1)


def train_round(cfg: LeodConfig, round_idx: int, labels_path: str | Path, dataset_root: str | Path,
                out_dir: str | Path, init_weights: str | Path | None = None,
                callback: Callback | None = None) -> TrainResult:
    """Train the detector of round ``round_idx`` on a label table; resumes from ``out_dir/.work``.

    Under torchrun (``WORLD_SIZE`` > 1) every process calls this; only rank 0 writes files.
    """
    from leod_core.data.mixed import build_train_loader
    from leod_core.model.presets import build_detector
    from leod_core.train.validate import make_validator

    labels_path, dataset_root = Path(labels_path), Path(dataset_root)
    if not labels_path.is_file():
        raise FileNotFoundError(f"label table not found: {labels_path}")
    if not dataset_root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {dataset_root}")
    info = ddp.dist_info_from_env()
    device = pick_device(None, info.local_rank)
    use_threads(cfg.train.threads)
    ddp.init_distributed(info, device)
    try:
        torch.manual_seed(cfg.train.seed)  # same initial weights on every rank (rank 0's are broadcast anyway)
        model = build_detector(cfg.model.preset, cfg.camera)
        spec = ModelSpec.of(cfg.model.preset, cfg.camera)
        # each rank draws its own sample sequence (rank 0 = the single-process run)
        loader = build_train_loader(cfg, labels_path, dataset_root, seed=cfg.train.seed + 1009 * info.rank)
        validator = (make_validator(cfg, dataset_root, device, Path(out_dir) / ".work" / "val")
                     if cfg.train.val_every > 0 else None)
        fingerprint = {"labels_sha256": _sha256(labels_path),
                       "init_sha256": _sha256(Path(init_weights)) if init_weights is not None else None}
        try:
            return run_training(cfg, round_idx, model, spec, loader, out_dir, init_weights=init_weights,
                                callback=callback, validator=validator, info=info, device=device,
                                fingerprint=fingerprint)
        finally:
            getattr(loader, "close", lambda: None)()
    finally:
        ddp.shutdown_distributed()


def run_training(cfg: LeodConfig, round_idx: int, model: nn.Module, spec: ModelSpec, loader: Iterable[Any],
                 out_dir: str | Path, *, init_weights: str | Path | None = None, callback: Callback | None = None,
                 validator: Validator | None = None, info: ddp.DistInfo = ddp.DistInfo(),
                 device: torch.device | None = None, fingerprint: dict[str, Any] | None = None) -> TrainResult:
    """The training loop on given components (``loader``: iterable of TrainBatch with state_dict()).

    ``fingerprint``: extra values (e.g. a hash of the label table) that must match for a resume.
    """
    device = device or pick_device(None, info.local_rank)
    restore_det = _set_determinism(device)
    try:
        return _train(cfg, round_idx, model, spec, loader, Path(out_dir), init_weights, callback, validator, info,
                      device, fingerprint or {})
    finally:
        restore_det()


def _train(cfg: LeodConfig, round_idx: int, model: nn.Module, spec: ModelSpec, loader: Iterable[Any], out_dir: Path,
           init_weights: str | Path | None, callback: Callback | None, validator: Validator | None,
           info: ddp.DistInfo, device: torch.device, fingerprint: dict[str, Any]) -> TrainResult:
    peak_lr, total = round_lr_steps(cfg, round_idx)
    settings = loss_settings(cfg, round_idx)
    amp_dtype = _amp_dtype(device)
    state = _new_state(cfg, round_idx, model, spec, loader, peak_lr, total, amp_dtype, info, device, fingerprint)
    ckpt_path = out_dir / CKPT_NAME
    start = load_train_state(ckpt_path, state, info)
    if start == 0 and init_weights is not None:
        load_weights_into(state.model, Path(init_weights), spec)  # any weights file, or a raw RVT/LEOD .ckpt
        log.info("round %d initialised from %s", round_idx, init_weights)
    ddp.broadcast_module(state.model)

    log_every = max(1, min(50, total // 200))
    bar = _progress(total, start, enabled=info.is_main)
    t0 = time.perf_counter()
    window = _LogWindow(t=t0, start=start)
    batches = _forever(loader)
    state.model.train()
    try:
        for step in range(start, total):
            out, lr = _step(state, next(batches), device, settings, amp_dtype, cfg.train.clip_value)
            if out.loss is not None:
                window.add({"loss": out.loss.detach(), **out.parts})
            done = step + 1
            if done % log_every == 0 or done == total:
                metrics = window.close(done, lr, state.history)
                if info.is_main:
                    bar.update(done - bar.n)
                    bar.set_postfix(loss=f"{metrics.get('loss', float('nan')):.3f}",
                                    it_s=f"{metrics['steps_per_s']:.2f}")
                    if callback is not None:
                        callback(done, metrics)
            if validator is not None and (done % cfg.train.val_every == 0 or done == total):
                _validate(validator, state.model, state, out_dir, done, info)
            if done % cfg.train.ckpt_every == 0 or done == total:
                save_train_state(ckpt_path, state, done)  # collective; rank 0 writes
                if info.is_main:
                    state.history.write_csv(out_dir / LOSS_FILE)
    finally:
        batches.close()  # stops a loader's batch made ahead before the caller closes its files
        bar.close()
    return _finish(state, out_dir, start, time.perf_counter() - t0, info)


def _new_state(cfg: LeodConfig, round_idx: int, model: nn.Module, spec: ModelSpec, loader: Iterable[Any],
               peak_lr: float, total: int, amp_dtype: torch.dtype | None, info: ddp.DistInfo, device: torch.device,
               fingerprint: dict[str, Any]) -> TrainState:
    """A fresh training state: the model on ``device`` (SyncBatchNorm under multi-GPU DDP), AdamW, the
    OneCycle schedule over ``total`` steps and the AMP scaler (active for fp16 only)."""
    model.to(device)
    if device.type == "cuda" and info.distributed:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.0)
    scheduler = make_scheduler(optimizer, total, OneCycle.from_config(cfg.train, peak_lr))
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    return TrainState(model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler, loader=loader,
                      rnn=RnnStateStore(), history=LossHistory(), spec=spec, config=training_config(cfg),
                      round_idx=round_idx, total=total, fingerprint=dict(fingerprint))


def _step(state: TrainState, batch: Any, device: torch.device, settings: Any, amp_dtype: torch.dtype | None,
          clip_value: float) -> tuple[StepOutput, float]:
    """One optimisation step; returns the forward's output and the LR the step used. When no rank has a
    labelled frame the weights stay as they are (the schedule still advances, as every rank's does)."""
    model, optimizer, scaler = state.model, state.optimizer, state.scaler
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        out = bptt_forward(model, batch, state.rnn, device, settings)
    if out.loss is not None:
        scaler.scale(out.loss).backward()
    if ddp.sum_across(float(out.num_frames), device) > 0:
        ddp.average_gradients(model.parameters())
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_value_(model.parameters(), clip_value)
        scaler.step(optimizer)
        scaler.update()
    ddp.broadcast_module(model, params=False)  # BatchNorm running stats follow rank 0 (as DDP)
    lr = optimizer.param_groups[0]["lr"]
    state.scheduler.step()
    return out, lr


@dataclass
class _LogWindow:
    """The steps since the last log line: their summed losses (the line shows the mean) and its start."""

    t: float  # perf_counter() when the window began
    start: int  # step when the window began
    sums: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    n: int = 0  # steps with a loss

    def add(self, values: dict[str, torch.Tensor]) -> None:
        _accumulate(self.sums, values)
        self.n += 1

    def close(self, step: int, lr: float, history: LossHistory) -> dict[str, float]:
        """Mean losses and ``lr`` go to ``history`` (no speed there: the loss curve is a DVC output); returns
        them with the window's steps/s, and the next window begins."""
        now = time.perf_counter()
        metrics = {k: float(v) / max(self.n, 1) for k, v in self.sums.items()}
        metrics = _rename(metrics) | {"lr": lr}
        history.append(step, metrics)
        metrics["steps_per_s"] = (step - self.start) / max(now - self.t, 1e-9)
        self.sums, self.n, self.t, self.start = {}, 0, now, step
        return metrics


def _finish(state: TrainState, out_dir: Path, start: int, wall: float, info: ddp.DistInfo) -> TrainResult:
    """Rank 0 writes ``last.pt``, ``metrics.json`` and :data:`TIMING_FILE`; every rank returns the result."""
    weights = out_dir / WEIGHTS_FILE
    if info.is_main:
        save_weights(weights, state.model.state_dict(), state.spec, state.config,
                     meta={"round": state.round_idx, "step": state.total})
    result = TrainResult(weights=weights, best=out_dir / BEST_WEIGHTS_FILE if state.best_ap is not None else None,
                         steps=state.total, final_loss=state.history.last("loss"), wall_s=wall,
                         steps_per_s=(state.total - start) / max(wall, 1e-9), resumed_from=start,
                         best_ap=state.best_ap)
    if info.is_main:
        for name, record in ((METRICS_FILE, result.reproducible()),
                             (TIMING_FILE, {k: result.to_json()[k] for k in TIMING_FIELDS})):
            with atomic_path(out_dir / name) as tmp:
                tmp.write_text(json.dumps(record, indent=2) + "\n")
    return result


def _validate(validator: Validator, model: nn.Module, state: TrainState, out_dir: Path, step: int,
              info: ddp.DistInfo) -> None:
    """Rank 0 evaluates; ``best.pt`` keeps the weights of the best validation AP so far."""
    if not info.is_main:
        return
    model.eval()
    try:
        ap = validator(model)
    finally:
        model.train()
    if ap is None:
        return
    log.info("step %d: validation AP %.4f", step, ap)
    state.history.note(step, "val_ap", ap)
    if state.best_ap is None or ap > state.best_ap:
        state.best_ap = ap
        save_weights(out_dir / BEST_WEIGHTS_FILE, model.state_dict(), state.spec, state.config,
                     meta={"round": state.round_idx, "step": step, "val_ap": ap})


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _amp_dtype(device: torch.device) -> torch.dtype | None:
    if device.type != "cuda":
        return None  # fp32 on CPU: CPU autocast is slow and breaks bit-exact resume tests
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _set_determinism(device: torch.device) -> Callable[[], None]:
    """Deterministic kernels on CPU (bit-exact resume); LEOD's cudnn.benchmark + TF32 on CUDA."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return lambda: None
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    fill_before = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Deterministic mode would also NaN-fill every new tensor (~7 000 fills, ~13 % of a CPU step) to expose
    # reads of unwritten memory; no op of a step reads such memory, so the weights are the same without it.
    torch.utils.deterministic.fill_uninitialized_memory = False

    def restore() -> None:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.utils.deterministic.fill_uninitialized_memory = fill_before

    return restore


def _forever(loader: Iterable[Any]) -> Iterator[Any]:
    """Batches without end: a finite loader is restarted (the streaming/mixed loaders never end)."""
    while True:
        empty = True
        batches = iter(loader)
        try:
            for batch in batches:
                empty = False
                yield batch
        finally:  # closed with us, not whenever it is collected
            getattr(batches, "close", lambda: None)()
        if empty:
            raise ValueError("the training loader yielded no batch")


def _accumulate(sums: dict[str, torch.Tensor], values: dict[str, torch.Tensor]) -> None:
    for k, v in values.items():
        v = v.detach().float()
        sums[k] = sums[k] + v if k in sums else v


_NAMES = {"iou_loss": "loss_iou", "obj_loss": "loss_obj", "cls_loss": "loss_cls"}


def _rename(metrics: dict[str, float]) -> dict[str, float]:
    return {_NAMES.get(k, k): v for k, v in metrics.items()}


def _progress(total: int, start: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, disable=not enabled or None, desc="train", unit="step",
                dynamic_ncols=True, leave=False)
