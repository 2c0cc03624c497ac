"""Checkpoints: full training state for resuming, and small weight files that rebuild the model alone.

Two kinds, both written atomically (a killed run never leaves a half-written file):
- training state ``out_dir/.work/last_ckpt.pt``: model, optimizer, scheduler, grad scaler, step, RNG states
  (python, numpy, torch, CUDA), loader state, RNN state store, loss history, model spec and config;
- weights ``last.pt`` / ``best.pt``: model weights + ``ModelSpec`` (preset, camera) + config, so
  ``load_detector(path)`` rebuilds the detector without any other input (as nanoGPT's ``model_args``).
Both are readable with ``torch.load(weights_only=True)``: only tensors and plain Python containers.
"""

from __future__ import annotations

import logging
import pickle
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from leod_core.atomic import atomic_path

if TYPE_CHECKING:  # the model package is imported lazily: checkpoint I/O must not need it
    from leod_core.model.detector import Detector

__all__ = [
    "FORMAT_VERSION", "ModelSpec", "save_weights", "save_checkpoint", "load_checkpoint", "load_detector",
    "capture_rng", "restore_rng",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelSpec:
    """What ``build_detector`` needs to rebuild the network."""

    preset: str  # nano | tiny | small | base
    camera: str  # gen1 | gen4 | synth


def save_weights(path: str | Path, model_state: dict[str, torch.Tensor], spec: ModelSpec,
                 config: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Path:
    """Write ``{"format", "model", "spec", "config", "meta"}`` atomically (tensors moved to CPU)."""
    payload = {
        "format": FORMAT_VERSION,
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
        "spec": asdict(spec),
        "config": config or {},
        "meta": meta or {},
    }
    return _save(payload, path)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a training-state dict atomically; it must hold at least ``model``, ``spec`` and ``step``."""
    missing = {"model", "spec", "step"} - set(state)
    if missing:
        raise ValueError(f"training checkpoint {path} lacks {sorted(missing)}")
    return _save({"format": FORMAT_VERSION, **state}, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by this module; a clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        why = next((ln.strip() for ln in str(exc).splitlines() if "Unsupported global" in ln), "unknown objects")
        raise ValueError(f"{path}: not a leod checkpoint ({why})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "spec" not in ckpt:
        raise ValueError(f"{path}: not a leod checkpoint (needs 'model' and 'spec'; "
                         "convert RVT/LEOD .ckpt files with `leod import-checkpoint`)")
    if ckpt.get("format", 0) > FORMAT_VERSION:
        raise ValueError(f"{path}: checkpoint format {ckpt['format']} is newer than this code ({FORMAT_VERSION})")
    return ckpt


def load_detector(path: str | Path, map_location: str | torch.device = "cpu") -> Detector:
    """Rebuild the detector from a weights or training checkpoint alone, in eval mode."""
    from leod_core.cameras import get_camera
    from leod_core.model.presets import build_detector

    ckpt = load_checkpoint(path, map_location)
    spec = ModelSpec(**ckpt["spec"])
    model = build_detector(spec.preset, get_camera(spec.camera))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit preset {spec.preset!r} / camera {spec.camera!r}: "
                         f"{str(exc).splitlines()[0]}") from None
    return model.to(map_location).eval()


def capture_rng() -> dict[str, Any]:
    """Global RNG states (python, numpy legacy, torch CPU, CUDA) as weights_only-safe values."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(key.astype(np.int64)), int(pos), int(has_gauss), float(gauss)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of ``capture_rng``; CUDA states are restored only when CUDA is present."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, key, pos, has_gauss, gauss_np = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss_np))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save(payload: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path
