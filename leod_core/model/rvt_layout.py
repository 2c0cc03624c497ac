"""What an RVT/LEOD Lightning checkpoint (``.ckpt``) holds, made sense of without running code.

Accepted layouts: a Lightning checkpoint (``state_dict`` with ``mdl.``-prefixed keys), LEOD's stripped
weights file (the bare ``mdl.*`` dict) or a bare detector state dict. They record no leod ``ModelSpec``:
the preset is inferred from the shapes, the camera from the class count (2: gen1, 3: gen4, 7: gen4 with
all classes) unless the caller names one. Reading the file is :mod:`leod_core.train.checkpoint`'s job
(the one reader), which calls :func:`rvt_layout` on what it loaded; this module imports nothing of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from leod_core.cameras import CameraSpec, camera_from_mapping, get_camera, resolve_camera
from leod_core.model.presets import PRESETS

__all__ = ["rvt_state_dict", "infer_preset", "rvt_layout"]

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


def _camera_for_classes(n_cls: int) -> CameraSpec:
    """The built-in an RVT/LEOD file of ``n_cls`` classes was most likely trained on."""
    if n_cls == 2:
        return get_camera("gen1")
    if n_cls == get_camera("gen4").num_classes:
        return get_camera("gen4")
    if n_cls == len(get_camera("gen4").all_class_names):
        return camera_from_mapping({"base": "gen4", "all_classes": True})
    return get_camera("gen4")  # refused below with both class counts


def rvt_layout(obj: Any, path: str | Path, preset: str | None = None,
               camera: CameraSpec | str | None = None) -> tuple[dict[str, torch.Tensor], str, CameraSpec]:
    """(state dict, preset, camera) of a loaded RVT/LEOD checkpoint; ``camera`` must fit its class count."""
    sd = rvt_state_dict(obj, path)
    try:
        preset = preset or infer_preset(sd)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if _CLS_KEY not in sd:
        raise ValueError(f"{path}: state dict has no {_CLS_KEY!r}: not an RVT/LEOD detector")
    n_cls = int(sd[_CLS_KEY].shape[0])
    cam = resolve_camera(camera, key="camera") if camera is not None else _camera_for_classes(n_cls)
    if cam.num_classes != n_cls:
        raise ValueError(f"{path}: checkpoint has {n_cls} classes but camera {cam.name!r} has {cam.num_classes} "
                         f"({', '.join(cam.class_names)})")
    return sd, preset, cam
