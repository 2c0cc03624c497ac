"""Paths of RVT's preprocessed dataset layout (docs/REFERENCE.md 1b). One place, no string copies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leod_core.cameras import CameraSpec
from leod_core.representation import REPR_DIR_NAME

__all__ = ["REPR_DIR_NAME", "SPLITS", "SequencePaths", "list_sequences", "labels_full_path"]

SPLITS = ("train", "val", "test")
LABELS_FULL_NAME = "labels_full.parquet"


@dataclass(frozen=True)
class SequencePaths:
    """Files of one preprocessed sequence ``<root>/<split>/<name>/``."""

    root: Path  # the sequence directory
    camera: CameraSpec

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def labels_npz(self) -> Path:
        return self.root / "labels_v2" / "labels.npz"

    @property
    def label_timestamps(self) -> Path:
        return self.root / "labels_v2" / "timestamps_us.npy"

    @property
    def repr_dir(self) -> Path:
        return self.root / "event_representations_v2" / REPR_DIR_NAME

    @property
    def repr_h5(self) -> Path:
        return self.repr_dir / self.camera.repr_h5_name

    @property
    def objframe_idx_2_repr_idx(self) -> Path:
        return self.repr_dir / "objframe_idx_2_repr_idx.npy"

    @property
    def repr_timestamps(self) -> Path:
        return self.repr_dir / "timestamps_us.npy"

    def required_files(self) -> list[Path]:
        return [self.labels_npz, self.repr_h5, self.objframe_idx_2_repr_idx, self.repr_timestamps]

    def check_complete(self) -> None:
        """Raise FileNotFoundError naming the first missing file."""
        for f in self.required_files():
            if not f.exists():
                raise FileNotFoundError(f"sequence {self.name}: missing {f.relative_to(self.root)}")


def list_sequences(dataset_root: str | Path, split: str, camera: CameraSpec) -> list[SequencePaths]:
    """Sorted sequence folders of one split of an RVT-layout dataset."""
    split_dir = Path(dataset_root) / split
    if not split_dir.is_dir():
        raise FileNotFoundError(f"dataset split folder not found: {split_dir}")
    return [SequencePaths(p, camera) for p in sorted(split_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def labels_full_path(dataset_root: str | Path, split: str) -> Path:
    """The Parquet table with all ground truth of a split."""
    return Path(dataset_root) / split / LABELS_FULL_NAME
