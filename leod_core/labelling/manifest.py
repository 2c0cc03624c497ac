"""The export manifest (``manifest.json`` beside an export): how its images and video frames map back to
the dataset, so ``leod import-labels`` turns a labelling tool's pixels and frame numbers into sensor
pixels and timestamps exactly.

Image pixels = sensor pixels x ``pixel_scale`` (representation pixels per sensor pixel x the render's
integer scale), origin at the top-left corner of both. Each exported frame has one image and one frame
of its sequence's video (frame n of ``video/SEQ.mp4`` is the n-th exported frame of SEQ, in frame order).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from leod_core.atomic import atomic_path

__all__ = ["MANIFEST_VERSION", "ExportedFrame", "Manifest", "write_manifest", "read_manifest", "find_manifest"]

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ExportedFrame:
    """One exported frame: the dataset frame it shows and where it lies in the export."""

    sequence: str
    frame_idx: int  # representation index in the sequence
    t: int  # us: end of that representation (the label table's t)
    image: str  # PNG path relative to the export folder
    video_frame: int  # frame number in the sequence's video


@dataclass(frozen=True)
class Manifest:
    """An export's mapping back to the dataset."""

    camera: str
    class_names: tuple[str, ...]
    pixel_scale: float  # image pixels per sensor pixel
    image_hw: tuple[int, int]  # every image's height and width (pixels)
    round: int
    frames: tuple[ExportedFrame, ...]
    videos: dict[str, str] = field(default_factory=dict)  # sequence -> video path relative to the export
    version: int = MANIFEST_VERSION

    def by_image(self) -> dict[str, int]:
        """Image path -> frame number (index into ``frames``)."""
        return {f.image: i for i, f in enumerate(self.frames)}

    def by_video_frame(self) -> dict[tuple[str, int], int]:
        """(sequence, video frame) -> frame number."""
        return {(f.sequence, f.video_frame): i for i, f in enumerate(self.frames)}

    def by_frame(self) -> dict[tuple[str, int], int]:
        """(sequence, frame_idx) -> frame number."""
        return {(f.sequence, f.frame_idx): i for i, f in enumerate(self.frames)}

    def video_frames(self, sequence: str) -> int:
        """How many frames the sequence's video holds."""
        return sum(f.sequence == sequence for f in self.frames)


def write_manifest(manifest: Manifest, path: str | Path) -> Path:
    """Write the manifest as JSON (atomic)."""
    data = asdict(manifest)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")
    return Path(path)


def read_manifest(path: str | Path) -> Manifest:
    """Read a manifest; one-line errors for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"export manifest not found: {path}")
    try:
        data = json.loads(path.read_text())
        if data.get("version") != MANIFEST_VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {MANIFEST_VERSION}")
        return Manifest(camera=str(data["camera"]), class_names=tuple(data["class_names"]),
                        pixel_scale=float(data["pixel_scale"]), image_hw=tuple(int(v) for v in data["image_hw"]),
                        round=int(data["round"]), frames=tuple(ExportedFrame(**f) for f in data["frames"]),
                        videos=dict(data.get("videos", {})))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a leod export manifest ({exc})") from None


def find_manifest(labels_file: str | Path, name: str = "manifest.json") -> Path:
    """The manifest of the export a returned file belongs to: beside it, or one folder up (``cvat/``)."""
    p = Path(labels_file).resolve().parent
    for folder in (p, p.parent):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{labels_file}: no {name} beside it or one folder up; pass --manifest")
