"""Checkpoints: the one leod weights format, the full training state, and the one reader of both.

Two kinds, both written atomically (a killed run never leaves a half-written file):
- training state ``out_dir/.work/last_ckpt.pt``: model, optimizer, scheduler, grad scaler, step, RNG states
  (python, numpy, torch, CUDA), loader state, RNN state store, loss history, model spec and config;
- weights (``last.pt`` / ``best.pt`` of training, the output of ``leod import-checkpoint``): model weights +
  ``ModelSpec`` (preset, camera) + config + meta, so ``load_detector(path)`` rebuilds the detector without
  any other input (as nanoGPT's ``model_args``).
Every command that needs a detector reads through :func:`read_weights` (``load_detector``,
``load_weights_into``), which accepts both kinds, the older ``leod-detector-v1`` files of import-checkpoint and
raw RVT/LEOD ``.ckpt`` files (translated by ``leod_core.model.rvt_layout``). Files are read with
``torch.load(weights_only=True)`` and a small allow-list (:func:`allowed_globals`): nothing in a file runs.
"""

from __future__ import annotations

import collections
import logging
import pickle
import random
import typing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from leod_core.atomic import atomic_path

if TYPE_CHECKING:  # the model package is imported lazily: checkpoint I/O must not need it
    from leod_core.cameras import CameraSpec
    from leod_core.model.detector import Detector

