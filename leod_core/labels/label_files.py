"""A sequence's label file: Prophesee ``NAME_bbox.npy`` or ``NAME_bbox.csv``, read into the Prophesee
bbox dtype and validated by the same function (:func:`leod_core.labels.boxes.validate_prophesee_boxes`).

CSV: a header line naming the columns, in any order: ``t`` (microseconds, integer, the recording's
clock), ``x``, ``y``, ``w``, ``h`` (top-left corner and size in sensor pixels), ``class`` (integer id,
``class_id`` is accepted too), optionally ``class_confidence`` (default 1) and ``track_id`` (integer,
default 0). One row per box. A missing or unknown column, an empty or non-numeric cell, or a
non-integer time, class or track id is one ValueError naming the file, the column and the line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leod_core.labels.boxes import validate_prophesee_boxes

__all__ = ["NPY_SUFFIX", "CSV_SUFFIX", "LABEL_SUFFIXES", "LABEL_FORMATS", "read_label_file", "read_box_csv",
           "write_box_csv", "write_label_file"]

NPY_SUFFIX, CSV_SUFFIX = "_bbox.npy", "_bbox.csv"
#: the endings of a sequence's label file (``NAME<suffix>``)
LABEL_SUFFIXES = (NPY_SUFFIX, CSV_SUFFIX)
_REQUIRED = ("t", "x", "y", "w", "h", "class")
_OPTIONAL = ("class_confidence", "track_id")
_INTEGER = {"t", "class", "track_id"}
_FIELD = {"class": "class_id"}  # CSV column -> bbox dtype field
#: label file formats a writer can be asked for -> the file ending
LABEL_FORMATS = {"npy": NPY_SUFFIX, "csv": CSV_SUFFIX}


def read_label_file(path: str | Path) -> np.ndarray:
    """Boxes of a ``*_bbox.npy`` or ``*_bbox.csv`` file, validated, in the Prophesee bbox dtype."""
    path = Path(path)
    if path.name.endswith(".csv"):
        return read_box_csv(path)
    try:
        raw = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read box file ({exc})") from None
    return validate_prophesee_boxes(raw, source=str(path))


def read_box_csv(path: str | Path) -> np.ndarray:
    """Boxes of a label CSV (module docstring), validated like a ``.npy``."""
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pandas' EmptyDataError/ParserError are ValueErrors
        raise ValueError(f"{path}: cannot read label CSV ({str(exc).splitlines()[0]})") from None
    table.columns = [str(c).strip() for c in table.columns]
    if "class_id" in table.columns and "class" not in table.columns:
        table = table.rename(columns={"class_id": "class"})
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: label CSV lacks column(s) {', '.join(missing)} (header needs "
                         f"{','.join(_REQUIRED)}; optional {', '.join(_OPTIONAL)})")
    unknown = [c for c in table.columns if c not in _REQUIRED + _OPTIONAL]
    if unknown:
        raise ValueError(f"{path}: label CSV has unknown column(s) {', '.join(unknown)} (allowed: "
                         f"{', '.join(_REQUIRED + _OPTIONAL)})")
    boxes = np.zeros(len(table), dtype=[("t", "<i8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                                        ("class_id", "<u4"), ("track_id", "<u4"), ("class_confidence", "<f4")])
    boxes["class_confidence"] = 1.0
    for column in table.columns:
        values = _numeric_column(table[column], column, path)
        boxes[_FIELD.get(column, column)] = values
    return validate_prophesee_boxes(boxes, source=str(path))


def _numeric_column(cells: object, column: str, path: Path) -> np.ndarray:
    import pandas as pd

    text = cells.str.strip()  # type: ignore[attr-defined]
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        row = int(bad[0])
        what = "empty cell" if text.iloc[row] == "" else f"not a finite number ({text.iloc[row]!r})"
        raise ValueError(f"{path}: column {column}, line {row + 2}: {what}")
    if column in _INTEGER:
        wrong = np.flatnonzero((values != np.round(values)) | (values < 0) | (values >= 2**63 if column == "t"
                                                                             else values >= 2**32))
        if len(wrong):
            row = int(wrong[0])
            raise ValueError(f"{path}: column {column}, line {row + 2}: {text.iloc[row]!r} is not a "
                             f"non-negative integer")
        return values.astype(np.int64)
    if column in ("w", "h") and np.any(values < 0):  # the shared check would not name the column
        row = int(np.flatnonzero(values < 0)[0])
        raise ValueError(f"{path}: column {column}, line {row + 2}: negative box size {text.iloc[row]!r}")
    return values


def write_box_csv(path: str | Path, boxes: np.ndarray) -> Path:
    """Write Prophesee boxes as a label CSV that :func:`read_box_csv` reads back to the same values.

    Coordinates are written as the exact decimal of their float32 value (via float64), so no value moves on
    the way back; the file appears complete or not at all.
    """
    from leod_core.atomic import atomic_path

    boxes = validate_prophesee_boxes(np.asarray(boxes), source=str(path))
    columns = (*_REQUIRED, *_OPTIONAL)
    cells = {c: boxes[_FIELD.get(c, c)] for c in columns}
    lines = [",".join(columns)]
    for i in range(len(boxes)):
        lines.append(",".join(str(int(cells[c][i])) if c in _INTEGER else repr(float(cells[c][i]))
                              for c in columns))
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return path


def write_label_file(stem: str | Path, boxes: np.ndarray, label_format: str = "npy") -> Path:
    """``STEM_bbox.npy`` or ``STEM_bbox.csv`` (``label_format`` in :data:`LABEL_FORMATS`), written atomically."""
    from leod_core.atomic import atomic_path

    if label_format not in LABEL_FORMATS:
        raise ValueError(f"unknown label format {label_format!r}; allowed: {', '.join(LABEL_FORMATS)}")
    path = Path(f"{stem}{LABEL_FORMATS[label_format]}")
    if label_format == "csv":
        return write_box_csv(path, boxes)
    with atomic_path(path) as tmp:
        np.save(tmp, boxes)
    return path
