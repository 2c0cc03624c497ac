"""``leod model-info``: parameter count, input padding, partition and feature-map sizes of a preset."""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run", "describe"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="nano", help="nano | tiny | small | base (default: nano)")
    parser.add_argument("--camera", default="synth", help="gen1 | gen4 | synth (default: synth)")


def describe(preset: str, camera: str) -> list[str]:
    """Lines of the report (no torch work beyond building the model)."""
    from leod_core.cameras import get_camera
    from leod_core.model.presets import PRESETS, build_detector

    cam = get_camera(camera)
    model = build_detector(preset, cam)
    spec = PRESETS[preset]
    n_params = sum(p.numel() for p in model.parameters())
    (rh, rw), (ih, iw) = cam.repr_hw, cam.input_hw
    lines = [
        f"preset: {preset} (embed_dim {spec.embed_dim}, dim_head {spec.dim_head}, fpn depth {spec.fpn_depth})",
        f"camera: {cam.name}, classes: {cam.num_classes} ({', '.join(cam.class_names)})",
        f"params: {n_params}",
        f"input: repr {rh}x{rw} zero-padded bottom/right to {ih}x{iw} (+{ih - rh} rows, +{iw - rw} cols)",
        f"partition: {cam.partition_hw[0]}x{cam.partition_hw[1]} (window and grid, all stages)",
    ]
    anchors = 0
    for i, (dim, stride) in enumerate(zip(model.backbone.stage_dims, model.backbone.strides), start=1):
        h, w = ih // stride, iw // stride
        heads = dim // spec.dim_head
        used = " -> FPN/head" if i >= 2 else ""
        if i >= 2:
            anchors += h * w
        lines.append(f"stage {i}: stride {stride}, {dim} ch, {h}x{w}, {heads} heads{used}")
    lines.append(f"anchors: {anchors}")
    return lines


def run(args: argparse.Namespace) -> int:
    for line in describe(args.preset, args.camera):
        print(line)
    return 0
