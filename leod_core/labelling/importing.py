"""Read what a person returns (Label Studio JSON, CVAT for video XML, COCO JSON) into a label table.

The export's manifest maps image pixels and frame numbers back to sensor pixels and timestamps: sensor
= image / ``pixel_scale`` (float64, then float32, so an unedited box comes back bit for bit). A box
outside the image, or on a frame the export did not hold, stops the import with one line naming the
file and the frame. The rows are ground truth: ``is_gt``, ``source = "human"``, scores 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.labelling.coco import read_coco
from leod_core.labelling.cvat import read_cvat_video
from leod_core.labelling.image_boxes import ReturnedLabels
from leod_core.labelling.label_studio import read_label_studio
from leod_core.labelling.manifest import Manifest
from leod_core.labels.table import empty_labels, validate_labels

__all__ = ["EDGE_TOLERANCE_PX", "detect_format", "read_returned", "human_table", "merge_human"]

#: how far (image pixels) a box edge may pass the image border and still count as inside (tools round)
EDGE_TOLERANCE_PX = 1e-3


def detect_format(path: str | Path) -> str:
    """``cvat`` (.xml), ``label_studio`` (a JSON list) or ``coco`` (a JSON object with images)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labels file not found: {path}")
    if path.suffix.lower() == ".xml":
        return "cvat"
    if path.suffix.lower() != ".json":
        raise ValueError(f"{path}: unknown labels format (expected .json or .xml)")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if isinstance(doc, list):
        return "label_studio"
    if isinstance(doc, dict) and "images" in doc:
        return "coco"
    raise ValueError(f"{path}: neither a Label Studio task list nor a COCO file")


def read_returned(path: str | Path, manifest: Manifest) -> ReturnedLabels:
    """The boxes (image pixels) and reviewed frames of a returned file, whatever its format."""
    reader = {"cvat": read_cvat_video, "label_studio": read_label_studio, "coco": read_coco}[detect_format(path)]
    try:
        return reader(path, manifest)
    except (KeyError, TypeError) as exc:  # a field the format requires is missing or of the wrong type
        raise ValueError(f"{path}: malformed {detect_format(path)} file ({type(exc).__name__}: {exc})") from None


def human_table(returned: ReturnedLabels, manifest: Manifest, path: str | Path) -> pd.DataFrame:
    """Label-table rows (sensor pixels, the exported frames' timestamps) of the returned boxes."""
    b = returned.boxes
    if not len(b):
        return empty_labels()
    h, w = manifest.image_hw
    x, y, bw, bh = (b[c].to_numpy(np.float64) for c in ("x", "y", "w", "h"))
    tol = EDGE_TOLERANCE_PX
    bad = ~(np.isfinite(x) & np.isfinite(y) & np.isfinite(bw) & np.isfinite(bh) & (bw > 0) & (bh > 0)
            & (x >= -tol) & (y >= -tol) & (x + bw <= w + tol) & (y + bh <= h + tol))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fr = manifest.frames[int(b["frame"].iloc[i])]
        raise ValueError(f"{path}: frame {fr.sequence}@{fr.frame_idx} ({fr.image}): box x={x[i]:g} y={y[i]:g} "
                         f"w={bw[i]:g} h={bh[i]:g} is empty or outside the {w}x{h} image")
    frames = [manifest.frames[int(n)] for n in b["frame"]]
    s = manifest.pixel_scale
    table = pd.DataFrame({
        "sequence": [f.sequence for f in frames], "frame_idx": [f.frame_idx for f in frames],
        "t": [f.t for f in frames],
        "x": (x / s).astype(np.float32), "y": (y / s).astype(np.float32),
        "w": (bw / s).astype(np.float32), "h": (bh / s).astype(np.float32),
        "class_id": b["class_id"].to_numpy(np.uint16), "class_confidence": np.float32(1.0),
        "objectness": np.float32(1.0), "is_gt": True, "track_id": b["track_id"].to_numpy(np.int32),
        "source": "human"})
    return validate_labels(table, where=str(path))


def merge_human(round_table: pd.DataFrame, human: pd.DataFrame, reviewed: set[tuple[str, int]]) -> pd.DataFrame:
    """The round's table with every row of a reviewed (sequence, frame_idx) replaced by the person's boxes
    (a reviewed frame left empty loses its pseudo boxes too)."""
    keys = list(zip(round_table["sequence"].astype(str), round_table["frame_idx"].astype(int)))
    gt_hit = [k for k, g in zip(keys, round_table["is_gt"].to_numpy(bool)) if g and k in reviewed]
    if gt_hit:
        raise ValueError(f"frame {gt_hit[0][0]}@{gt_hit[0][1]} already holds ground truth in the round's table")
    kept = round_table[[k not in reviewed for k in keys]]
    parts = [p for p in (kept, human) if len(p)]
    return validate_labels(pd.concat(parts, ignore_index=True) if parts else empty_labels(), "merged labels")
