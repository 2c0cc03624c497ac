"""``leod pseudo-label --round K``: pseudo-label the training split with round K-1's model.

Defaults: ckpt = <artifacts>/round_{K-1}/model/last.pt, kept GT = <artifacts>/round_0/labels/labels.parquet,
dataset = paths.dataset (train split), out = <artifacts>/round_K/labels. Writes ``labels.parquet`` (the
round's label table, checked against the kept GT first) and ``leod_export/`` (LEOD's pseudo-dataset
layout). Sequences run one after another here; the Prefect flow maps them in parallel.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from flows.cli import add_params_arguments

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--round", type=int, required=True, dest="round_idx", help="round index K >= 1")
    parser.add_argument("--ckpt", default=None, help="checkpoint (default: <artifacts>/round_{K-1}/model/last.pt)")
    parser.add_argument("--out", default=None, help="output folder (default: <artifacts>/round_K/labels)")
    parser.add_argument("--dataset", default=None, help="dataset root (default: paths.dataset)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.progress import Progress

    from leod_core.config import load_config
    from leod_core.labels.table import read_labels, write_labels
    from leod_core.layout import list_sequences
    from leod_core.pseudo.export import export_leod_layout
    from leod_core.pseudo.pipeline import check_round_table, num_reprs_of, pseudo_label_dataset
    from leod_core.train.checkpoint import load_detector

    cfg = load_config(args.params, args.overrides)
    k = args.round_idx
    if k < 1:
        raise ValueError(f"--round must be >= 1 (round 0 uses the sparse GT only), got {k}")
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    ckpt = Path(args.ckpt) if args.ckpt else cfg.round_dir(k - 1) / "model" / "last.pt"
    if not ckpt.exists():
        raise FileNotFoundError(f"checkpoint not found: {ckpt}")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dataset = Path(args.dataset or cfg.paths.dataset)
    out = Path(args.out) if args.out else cfg.round_dir(k) / "labels"
    camera = cfg.camera

    model = load_detector(ckpt, device)
    kept = read_labels(cfg.round_dir(0) / "labels" / "labels.parquet")
    seqs = list_sequences(dataset, "train", camera)
    with Progress(transient=True) as bar:
        task = bar.add_task(f"pseudo-label round {k}", total=len(seqs))
        df = pseudo_label_dataset(model, dataset, kept, cfg, camera,
                                  progress=lambda done, total: bar.update(task, completed=done))
    check_round_table(df, kept, {s.name: len(num_reprs_of(s)) for s in seqs}, use_gt=cfg.pseudo.use_gt)
    write_labels(df, out / "labels.parquet")
    export_leod_layout(df, dataset, out / "leod_export", camera)

    counts = df.groupby("source").size().to_dict() if len(df) else {}
    ignored = int(((df["source"] == "pseudo") & (df["class_id"] == 1024)).sum()) if len(df) else 0
    print(f"pseudo-label round {k} ({ckpt}): {len(seqs)} sequences, {len(df)} boxes: "
          f"gt {counts.get('gt', 0)}, pseudo {counts.get('pseudo', 0)} ({ignored} rejected -> ignore), "
          f"inpainted {counts.get('inpainted', 0)} -> {out}")
    return 0
