"""``leod predict RECORDING... --ckpt CKPT --out DIR``: a trained detector streamed over recordings.

A recording is a raw event file (any format ``leod import-prophesee`` reads) or an imported dataset
sequence folder. Per recording DIR gets ``NAME_bbox.npy`` (Prophesee dtype: ``leod evaluate-boxes``
reads it) and ``NAME.parquet``; ``--video`` adds ``NAME.mp4``, ``--gif`` ``NAME.gif`` (leod_core.predict).
Everything is checked before the work starts (formats, checkpoint against camera, output folder).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from flows.cli_args import add_params_arguments

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("recordings", nargs="+", metavar="RECORDING",
                        help="raw event files (e.g. NAME_td.dat) or imported dataset sequence folders")
    parser.add_argument("--ckpt", required=True, help="weights: a round's last.pt, import-checkpoint's output, "
                                                      "or an RVT/LEOD .ckpt")
    parser.add_argument("--out", required=True, help="output folder (one set of files per recording)")
    parser.add_argument("--camera", default=None,
                        help="a built-in camera name or a camera file (default: the camera the checkpoint records)")
    parser.add_argument("--track", action="store_true", help="online track ids (pseudo.tracker settings)")
    parser.add_argument("--every-ms", type=int, default=None, help="predict every N ms (default: predict.every_ms)")
    parser.add_argument("--at-labels", action="store_true",
                        help="predict only at the windows holding a label time (what leod evaluate scores)")
    parser.add_argument("--video", action="store_true", help="write NAME.mp4 (H.264; needs pip install 'leod[video]')")
    parser.add_argument("--gif", action="store_true", help="write NAME.gif, the first predict.gif_seconds")
    parser.add_argument("--speed", type=float, default=None,
                        help="video speed, 1 = real time (default: predict.speed)")
    parser.add_argument("--labels", default=None,
                        help="GT NAME_bbox.npy file or folder (default: beside each event file; a sequence "
                             "folder's own labels), drawn beside the predictions")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from leod_core.predict.run import prepare

    params = args.params if Path(args.params).exists() or args.params != "params.yaml" else None
    overrides = list(args.overrides)
    overrides += [f"predict.every_ms={args.every_ms}"] if args.every_ms is not None else []
    overrides += [f"predict.speed={args.speed}"] if args.speed is not None else []
    cfg = load_config(params, overrides)
    recs, _, cam = prepare(args.recordings, args.ckpt, args.out, args.camera, video=args.video, labels=args.labels)
    prepare_environment()
    from flows.predict import predict_flow

    results = run_flow(predict_flow, cfg.orchestration, recordings=[str(r.path) for r in recs], ckpt=args.ckpt,
                       out=args.out, params=params, overrides=overrides, camera=args.camera, track=args.track,
                       video=args.video, gif=args.gif, labels=args.labels, at_labels=args.at_labels,
                       device=args.device)
    for r in results:
        print(f"predict {r['name']}: {r['frames']} windows ({r['frames_per_s']:.1f}/s), {r['predicted']} predicted, "
              f"{r['boxes']} boxes -> {', '.join(Path(f).name for f in r['files'])}")
    print(f"predict: {len(results)} recording(s), camera {cam.name} -> {args.out}")
    return 0
