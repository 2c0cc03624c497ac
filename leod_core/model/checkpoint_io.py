"""``leod import-checkpoint``: an RVT/LEOD Lightning checkpoint (``.ckpt``) to the one leod weights format.

The file is read by :mod:`leod_core.train.checkpoint` (the one reader: ``torch.load(weights_only=True)``
with an allow-list of the non-tensor types real RVT/LEOD files carry), its layout made sense of by
:mod:`leod_core.model.rvt_layout`; the result is written with ``save_weights``, so it is read by every
command like a trained round's ``last.pt``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from leod_core.cameras import CameraSpec
from leod_core.model.detector import Detector
from leod_core.model.presets import build_detector
from leod_core.model.rvt_layout import infer_preset, rvt_state_dict
from leod_core.train.checkpoint import load_state_strict, read_weights, safe_load, save_weights

__all__ = ["read_state_dict", "rvt_state_dict", "infer_preset", "import_checkpoint"]

log = logging.getLogger(__name__)

def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Safely read an RVT/LEOD checkpoint file and return its detector state dict."""
    return rvt_state_dict(safe_load(path), path)


def import_checkpoint(src: str | Path, dst: str | Path, preset: str | None = None,
                      camera: CameraSpec | str | None = None) -> Detector:
    """RVT/LEOD ``.ckpt`` -> leod weights file (the format of training's ``last.pt``); returns the detector."""
    state, spec = read_weights(src, preset=preset, camera=camera)
    model = build_detector(spec.preset, spec.camera_spec())
    load_state_strict(model, state, src, spec)
    save_weights(dst, model.state_dict(), spec, meta={"imported_from": str(src)})
    log.info("imported %s as preset %s, camera %s -> %s", src, model.preset, model.camera, dst)
    return model.eval()
