"""Default files of the labelling loop, under ``<artifacts>/labelling/round_K/`` (outside every DVC output:
the labelling loop is a person's work beside the pipeline, not a stage of it)."""

from __future__ import annotations

from pathlib import Path

from leod_core.round_layout import ArtifactLayout

__all__ = ["SUGGESTIONS_FILE", "EXPORT_DIR", "HUMAN_FILE", "MERGED_FILE", "MANIFEST_FILE", "labelling_dir"]

SUGGESTIONS_FILE = "suggestions.parquet"  # leod suggest-frames
EXPORT_DIR = "export"  # leod export-labels: images, videos, task files, the manifest
MANIFEST_FILE = "manifest.json"  # inside an export: image/video frame -> sequence, frame, timestamp, scale
HUMAN_FILE = "human.parquet"  # leod import-labels: the person's boxes (source human)
MERGED_FILE = "labels.parquet"  # the round's table with the person's frames replaced: train --labels


def labelling_dir(layout: ArtifactLayout, k: int) -> Path:
    """``<artifacts>/labelling/round_K``."""
    return layout.artifacts / "labelling" / f"round_{k}"
