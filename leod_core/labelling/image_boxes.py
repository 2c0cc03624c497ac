"""Boxes in an export's image pixels: what the format writers take and the readers return.

Columns: ``frame`` (index into the manifest's frames), ``x y w h`` (float64 top-left xywh, image pixels),
``class_id``, ``score`` (pre-annotations: objectness x class confidence; a person's box: 1), ``track_id``
(-1: none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["IMAGE_BOX_COLUMNS", "image_boxes", "ReturnedLabels"]

IMAGE_BOX_COLUMNS = ("frame", "x", "y", "w", "h", "class_id", "score", "track_id")


def image_boxes(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Rows as a table with :data:`IMAGE_BOX_COLUMNS` and fixed dtypes (also when empty)."""
    df = pd.DataFrame(rows, columns=list(IMAGE_BOX_COLUMNS))
    return df.astype({"frame": np.int64, "x": np.float64, "y": np.float64, "w": np.float64, "h": np.float64,
                      "class_id": np.int64, "score": np.float64, "track_id": np.int64})


@dataclass
class ReturnedLabels:
    """What a labelling tool's file holds: boxes and every frame it covers (also frames left empty)."""

    boxes: pd.DataFrame
    frames: list[int] = field(default_factory=list)  # manifest frame numbers the file reviewed
    unreviewed: list[int] = field(default_factory=list)  # frames only pre-annotated (Label Studio tasks)
