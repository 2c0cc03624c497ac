"""Summary of the ``synth`` stage for MLflow (the per-sequence work is leod_core's, mapped by the flow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["synth_totals"]


def synth_totals(summaries: Sequence[Any]) -> dict[str, float]:
    """Per-split sequence, event and box counts of SynthSequenceSummary records."""
    out: dict[str, float] = {}
    for s in summaries:
        for key, n in (("sequences", 1), ("events", s.n_events), ("boxes", sum(s.n_boxes_per_class))):
            out[f"{s.split}.{key}"] = out.get(f"{s.split}.{key}", 0) + n
    return out
