"""RVT/LEOD Lightning checkpoints (``.ckpt``): their layouts translated to leod weights, without running code.

Files are read by ``leod_core.train.checkpoint`` (the one reader: ``torch.load(weights_only=True)`` with an
allow-list of the non-tensor types real RVT/LEOD files carry); this module only makes sense of what such a
file holds. Accepted layouts: a Lightning checkpoint (``state_dict`` with ``mdl.``-prefixed keys), LEOD's
stripped weights file (the bare ``mdl.*`` dict) or a bare detector state dict. They record no leod
``ModelSpec``: the preset is inferred from the shapes, the camera from the class count (2: gen1, else gen4)
unless the caller names one.

``import_checkpoint`` writes the result in the one leod weights format (``save_weights``), so its output is
read by every command like a trained round's ``last.pt``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from leod_core.cameras import get_camera
from leod_core.model.detector import Detector
from leod_core.model.presets import PRESETS
from leod_core.train.checkpoint import ModelSpec, load_detector, safe_load, save_weights

__all__ = ["read_state_dict", "rvt_state_dict", "infer_preset", "rvt_weights", "import_checkpoint"]

log = logging.getLogger(__name__)

_CLS_KEY = "yolox_head.cls_preds.0.weight"


def rvt_state_dict(obj: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """The detector state dict (``mdl.`` prefix stripped) of a loaded RVT/LEOD checkpoint object."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: not a leod checkpoint and no RVT/LEOD state dict of tensors found "
                         "(expected a Lightning 'state_dict')")
    if any(k.startswith("mdl.") for k in obj):
        obj = {k[len("mdl."):]: v for k, v in obj.items() if k.startswith("mdl.")}
    return dict(obj)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Safely read an RVT/LEOD checkpoint file and return its detector state dict."""
    return rvt_state_dict(safe_load(path), path)


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


def rvt_weights(obj: Any, path: str | Path, preset: str | None = None,
                camera: str | None = None) -> tuple[dict[str, torch.Tensor], ModelSpec]:
    """(state dict, spec) of a loaded RVT/LEOD checkpoint; ``camera`` must fit its class count."""
    sd = rvt_state_dict(obj, path)
    try:
        preset = preset or infer_preset(sd)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if _CLS_KEY not in sd:
        raise ValueError(f"{path}: state dict has no {_CLS_KEY!r}: not an RVT/LEOD detector")
    n_cls = int(sd[_CLS_KEY].shape[0])
    camera = camera or ("gen1" if n_cls == 2 else "gen4")
    cam = get_camera(camera)
    if cam.num_classes != n_cls:
        raise ValueError(f"{path}: checkpoint has {n_cls} classes but camera {camera!r} has {cam.num_classes} "
                         f"({', '.join(cam.class_names)})")
    return sd, ModelSpec(preset, cam.name)


def import_checkpoint(src: str | Path, dst: str | Path, preset: str | None = None,
                      camera: str | None = None) -> Detector:
    """RVT/LEOD ``.ckpt`` -> leod weights file (the format of training's ``last.pt``); returns the detector."""
    model = load_detector(src, preset=preset, camera=camera)
    save_weights(dst, model.state_dict(), ModelSpec(model.preset, model.camera), meta={"imported_from": str(src)})
    log.info("imported %s as preset %s, camera %s -> %s", src, model.preset, model.camera, dst)
    return model
