"""``leod subsample``: write the round-0 sparse label table (WSOD/SSOD) and the withheld ground truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--out", default=None,
                        help="output folder (default: <paths.artifacts>/round_0/labels)")


def run(args: argparse.Namespace) -> int:
    from leod_core.config import load_config
    from leod_core.labels.subsample import subsample_table
    from leod_core.labels.table import read_labels, write_labels
    from leod_core.layout import labels_full_path

    cfg = load_config(args.params, args.overrides)
    full = read_labels(labels_full_path(cfg.paths.dataset, "train"))
    sub = cfg.subsample
    kept, withheld = subsample_table(full, sub.setting, sub.ratio, cfg.data.sequence_length, sub.split_offset)
    out = Path(args.out) if args.out else cfg.round_dir(0) / "labels"
    write_labels(kept, out / "labels.parquet")
    write_labels(withheld, out / "withheld.parquet")

    def frames(df):  # number of labelled frames
        return df.groupby(["sequence", "frame_idx"]).ngroups if len(df) else 0

    print(f"subsample {sub.setting} ratio={sub.ratio:g} split={sub.split_offset} L={cfg.data.sequence_length}: "
          f"kept {frames(kept)} frames / {len(kept)} boxes in {kept['sequence'].nunique()} sequences; "
          f"withheld {frames(withheld)} frames / {len(withheld)} boxes -> {out}")
    return 0
