"""``leod model-info``: parameter count, input padding, partition and feature-map sizes of a preset on a
camera (``--camera NAME|FILE``, or ``dataset.camera`` of the params with ``-S`` overrides)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leod_core.cameras import CameraSpec

__all__ = ["add_arguments", "run", "describe"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from flows.cli_args import add_params_arguments

    parser.add_argument("--preset", default="nano", help="nano | tiny | small | base (default: nano)")
    parser.add_argument("--camera", default=None,
                        help="gen1 | gen4 | synth or a camera YAML file (default: dataset.camera of the params)")
    add_params_arguments(parser)


def describe(preset: str, camera: CameraSpec | str) -> list[str]:
    """Lines of the report (no torch work beyond building the model)."""
    from leod_core.cameras import resolve_camera
    from leod_core.model.presets import PRESETS, build_detector

    cam = resolve_camera(camera, key="--camera")
    model = build_detector(preset, cam)
    spec = PRESETS[preset]
    n_params = sum(p.numel() for p in model.parameters())
    (sh, sw), (rh, rw), (ih, iw) = cam.sensor_hw, cam.repr_hw, cam.input_hw
    period = f"{cam.label_period_us} us" if cam.label_period_us is not None else "from the data"
    lines = [
        f"preset: {preset} (embed_dim {spec.embed_dim}, dim_head {spec.dim_head}, fpn depth {spec.fpn_depth})",
        f"camera: {cam.name}, classes: {cam.num_classes} ({', '.join(cam.class_names)})",
        f"sensor: {sh}x{sw}" + (f", downsampled by 2 to {rh}x{rw}" if cam.downsample_by_2 else ""),
        f"params: {n_params}",
        f"input: repr {rh}x{rw} zero-padded bottom/right to {ih}x{iw} (+{ih - rh} rows, +{iw - rw} cols)",
        f"partition: {cam.partition_hw[0]}x{cam.partition_hw[1]} (window and grid, all stages; input a multiple "
        f"of {32 * cam.partition_split_32})",
        f"sequence length L: {cam.sequence_length}, tflip offset: {cam.tflip_offset}, label period: {period}",
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
    from pathlib import Path

    from flows.settings import load_config

    if args.camera is not None:
        camera: CameraSpec | str = args.camera
    else:  # the params' camera (a camera file there is relative to the params file)
        camera = load_config(args.params if Path(args.params).exists() else None, args.overrides).camera
    for line in describe(args.preset, camera):
        print(line)
    return 0
