"""``leod import-prophesee SRC DST --camera gen1|gen4|synth``: raw Prophesee data -> RVT layout + label tables.

SRC holds ``train/ val/ test/`` with ``<name>_td.dat`` (or RVT's ``_td.dat.h5`` / ``_td.h5``) and
``<name>_bbox.npy``; an already preprocessed RVT folder is read as it is (only ``labels_full.parquet``
is added per split).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator

from flows.cli import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="raw dataset folder (train/ val/ test/) or an RVT preprocessed folder")
    parser.add_argument("dst", help="output dataset root (RVT layout)")
    parser.add_argument("--camera", required=True, choices=["gen1", "gen4", "synth"])
    parser.add_argument("--workers", type=int, default=1, help="parallel sequence imports (processes)")
    add_params_arguments(parser)


def _progress_map(workers: int) -> Callable[[Callable, Iterable], Iterator]:
    """A ``map`` with a progress bar, over a process pool when ``workers > 1``."""
    from tqdm import tqdm

    def progress_map(fn: Callable, items: Iterable) -> Iterator:
        items = list(items)
        bar = tqdm(total=len(items), desc="sequences", unit="seq")
        try:
            if workers <= 1:
                for item in items:
                    yield fn(item)
                    bar.update()
                return
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as ex:
                for result in ex.map(fn, items):
                    yield result
                    bar.update()
        finally:
            bar.close()

    return progress_map


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from flows.runtime import prepare_environment, run_flow
    from leod_core.config import load_config

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    prepare_environment()
    from flows.import_data import import_flow

    # sequences are mapped as Prefect tasks; --workers > 1 widens the task runner of params.yaml
    # outside a repo there may be no params file (defaults then); -S overrides apply either way
    params = args.params if Path(args.params).exists() else None
    cfg = load_config(params, args.overrides)
    orch = cfg.orchestration
    if args.workers > 1:
        orch = dataclasses.replace(orch, max_workers=args.workers,
                                   task_runner="thread" if orch.task_runner == "sequential" else orch.task_runner)
    summaries = run_flow(import_flow, orch, src=args.src, dst=args.dst, camera=args.camera,
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
