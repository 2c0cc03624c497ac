"""``leod synth DST``: write the synthetic event-camera dataset as raw Prophesee files.

Output: ``DST/{train,val,test}/<name>_td.dat`` + ``<name>_bbox.npy``, to be preprocessed by
``leod import-prophesee`` like real data. Sequences are generated in parallel worker processes; the
result does not depend on ``--workers`` (one RNG per sequence).
"""

from __future__ import annotations

import argparse
import logging
import time

from flows.cli import add_params_arguments

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dst", help="output folder (replaced atomically)")
    from leod_core.synth.presets import SYNTH_PRESETS

    parser.add_argument("--preset", default="default", choices=list(SYNTH_PRESETS),
                        help="dataset preset (default: default; gen1like: Gen1-like labels, motion and noise)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default: 1)")
    add_params_arguments(parser)


def print_summary(summaries: list, class_names: tuple[str, ...], seconds: float) -> None:
    """Per-split sequence, event and box counts."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"synthetic dataset ({seconds:.1f} s)")
    for col in ("split", "sequences", "events", "ev/s (mean)", *(f"boxes {c}" for c in class_names), "ego"):
        table.add_column(col, justify="right")
    for split in ("train", "val", "test"):
        rows = [s for s in summaries if s.split == split]
        if not rows:
            continue
        n_ev = sum(s.n_events for s in rows)
        dur = sum(s.duration_s for s in rows)
        per_class = [sum(s.n_boxes_per_class[i] for s in rows) for i in range(len(class_names))]
        table.add_row(split, str(len(rows)), f"{n_ev:,}", f"{n_ev / dur:,.0f}", *(f"{n:,}" for n in per_class),
                      str(sum(s.ego_motion for s in rows)))
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    from flows.runtime import config_for_command, prepare_environment, run_flow

    params, cfg, orch = config_for_command(args.params, args.overrides, args.workers)  # sequences = mapped tasks
    prepare_environment()
    from flows.synth import synth_flow

    t0 = time.perf_counter()
    summaries = run_flow(synth_flow, orch, dst=args.dst, preset=args.preset, seed=args.seed,
                         params=params, overrides=args.overrides)
    n_cls = len(summaries[0].n_boxes_per_class) if summaries else 0
    # the camera's class names where the synthetic classes are the camera's
    names = cfg.camera.class_names if n_cls == cfg.camera.num_classes else tuple(f"class {i}" for i in range(n_cls))
    print_summary(summaries, names, time.perf_counter() - t0)
    print(f"synthetic dataset ({args.preset}, seed {args.seed}) -> {args.dst}")
    return 0
