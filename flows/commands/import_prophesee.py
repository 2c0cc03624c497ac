"""``leod import SRC DST --camera ...`` (also ``leod import-prophesee``): raw recordings -> RVT layout + label tables.

SRC holds ``train/ val/ test/`` with, per sequence, a recording in any format of
:mod:`leod_core.events.readers` (``NAME_td.dat``, ``NAME_td.raw`` / ``NAME.raw`` EVT 2.0/3.0,
``NAME.aedat4``, RVT's ``NAME_td.dat.h5`` / ``NAME_td.h5``) beside ``NAME_bbox.npy`` or ``NAME_bbox.csv``;
an already preprocessed RVT folder is read as it is (only ``labels_full.parquet`` is added per split).
"""

from __future__ import annotations

import argparse

from flows.cli import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="raw dataset folder (train/ val/ test/ of recordings + labels) or an RVT "
                                    "preprocessed folder")
    parser.add_argument("dst", help="output dataset root (RVT layout)")
    parser.add_argument("--camera", default=None,
                        help="gen1 | gen4 | synth or a camera YAML file (default: dataset.camera of the params)")
    parser.add_argument("--workers", type=int, default=1, help="parallel sequence imports (processes)")
    add_params_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from flows.runtime import config_for_command, prepare_environment, run_flow

    params, cfg, orch = config_for_command(args.params, args.overrides, args.workers)  # sequences = mapped tasks
    camera = args.camera if args.camera is not None else cfg.dataset.camera  # a name or a camera's mapping
    prepare_environment()
    from flows.import_data import import_flow

    summaries = run_flow(import_flow, orch, src=args.src, dst=args.dst, camera=camera,
                         params=params, overrides=args.overrides)
    for split in sorted({s.split for s in summaries}):
        rows = [s for s in summaries if s.split == split]
        repaired = sum(s.timestamps_repaired for s in rows)
        print(f"{split}: {len(rows)} sequences, {sum(s.num_reprs for s in rows)} reprs, "
              f"{sum(s.num_label_frames for s in rows)} label frames, {sum(s.num_boxes for s in rows)} boxes, "
              f"{sum(s.num_events for s in rows)} events read"
              + (f", {repaired} timestamps repaired" if repaired else ""))
    print(f"dataset written to {args.dst}")
    return 0
