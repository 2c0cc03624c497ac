"""Task of the ``subsample`` stage: full GT table -> round-0 sparse labels + withheld GT."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from leod_core.config import SubsampleConfig
from leod_core.round_layout import LABELS_FILE, WITHHELD_FILE

__all__ = ["SubsampleResult", "subsample_labels"]


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
