"""``leod export-labels --round K [--frames FILE]``: frames for a person to label, with the round's boxes.

Writes event frames as PNG images and one MP4 per sequence, and the round's boxes (class, score, track
id; ignore boxes left out) as pre-annotations in Label Studio task JSON, CVAT for video 1.1 XML and
COCO JSON, with ``manifest.json`` mapping images and video frames back to sensor pixels and timestamps
(``leod import-labels`` reads it). Frames: a frame list (``leod suggest-frames``) or, without
``--frames``, every label frame of the train split that round 0's table leaves unlabelled.
"""

from __future__ import annotations

import argparse
import math

from flows.cli_args import add_params_arguments

FORMAT_CHOICES = ("label_studio", "cvat", "coco")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--round", type=int, required=True, dest="round_idx",
                        help="round K whose label table gives the pre-annotations")
    parser.add_argument("--frames", default=None,
                        help="frame list (Parquet with sequence, frame_idx; default: every unlabelled label frame)")
    parser.add_argument("--boxes", default=None,
                        help="label table of the pre-annotations (default: <artifacts>/round_K/labels/labels.parquet)")
    parser.add_argument("--out", default=None, help="export folder (default: <artifacts>/labelling/round_K/export)")
    parser.add_argument("--formats", nargs="+", choices=FORMAT_CHOICES, default=list(FORMAT_CHOICES),
                        help="task files to write (default: all three)")
    parser.add_argument("--no-video", action="store_true", help="no MP4 per sequence (PyAV not needed)")
    parser.add_argument("--scale", type=int, default=None,
                        help="image pixels per representation pixel (default: to predict.video_height)")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate of the videos (default 10)")
    parser.add_argument("--image-url-prefix", default="",
                        help="prefix of Label Studio's image URLs, e.g. /data/local-files/?d=export/ (default: none)")
    parser.add_argument("--dataset", default=None, help="dataset root (default: paths.dataset)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from flows.settings import load_config
    from leod_core.labelling.export import export_frames
    from leod_core.labelling.frame_list import read_frame_list
    from leod_core.labelling.paths import EXPORT_DIR, labelling_dir
    from leod_core.labelling.signals import unlabelled_frames
    from leod_core.labels.table import read_labels
    from leod_core.layout import list_sequences

    cfg = load_config(args.params, args.overrides)
    k = args.round_idx
    if k < 0:
        raise ValueError(f"--round must be >= 0, got {k}")
    if not args.fps > 0:
        raise ValueError(f"--fps must be > 0, got {args.fps}")
    boxes_p = Path(args.boxes) if args.boxes else cfg.layout.round(k).labels
    if not boxes_p.is_file():
        raise FileNotFoundError(f"round {k}'s labels not found: {boxes_p}"
                                + (f" (run leod pseudo-label --round {k} first)" if k >= 1 and not args.boxes else ""))
    table = read_labels(boxes_p)
    dataset = Path(args.dataset or cfg.paths.dataset)
    if args.frames:
        frames = read_frame_list(args.frames)
    else:  # the whole round: every label frame that holds no kept ground truth
        kept = read_labels(cfg.layout.kept_labels)
        parts = []
        for seq in list_sequences(dataset, "train", cfg.camera):
            mine = kept.loc[kept["sequence"] == seq.name, "frame_idx"].to_numpy(np.int64)
            idx = unlabelled_frames(np.load(seq.objframe_idx_2_repr_idx).ravel(), mine)
            parts.append(pd.DataFrame({"sequence": seq.name, "frame_idx": idx}))
        frames = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["sequence", "frame_idx"])
    scale = args.scale if args.scale is not None else max(1, math.ceil(cfg.predict.video_height / cfg.camera.repr_hw[0]))
    out = Path(args.out) if args.out else labelling_dir(cfg.layout, k) / EXPORT_DIR
    r = export_frames(frames, table, dataset, cfg.camera, out, k, scale, args.formats, video=not args.no_video,
                      fps=args.fps, image_url_prefix=args.image_url_prefix)
    seqs = len({f.sequence for f in r.manifest.frames})
    clipped = f" ({r.clipped} cut to the image)" if r.clipped else ""
    print(f"export-labels round {k}: {len(r.manifest.frames)} frames of {seqs} sequences, {r.boxes} boxes{clipped}, "
          f"{' '.join(args.formats)} -> {r.out}")
    return 0
