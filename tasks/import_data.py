"""Summary of the ``import`` stage for MLflow (per-sequence import is leod_core's, mapped by the flow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["import_totals"]


def import_totals(summaries: Sequence[Any]) -> dict[str, float]:
    """Per-split sequence, representation, label-frame and box counts of ImportedSequence records."""
    out: dict[str, float] = {}
    for s in summaries:
        for key, n in (("sequences", 1), ("reprs", s.num_reprs), ("label_frames", s.num_label_frames),
                       ("boxes", s.num_boxes), ("events", s.num_events)):
            out[f"{s.split}.{key}"] = out.get(f"{s.split}.{key}", 0) + n
    return out
