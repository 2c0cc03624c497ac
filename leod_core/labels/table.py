"""The Parquet label table: one schema for ground truth, sparse GT, pseudo labels and ignore boxes.

Columns (docs/ARCHITECTURE.md "Stores"): sequence, frame_idx (representation index), t (int64 us),
x y w h (float32, top-left xywh in full-sensor pixels), class_id (uint16; 1024 = ignore),
class_confidence, objectness (float32), is_gt (bool), track_id (int32, -1 none),
source (gt | pseudo | inpainted | human: boxes a person drew or checked, ``leod import-labels``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from leod_core.atomic import atomic_path

__all__ = ["LABEL_SCHEMA", "SOURCES", "empty_labels", "validate_labels", "read_labels", "write_labels"]

LABEL_SCHEMA = pa.schema([
    ("sequence", pa.string()),
    ("frame_idx", pa.int64()),
    ("t", pa.int64()),
    ("x", pa.float32()),
    ("y", pa.float32()),
    ("w", pa.float32()),
    ("h", pa.float32()),
    ("class_id", pa.uint16()),
    ("class_confidence", pa.float32()),
    ("objectness", pa.float32()),
    ("is_gt", pa.bool_()),
    ("track_id", pa.int32()),
    ("source", pa.string()),
])
SOURCES = ("gt", "pseudo", "inpainted", "human")
_NUMPY_TYPES = {f.name: f.type.to_pandas_dtype() for f in LABEL_SCHEMA if f.name not in ("sequence", "source")}


def empty_labels() -> pd.DataFrame:
    """An empty table with the right columns and dtypes."""
    return LABEL_SCHEMA.empty_table().to_pandas()


def validate_labels(df: pd.DataFrame, where: str = "labels") -> pd.DataFrame:
    """Return ``df`` with schema dtypes, sorted by (sequence, frame_idx); raise ValueError on bad content."""
    missing = [f.name for f in LABEL_SCHEMA if f.name not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing columns {missing}")
    out = df[[f.name for f in LABEL_SCHEMA]].copy()
    for name, dtype in _NUMPY_TYPES.items():
        out[name] = out[name].astype(dtype)
    out["sequence"] = out["sequence"].astype(str)
    out["source"] = out["source"].astype(str)
    bad_src = set(out["source"].unique()) - set(SOURCES)
    if bad_src:
        raise ValueError(f"{where}: unknown source values {sorted(bad_src)}; allowed {SOURCES}")
    for col in ("class_confidence", "objectness"):
        v = out[col].to_numpy()
        if len(v) and (not np.all(np.isfinite(v)) or v.min() < 0 or v.max() > 1):
            raise ValueError(f"{where}: {col} outside [0, 1]")
    for col in ("x", "y", "w", "h"):
        if len(out) and not np.all(np.isfinite(out[col].to_numpy())):
            raise ValueError(f"{where}: non-finite {col}")
    if len(out) and (out["frame_idx"].min() < 0):
        raise ValueError(f"{where}: negative frame_idx")
    return out.sort_values(["sequence", "frame_idx"], kind="stable").reset_index(drop=True)


def read_labels(path: str | Path) -> pd.DataFrame:
    """Read and validate a label table."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"label table not found: {path}")
    return validate_labels(pq.read_table(path).to_pandas(), where=str(path))


def write_labels(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate and write a label table atomically (temp file renamed into place)."""
    df = validate_labels(df, where=str(path))
    table = pa.Table.from_pandas(df, schema=LABEL_SCHEMA, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)
