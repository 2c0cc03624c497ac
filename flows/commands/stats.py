"""``leod stats DST``: per split, sequences, representations, label frames, boxes per class, repr density."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset root in RVT layout")
    parser.add_argument("--camera", default=None,
                        help="gen1 | gen4 | synth or a camera YAML file (class names, repr file); default: a built-in "
                             "guessed from the repr file name and size")
    parser.add_argument("--density-samples", type=int, default=3,
                        help="reprs read per sequence to estimate the fraction of non-zero cells (0: skip)")


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


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from leod_core.cameras import resolve_camera
    from leod_core.events.h5_store import ReprReader
    from leod_core.labels.rvt_labels import read_sequence_labels
    from leod_core.layout import SPLITS, list_sequences

    root = Path(args.dataset)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    camera = resolve_camera(args.camera or _guess_camera(root), key="--camera")
    table = Table(title=f"{root} ({camera.name})")
    for col in ("split", "sequences", "reprs", "label frames", "boxes",
                *(f"boxes {c}" for c in camera.class_names), "other ids", "nonzero cells"):
        table.add_column(col, justify="right")
    found = False
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
        per_class = [class_counts.get(i, 0) for i in range(camera.num_classes)]
        other = sum(class_counts.values()) - sum(per_class)
        table.add_row(split, str(len(seqs)), str(n_reprs), str(n_frames), str(sum(class_counts.values())),
                      *map(str, per_class), str(other), f"{np.mean(density):.2%}" if density else "-")
    if not found:
        raise FileNotFoundError(f"{root}: no split folder ({', '.join(SPLITS)})")
    Console().print(table)
    return 0
