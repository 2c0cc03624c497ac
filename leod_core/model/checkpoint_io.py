"""Import RVT/LEOD Lightning checkpoints (``.ckpt``) into a :class:`Detector`, without running pickled code.

Checkpoints are read with ``torch.load(weights_only=True)`` and a small allow-list of the non-tensor
types real RVT/LEOD files carry (OmegaConf containers in hyper-parameters, ``typing.Any``,
``collections.defaultdict``). Anything else (e.g. a pickle whose REDUCE calls ``os.system``) is refused
with an error naming the offending globals; nothing in the file is executed.

Accepted layouts: a Lightning checkpoint (``state_dict`` with ``mdl.``-prefixed keys), LEOD's stripped
weights file (the bare ``mdl.*`` dict) or a bare detector state dict.
"""

from __future__ import annotations

import collections
import logging
import pickle
import typing
from pathlib import Path
from typing import Any

import torch

from leod_core.atomic import atomic_path
from leod_core.cameras import get_camera
from leod_core.model.detector import Detector
from leod_core.model.presets import PRESETS, build_detector

__all__ = ["allowed_globals", "read_state_dict", "infer_preset", "load_rvt_checkpoint", "detector_payload",
           "detector_from_payload", "save_detector", "import_checkpoint"]

log = logging.getLogger(__name__)

PAYLOAD_FORMAT = "leod-detector-v1"
_CODE_RUNNERS = {"builtins.eval", "builtins.exec", "builtins.getattr", "builtins.__import__", "builtins.compile"}


def allowed_globals() -> list[Any]:
    """Types a weights-only load may construct besides tensors and plain containers."""
    allowed: list[Any] = [typing.Any, collections.defaultdict, collections.OrderedDict, dict, list, tuple, set,
                          int, float, str, bool, bytes]
    try:  # OmegaConf objects appear in Lightning hyper-parameters; they are plain data containers
        from omegaconf import DictConfig, ListConfig, nodes
        from omegaconf.base import ContainerMetadata, Metadata
        allowed += [DictConfig, ListConfig, ContainerMetadata, Metadata, nodes.AnyNode, nodes.StringNode,
                    nodes.IntegerNode, nodes.FloatNode, nodes.BooleanNode]
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return allowed


def _safe_load(path: Path) -> Any:
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # not a zip checkpoint: torch cannot list them without unpickling
            unsafe = []
        ok = {f"{g.__module__}.{getattr(g, '__qualname__', getattr(g, '_name', ''))}" for g in allowed_globals()}
        bad = [u for u in unsafe if u not in ok and not u.startswith("builtins.") or u in _CODE_RUNNERS]
        names = ", ".join(bad or unsafe) if unsafe else str(exc).splitlines()[0]
        raise ValueError(f"{path}: refusing to load checkpoint: it needs objects outside the allow-list "
                         f"({names}); loading them could run code") from None
    except (RuntimeError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable torch checkpoint ({str(exc).splitlines()[0]})") from None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Safely read a checkpoint and return the detector state dict (``mdl.`` prefix stripped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    obj = _safe_load(path)
    if isinstance(obj, dict) and obj.get("format") == PAYLOAD_FORMAT:
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: no state dict of tensors found (expected a Lightning 'state_dict')")
    if any(k.startswith("mdl.") for k in obj):
        obj = {k[len("mdl."):]: v for k, v in obj.items() if k.startswith("mdl.")}
    return dict(obj)


def infer_preset(state_dict: dict[str, torch.Tensor]) -> str:
    """Preset whose widths match the checkpoint (embed dim and FPN depth)."""
    key = "backbone.stages.0.downsample_cf2cl.conv.weight"
    if key not in state_dict:
        raise ValueError(f"state dict has no {key!r}: not an RVT/LEOD detector")
    embed = int(state_dict[key].shape[0])
    n_bottlenecks = len({k.split(".")[3] for k in state_dict if k.startswith("fpn.C3_p4.m.")})
    for name, spec in PRESETS.items():
        if spec.embed_dim == embed and round(3 * spec.fpn_depth) == n_bottlenecks:
            return name
    raise ValueError(f"no preset with embed_dim {embed} and {n_bottlenecks} CSP bottlenecks; "
                     f"known: {', '.join(PRESETS)}")


def _num_classes(state_dict: dict[str, torch.Tensor]) -> int:
    return int(state_dict["yolox_head.cls_preds.0.weight"].shape[0])


def load_rvt_checkpoint(path: str | Path, preset: str | None = None, camera: str | None = None) -> Detector:
    """Build the detector (preset/camera inferred when not given) and load the checkpoint strictly."""
    sd = read_state_dict(path)
    preset = preset or infer_preset(sd)
    n_cls = _num_classes(sd)
    camera = camera or ("gen1" if n_cls == 2 else "gen4")
    cam = get_camera(camera)
    if cam.num_classes != n_cls:
        raise ValueError(f"{path}: checkpoint has {n_cls} classes but camera {camera} has {cam.num_classes}")
    model = build_detector(preset, cam)
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [f"{k} {tuple(sd[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if k in sd and sd[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise ValueError(f"{path}: does not match preset {preset!r} / camera {camera!r}: "
                         f"{len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} unexpected "
                         f"(e.g. {unexpected[:2]}), {len(wrong)} shape mismatches (e.g. {wrong[:2]})")
    model.load_state_dict(sd, strict=True)
    return model


def detector_payload(model: Detector) -> dict[str, Any]:
    """What a leod detector file stores: enough to rebuild the model (preset, camera) plus weights."""
    return {"format": PAYLOAD_FORMAT, "preset": model.preset, "camera": model.camera,
            "state_dict": model.state_dict()}


def detector_from_payload(payload: dict[str, Any]) -> Detector:
    if payload.get("format") != PAYLOAD_FORMAT:
        raise ValueError(f"not a leod detector payload (format {payload.get('format')!r})")
    model = build_detector(payload["preset"], payload["camera"])
    model.load_state_dict(payload["state_dict"], strict=True)
    return model


def save_detector(model: Detector, path: str | Path) -> Path:
    """Write :func:`detector_payload` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(detector_payload(model), tmp)
    return path


def import_checkpoint(src: str | Path, dst: str | Path, preset: str | None = None,
                      camera: str | None = None) -> Detector:
    """RVT/LEOD ``.ckpt`` -> leod detector file; returns the loaded detector."""
    model = load_rvt_checkpoint(src, preset, camera)
    save_detector(model, dst)
    log.info("imported %s as preset %s, camera %s -> %s", src, model.preset, model.camera, dst)
    return model
