"""Read folders of per-sequence ``<sequence>_bbox.npy`` files and write metric JSON files."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from leod_core.atomic import atomic_path
from leod_core.labels.boxes import validate_prophesee_boxes
from leod_core.labels.label_files import NPY_SUFFIX

__all__ = ["BBOX_SUFFIX", "read_box_folder", "write_json"]

log = logging.getLogger(__name__)

BBOX_SUFFIX = NPY_SUFFIX  # a detection file is named like a label file


def read_box_folder(folder: str | Path, what: str = "boxes") -> dict[str, np.ndarray]:
    """``{sequence: Prophesee array}`` from every ``<sequence>_bbox.npy`` in ``folder``.

    Extra fields (e.g. objectness) are dropped; a file with a wrong dtype raises ValueError naming it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder not found: {folder}")
    out = {}
    for path in sorted(folder.glob(f"*{BBOX_SUFFIX}")):
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{path}: cannot read as a numpy array ({exc})") from None
        out[path.name[: -len(BBOX_SUFFIX)]] = validate_prophesee_boxes(arr, source=str(path))
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(data: dict, path: str | Path) -> Path:
    """Write ``data`` (numpy scalars allowed) as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
    return Path(path)
