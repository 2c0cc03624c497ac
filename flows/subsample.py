"""``leod subsample``: write the round-0 sparse label table (WSOD/SSOD) and the withheld ground truth.

The stage's one module: a task (full GT table -> round-0 sparse labels + withheld GT), the flow that
logs it to MLflow, and ``run``, the command.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from prefect import flow
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.mlflow_log import stage_run
from flows.settings import load_config
from flows.stages import stage_config
from leod_core.config import SubsampleConfig
from leod_core.round_layout import LABELS_FILE, WITHHELD_FILE

__all__ = ["SubsampleResult", "subsample_labels", "subsample_flow"]


@dataclass(frozen=True)
class SubsampleResult:
    labels: Path
    withheld: Path
    kept_frames: int
    kept_boxes: int
    kept_sequences: int
    withheld_frames: int
    withheld_boxes: int

    def metrics(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("kept_frames", "kept_boxes", "kept_sequences", "withheld_frames",
                                              "withheld_boxes")}


def _frames(df) -> int:
    return df.groupby(["sequence", "frame_idx"]).ngroups if len(df) else 0


@task(name="subsample", cache_policy=NO_CACHE)
def subsample_labels(full_path: Path, out_dir: Path, sub: SubsampleConfig, seq_len: int) -> SubsampleResult:
    """Read ``labels_full.parquet``, keep frames (WSOD) or sequences (SSOD), write ``labels.parquet`` and
    ``withheld.parquet`` under ``out_dir``."""
    from leod_core.labels.subsample import subsample_table
    from leod_core.labels.table import read_labels, write_labels

    full = read_labels(full_path)
    kept, withheld = subsample_table(full, sub.setting, sub.ratio, seq_len, sub.split_offset)
    kept_p, withheld_p = Path(out_dir) / LABELS_FILE, Path(out_dir) / WITHHELD_FILE
    write_labels(kept, kept_p)
    write_labels(withheld, withheld_p)
    return SubsampleResult(kept_p, withheld_p, _frames(kept), len(kept),
                           int(kept["sequence"].nunique()), _frames(withheld), len(withheld))


@flow(name="subsample", validate_parameters=False)
def subsample_flow(params: str = "params.yaml", overrides: list[str] | None = None,
                   out: str | None = None) -> SubsampleResult:
    """Round-0 sparse labels (WSOD/SSOD per params) under ``out`` (default <artifacts>/round_0/labels)."""
    from leod_core.layout import labels_full_path

    cfg = load_config(params, overrides)
    full = labels_full_path(cfg.paths.dataset, "train")
    out_dir = Path(out) if out else cfg.layout.round(0).labels_dir
    with stage_run(cfg, "subsample", round_idx=0, deps=[cfg.paths.dataset]) as run:
        core = stage_config(cfg, "subsample", 0)
        result = subsample_labels(full, out_dir, core.subsample, core.data.sequence_length)
        run.log_metrics(result.metrics())
    return result


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config

    cfg = load_config(args.params, args.overrides)
    prepare_environment()

    r = run_flow(subsample_flow, cfg.orchestration, params=args.params, overrides=args.overrides, out=args.out)
    sub = cfg.subsample
    print(f"subsample {sub.setting} ratio={sub.ratio:g} split={sub.split_offset} L={cfg.data.sequence_length}: "
          f"kept {r.kept_frames} frames / {r.kept_boxes} boxes in {r.kept_sequences} sequences; "
          f"withheld {r.withheld_frames} frames / {r.withheld_boxes} boxes -> {r.labels.parent}")
    return 0