__all__ = [
    "FORMAT_VERSION", "ModelSpec", "allowed_globals", "safe_load", "save_weights", "save_checkpoint",
    "load_checkpoint", "read_weights", "load_state_strict", "load_weights_into", "load_detector", "capture_rng",
    "restore_rng",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# import-checkpoint wrote {"format": this, "preset", "camera", "state_dict"} before weights had one format;
# such files are read (converted on load), never written
_LEGACY_DETECTOR_FORMAT = "leod-detector-v1"
_CODE_RUNNERS = {"builtins.eval", "builtins.exec", "builtins.getattr", "builtins.__import__", "builtins.compile"}


@dataclass(frozen=True)
class ModelSpec:
    """What ``build_detector`` needs to rebuild the network."""

    preset: str  # nano | tiny | small | base
    camera: str | dict[str, Any]  # a built-in camera's name, or any other camera's full mapping

    @classmethod
    def of(cls, preset: str, camera: CameraSpec) -> ModelSpec:
        """The spec of a detector for ``camera`` (a built-in by its name: files stay as they were)."""
        return cls(preset, camera.name if camera.is_builtin else camera.to_dict())

    def camera_spec(self) -> CameraSpec:
        """The camera the weights were made for."""
        from leod_core.cameras import camera_from_mapping, get_camera

        return get_camera(self.camera) if isinstance(self.camera, str) else \
            camera_from_mapping(self.camera, "checkpoint spec.camera")

    @property
    def camera_name(self) -> str:
        return self.camera if isinstance(self.camera, str) else str(self.camera.get("name"))


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


def allowed_globals() -> list[Any]:
    """Types a weights-only load may construct besides tensors and plain containers."""
    allowed: list[Any] = [typing.Any, collections.defaultdict, collections.OrderedDict, dict, list, tuple, set,
                          int, float, str, bool, bytes]
    try:  # OmegaConf objects appear in Lightning hyper-parameters of RVT/LEOD files; plain data containers
        from omegaconf import DictConfig, ListConfig, nodes
        from omegaconf.base import ContainerMetadata, Metadata
        allowed += [DictConfig, ListConfig, ContainerMetadata, Metadata, nodes.AnyNode, nodes.StringNode,
                    nodes.IntegerNode, nodes.FloatNode, nodes.BooleanNode]
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return allowed


def safe_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with :func:`allowed_globals`; one-line errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: refusing to load checkpoint: it needs objects outside the allow-list "
                         f"({_unsafe_names(path, exc)}); loading them could run code") from None
    except (RuntimeError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable torch checkpoint ({str(exc).splitlines()[0]})") from None


def _unsafe_names(path: Path, exc: Exception) -> str:
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # not a zip checkpoint: torch cannot list them without unpickling
        unsafe = []
    ok = {f"{g.__module__}.{getattr(g, '__qualname__', getattr(g, '_name', ''))}" for g in allowed_globals()}
    bad = [u for u in unsafe if u not in ok and not u.startswith("builtins.") or u in _CODE_RUNNERS]
    return ", ".join(bad or unsafe) if unsafe else str(exc).splitlines()[0]


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a leod weights or training-state file (``leod-detector-v1`` files converted); clear errors."""
    ckpt = _as_leod(safe_load(path, map_location), Path(path))
    if ckpt is None:
        raise ValueError(f"{path}: not a leod checkpoint (needs 'model' and 'spec'; RVT/LEOD .ckpt files are "
                         "read by load_detector, or convert them with `leod import-checkpoint`)")
    return ckpt


def _as_leod(obj: Any, path: Path) -> dict[str, Any] | None:
    """``obj`` in the leod layout, or None when it is not a leod file (e.g. a raw RVT checkpoint)."""
    if not isinstance(obj, dict):
        return None
    if obj.get("format") == _LEGACY_DETECTOR_FORMAT:
        return {"format": FORMAT_VERSION, "model": obj["state_dict"],
                "spec": {"preset": obj["preset"], "camera": obj["camera"]}, "config": {}, "meta": {}}
    if "model" not in obj or "spec" not in obj:
        return None
    version = obj.get("format", 0)
    if not isinstance(version, int):
        raise ValueError(f"{path}: unknown checkpoint format {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path}: checkpoint format {version} is newer than this code ({FORMAT_VERSION})")
    return obj


def read_weights(path: str | Path, preset: str | None = None,
                 camera: CameraSpec | str | None = None) -> tuple[dict[str, torch.Tensor], ModelSpec]:
    """Detector weights (on CPU) and their spec from any file a leod command writes, or a raw RVT/LEOD ckpt.

    ``preset`` / ``camera``: what the caller's config expects; a file made for another one is refused with
    one line naming the file and both sides: a camera fits when its class count and padded input size are
    the checkpoint's. Raw RVT files record neither: the preset is inferred from the shapes, the camera is
    ``camera`` (or inferred from the class count) and must fit the class count.
    """
    path = Path(path)
    obj = safe_load(path)
    ckpt = _as_leod(obj, path)
    if ckpt is None:
        from leod_core.model.rvt_layout import rvt_layout

        state, preset_name, cam = rvt_layout(obj, path, preset, camera)
        return state, ModelSpec.of(preset_name, cam)
    spec = ModelSpec(**ckpt["spec"])
    _check_spec(path, spec, preset, camera)
    return ckpt["model"], spec


def _check_spec(path: Path, spec: ModelSpec, preset: str | None, camera: CameraSpec | str | None) -> None:
    from leod_core.cameras import resolve_camera

    if camera is not None:
        try:
            have = spec.camera_spec()
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        want = resolve_camera(camera)
        if not have.fits(want):
            raise ValueError(f"{path}: checkpoint is for camera {have.name!r} ({have.describe_fit()}), expected "
                             f"camera {want.name!r} ({want.describe_fit()})")
    if preset is not None and spec.preset != preset:
        raise ValueError(f"{path}: checkpoint is preset {spec.preset!r}, expected preset {preset!r}")


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path, spec: ModelSpec) -> None:
    """``model.load_state_dict(state, strict=True)`` with a one-line summary of what does not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise ValueError(f"{path}: weights do not fit preset {spec.preset!r} / camera {spec.camera_name!r}: "
                         f"{len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} unexpected "
                         f"(e.g. {unexpected[:2]}), {len(wrong)} shape mismatches (e.g. {wrong[:2]})")
    model.load_state_dict(state, strict=True)


def load_weights_into(model: nn.Module, path: str | Path, spec: ModelSpec) -> None:
    """Initialise ``model`` (built for ``spec``) from ``path`` (``leod train --init``)."""
    state, _ = read_weights(path, preset=spec.preset, camera=spec.camera_spec())
    load_state_strict(model, state, path, spec)


def load_detector(path: str | Path, map_location: str | torch.device = "cpu", *, preset: str | None = None,
                  camera: CameraSpec | str | None = None) -> Detector:
    """Rebuild the detector from one file alone (any :func:`read_weights` accepts), in eval mode.

    ``camera`` (a spec, a built-in name or a camera file): refuse weights whose class count or input size
    does not fit it.
    """
    from leod_core.model.presets import build_detector

    state, spec = read_weights(path, preset=preset, camera=camera)
    model = build_detector(spec.preset, spec.camera_spec())
    load_state_strict(model, state, path, spec)
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
    # through a file object: given a path, torch names the archive's root folder after the (random)
    # temporary file, so identical checkpoints would differ in bytes and in their DVC hash
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)
    return path
