"""Detector size presets (RVT tiny/small/base, plus ``nano`` for CPU runs on the synthetic camera).

A preset fixes only the width knobs, as RVT's ``config/experiment/gen1/{tiny,small,base}.yaml`` do;
everything camera-dependent (partition size, classes) comes from the :class:`CameraSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from leod_core.cameras import CameraSpec, resolve_camera
from leod_core.model.backbone import BackboneSpec
from leod_core.model.detector import Detector

__all__ = ["PresetSpec", "PRESETS", "build_detector"]


@dataclass(frozen=True)
class PresetSpec:
    embed_dim: int  # stage dims embed_dim * (1, 2, 4, 8); head hidden = 2 * embed_dim
    dim_head: int  # attention head width
    fpn_depth: float  # CSP bottlenecks per block = round(3 * depth)


PRESETS: dict[str, PresetSpec] = {
    # nano: chosen by measurement for 2-core CPU training at 128x160 (bench/bench_model.py)
    "nano": PresetSpec(embed_dim=16, dim_head=16, fpn_depth=0.33),
    "tiny": PresetSpec(embed_dim=32, dim_head=32, fpn_depth=0.33),  # RVT-T, 4 405 141 params on Gen1
    "small": PresetSpec(embed_dim=48, dim_head=24, fpn_depth=0.33),  # RVT-S, 9 870 165
    "base": PresetSpec(embed_dim=64, dim_head=32, fpn_depth=0.67),  # RVT-B, 18 536 469
}


def build_detector(preset: str, camera: CameraSpec | str) -> Detector:
    """Build a randomly initialised detector of a preset for a camera (spec, built-in name or camera file)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; allowed: {', '.join(PRESETS)}")
    cam = resolve_camera(camera, key="camera")
    p = PRESETS[preset]
    spec = BackboneSpec(embed_dim=p.embed_dim, dim_head=p.dim_head, partition_hw=cam.partition_hw)
    return Detector(spec, fpn_depth=p.fpn_depth, num_classes=cam.num_classes, preset=preset, camera=cam.name)
