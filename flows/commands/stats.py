"""``leod stats PATH``: statistics of a preprocessed dataset (per split: sequences, representations, label
frames, boxes per class, repr density) and, for any dataset, how realistic it is: events per pixel per
second of 50 ms windows, label frames per second, boxes per frame, class shares, box sizes, boxes with no
event in their window, track lengths, sensor size and duration (``leod_core.stats``).

PATH is a dataset in RVT layout (as ``leod import`` writes it), or event recordings without a preprocessing:
one recording file, a folder of them, or ``train/ val/ test/`` folders of them, each optionally beside its
``NAME_bbox.npy``/``.csv`` labels.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset root in RVT layout, or recordings: one file (.dat .raw .aedat4, "
                                        "RVT .h5), a folder of them, or train/ val/ test/ folders of them")
    parser.add_argument("--camera", default=None,
                        help="gen1 | gen4 | synth or a camera YAML file (class names, repr file, sensor size); "
                             "default for a dataset: a built-in guessed from the repr file name and size; for "
                             "recordings: none (sensor from the header or the events, classes by id)")
    parser.add_argument("--density-samples", type=int, default=3,
                        help="reprs read per sequence to estimate the fraction of non-zero cells (0: skip)")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="also write every number as JSON to PATH (atomically)")
    parser.add_argument("--max-windows", type=int, default=0, metavar="N",
                        help="dataset: representations read per sequence for the event rates, evenly spread "
                             "(0: all; every label frame's is read for the empty-box share anyway)")
    parser.add_argument("--sensor", default=None, metavar="HxW",
                        help="recordings: the sensor size where the files declare none (else inferred from "
                             "the largest event coordinates)")


def _guess_camera(root: Path) -> str:
    """The camera whose representation file name and size match the first sequence found.

    Names alone cannot tell gen1 from synth (both full-resolution ``event_representations.h5``),
    so the stored (H, W) decides; unknown sizes fall back to gen1/gen4 by file name.
    """
    from leod_core.cameras import CAMERAS
    from leod_core.events.h5_store import ReprReader

    for h5 in sorted(root.glob("*/*/event_representations_v2/*/*.h5")):
        with ReprReader(h5) as reader:
            hw = reader.hw
        for name, spec in CAMERAS.items():
            if h5.name == spec.repr_h5_name and hw == spec.repr_hw:
                return name
        return "gen4" if h5.name == CAMERAS["gen4"].repr_h5_name else "gen1"
    return "gen1"


def _is_preprocessed(root: Path) -> bool:
    """A folder with some ``<split>/<sequence>/labels_v2`` or ``event_representations_v2``."""
    from leod_core.layout import SPLITS

    return root.is_dir() and any(any(root.glob(f"{split}/*/{sub}")) for split in SPLITS
                                 for sub in ("labels_v2", "event_representations_v2"))


def run(args: argparse.Namespace) -> int:
    from leod_core.stats.sources import parse_hw

    root = Path(args.dataset)
    if not root.exists():
        raise FileNotFoundError(f"dataset folder or recording not found: {root}")
    if args.max_windows < 0:
        raise ValueError(f"--max-windows must be >= 0, got {args.max_windows}")
    if args.density_samples < 0:
        raise ValueError(f"--density-samples must be >= 0, got {args.density_samples}")
    sensor = parse_hw(args.sensor) if args.sensor else None
    if _is_preprocessed(root):
        if sensor is not None:
            raise ValueError("--sensor is for recordings; a dataset's sensor size is its camera's (--camera)")
        report, class_names = _dataset(root, args)
    else:
        report, class_names = _recordings(root, args, sensor)
    _print_realism(report)
    if args.json:  # everything is computed: a bad input above leaves no file
        from leod_core.eval.box_files import write_json

        write_json(report, args.json)
    return 0


def _dataset(root: Path, args: argparse.Namespace) -> tuple[dict, tuple[str, ...]]:
    """The per-split table of a preprocessed dataset (printed) and its realism report."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from leod_core.cameras import resolve_camera
    from leod_core.events.h5_store import ReprReader
    from leod_core.labels.rvt_labels import read_sequence_labels
    from leod_core.layout import SPLITS, list_sequences
    from leod_core.stats.realism import realism_report
    from leod_core.stats.sources import measure_preprocessed_sequence

    camera = resolve_camera(args.camera or _guess_camera(root), key="--camera")
    table = Table(title=f"{root} ({camera.name})")
    for col in ("split", "sequences", "reprs", "label frames", "boxes",
                *(f"boxes {c}" for c in camera.class_names), "other ids", "nonzero cells"):
        table.add_column(col, justify="right")
    found = False
    measured = []
    dataset_rows: dict[str, dict] = {}
    for split in SPLITS:
        if not (root / split).is_dir():
            continue
        found = True
        seqs = list_sequences(root, split, camera)
        n_reprs = n_frames = 0
        class_counts: dict[int, int] = {}
        density: list[float] = []
        for seq in seqs:
            seq.check_complete()
            n_reprs += len(np.load(seq.repr_timestamps))
            labels, starts, _ = read_sequence_labels(seq)
            n_frames += len(starts)
            ids, counts = np.unique(labels["class_id"], return_counts=True)
            for i, c in zip(ids.tolist(), counts.tolist()):
                class_counts[i] = class_counts.get(i, 0) + c
            if args.density_samples > 0:
                with ReprReader(seq.repr_h5) as reader:
                    for i in np.linspace(0, len(reader) - 1, min(args.density_samples, len(reader))).astype(int):
                        frame = reader.read(i, i + 1)
                        density.append(np.count_nonzero(frame) / frame.size)
            measured.append(measure_preprocessed_sequence(seq, split, args.max_windows))
        per_class = [class_counts.get(i, 0) for i in range(camera.num_classes)]
        other = sum(class_counts.values()) - sum(per_class)
        table.add_row(split, str(len(seqs)), str(n_reprs), str(n_frames), str(sum(class_counts.values())),
                      *map(str, per_class), str(other), f"{np.mean(density):.2%}" if density else "-")
        dataset_rows[split] = {"sequences": len(seqs), "reprs": n_reprs, "label_frames": n_frames,
                               "boxes_per_class": dict(zip(camera.class_names, per_class)), "other_ids": other,
                               "nonzero_cells": float(np.mean(density)) if density else None}
    if not found:
        raise FileNotFoundError(f"{root}: no split folder ({', '.join(SPLITS)})")
    Console().print(table)
    report = realism_report(measured, camera.class_names, input=str(root), kind="preprocessed",
                            camera=camera.name, dataset=dataset_rows)
    return report, camera.class_names


