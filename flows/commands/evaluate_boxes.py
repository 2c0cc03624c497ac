"""``leod evaluate-boxes``: Prophesee mAP of anyone's per-sequence ``<sequence>_bbox.npy`` detections."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gt_dir", help="folder of ground-truth <sequence>_bbox.npy files")
    parser.add_argument("pred_dir", help="folder of predicted <sequence>_bbox.npy files (Prophesee dtype)")
    parser.add_argument("--camera", required=True,
                        help="gen1 | gen4 | synth or a camera YAML file (class names, evaluation filters)")
    parser.add_argument("--downsampled-by-2", action="store_true",
                        help="boxes are at half sensor resolution (RVT's gen4 evaluation)")
    parser.add_argument("--output", default=None, help="write the metrics as JSON to this file")


def print_metrics(metrics: dict, class_names: tuple[str, ...], title: str) -> None:
    """A rich table: one row per class (LEOD per-class metrics) plus the overall row."""
    from rich.console import Console
    from rich.table import Table

    from leod_core.eval.prophesee import METRIC_KEYS

    table = Table(title=title)
    table.add_column("class")
    for k in METRIC_KEYS:
        table.add_column(k, justify="right")
    for name in class_names:
        table.add_row(name, *(f"{metrics[f'{k}_{name}']:.4f}" for k in METRIC_KEYS))
    table.add_row("[bold]all[/bold]", *(f"[bold]{metrics[k]:.4f}[/bold]" for k in METRIC_KEYS))
    Console().print(table)
    print(f"{metrics['num_images']} frames, {metrics['num_gt']} GT boxes, {metrics['num_dt']} detections "
          f"(after the evaluation filters)")


def run(args: argparse.Namespace) -> int:
    from leod_core.cameras import resolve_camera
    from leod_core.eval.box_files import read_box_folder, write_json
    from leod_core.eval.prophesee import evaluate_detections

    camera = resolve_camera(args.camera, key="--camera")
    gt = read_box_folder(args.gt_dir, "ground-truth")
    if not gt:
        raise FileNotFoundError(f"no *_bbox.npy files in ground-truth folder {args.gt_dir}")
    dt = read_box_folder(args.pred_dir, "prediction")
    missing = sorted(set(gt) - set(dt))
    if missing:
        log.warning("%d of %d sequences have no prediction file (no detections), e.g. %s",
                    len(missing), len(gt), missing[0])
    metrics = evaluate_detections(gt, dt, camera, downsampled_by_2=args.downsampled_by_2)
    print_metrics(metrics, camera.class_names, f"Prophesee detection metrics ({camera.name}, {len(gt)} sequences)")
    if args.output:
        write_json(metrics, args.output)
        print(f"metrics -> {args.output}")
    return 0
