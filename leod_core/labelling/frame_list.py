"""The frame list file (Parquet): what ``leod suggest-frames`` writes and ``leod export-labels`` reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leod_core.atomic import atomic_path

__all__ = ["write_frame_list", "read_frame_list"]


def write_frame_list(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` atomically as Parquet (no index; the same frame gives the same bytes)."""
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
    return Path(path)


def read_frame_list(path: str | Path) -> pd.DataFrame:
    """A frame list with at least ``sequence`` and ``frame_idx`` (other columns kept); one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"frame list not found: {path}")
    try:
        df = pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path}: not a Parquet frame list ({exc})") from None
    missing = [c for c in ("sequence", "frame_idx") if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: frame list without columns {missing}")
    df["sequence"] = df["sequence"].astype(str)
    df["frame_idx"] = df["frame_idx"].astype(np.int64)
    if df.duplicated(["sequence", "frame_idx"]).any():
        raise ValueError(f"{path}: a frame is listed twice")
    return df