def _recordings(root: Path, args: argparse.Namespace, sensor: tuple[int, int] | None) -> tuple[dict, tuple[str, ...]]:
    """The realism report of event recordings (labelled or not)."""
    from leod_core.cameras import resolve_camera
    from leod_core.stats.realism import realism_report
    from leod_core.stats.sources import find_recordings, measure_recording

    camera = resolve_camera(args.camera, key="--camera") if args.camera else None
    recs = find_recordings(root)
    measured = [measure_recording(r, camera, sensor) for r in recs]
    names = camera.all_class_names or camera.class_names if camera else ()
    report = realism_report(measured, names, input=str(root), kind="recordings",
                            camera=camera.name if camera else None)
    return report, names


def _fmt(v: float | None, spec: str = ".3g") -> str:
    return "n/a" if v is None else format(v, spec)


def _stat(d: dict | None, keys: tuple[str, ...], spec: str = ".3g", brackets: bool = True) -> str:
    if d is None:
        return "n/a"
    first, *rest = (format(d[k], spec) for k in keys)
    if not rest:
        return first
    return f"{first} [{', '.join(rest)}]" if brackets else " / ".join([first, *rest])


def _rows(s: dict) -> list[tuple[str, str]]:
    """(metric, value) lines of one summary, in print order."""
    diag = s["box_size_diag"]
    tl = s["track_length"]
    rows = [
        ("sequences (labelled)", f"{s['sequences']} ({s['labelled_sequences']})"),
        ("sensor HxW (from)", f"{', '.join(s['sensor'])} ({', '.join(s['sensor_source'])})"),
        ("duration s total (median)",
         f"{s['duration_s']:.1f} ({_fmt((s['duration_s_per_sequence'] or {}).get('median'), '.2f')})"),
        ("50 ms windows", str(s["windows"])),
        ("ev/px/s median [p10, p90]", _stat(s["ev_px_s"], ("median", "p10", "p90"))),
    ]
    if "clipped_cell_share" in s:
        rows.append(("cells at count cutoff", "n/a" if s["clipped_cell_share"] is None else
                     f"{s['clipped_cell_share']:.2%}"))
    rows += [
        ("label frames", str(s["label_frames"]) if s["labelled_sequences"] else "n/a"),
        ("label fps median [p10, p90]", _stat(s["label_fps"], ("median", "p10", "p90"))),
        ("boxes", str(s["boxes"]) if s["labelled_sequences"] else "n/a"),
        ("boxes/frame mean (p90)",
         "n/a" if s["boxes_per_frame"] is None else f"{s['boxes_per_frame']['mean']:.2f} "
                                                     f"({s['boxes_per_frame']['p90']:.3g})"),
        ("class shares", "n/a" if not s["class_shares"] else
         " ".join(f"{k} {v:.0%}" for k, v in s["class_shares"].items())),
        ("box size px p10/med/p90", _stat(s["box_size_px"], ("p10", "median", "p90"), ".1f", brackets=False)),
        ("box size / diagonal", "n/a" if diag is None else
         " / ".join(f"{diag[k]:.1%}" for k in ("p10", "median", "p90"))),
        ("empty boxes (of checked)", "n/a" if s["empty_box_share"] is None else
         f"{s['empty_box_share']:.2%} ({s['empty_boxes']}/{s['boxes_checked']})"),
        ("track length med (mean, p90; n)",
         f"n/a ({s['track_length_note']})" if tl is None else
         f"{tl['median']:.3g} ({tl['mean']:.3g}, {tl['p90']:.3g}; {tl['tracks']})"),
    ]
    return rows


def _print_realism(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    columns = dict(report["splits"])
    if len(columns) > 1:
        columns["all"] = report["all"]
    table = Table(title=f"realism of {report['kind']} (50 ms windows)", caption=report["input"])
    table.add_column("")
    for name in columns:
        table.add_column(name, justify="right")
    rows = {name: _rows(summary) for name, summary in columns.items()}
    for i, (metric, _) in enumerate(next(iter(rows.values()))):
        table.add_row(metric, *(r[i][1] for r in rows.values()))
    Console().print(table)
