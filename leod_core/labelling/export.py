"""Export frames for a person to label: event frames as PNG images and one MP4 per sequence (rendered
like ``leod predict``'s videos, without boxes drawn), the round's boxes as pre-annotations in Label
Studio, CVAT for video 1.1 and COCO files, and the manifest that maps it all back.

Layout of the export folder (written whole, atomically)::

    manifest.json                   image / video frame -> sequence, frame_idx, t; pixel scale
    images/SEQ/FFFFFF.png           one per frame (FFFFFF = frame_idx)
    video/SEQ.mp4                   the sequence's exported frames in frame order (needs PyAV)
    label_studio.json               tasks with predictions (+ label_studio_config.xml, the interface)
    cvat/SEQ.xml                    CVAT for video 1.1, tracks over video/SEQ.mp4
    coco.json                       COCO with scores and track ids
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from leod_core.atomic import atomic_dir
from leod_core.cameras import IGNORE_CLASS_ID, CameraSpec
from leod_core.events.h5_store import ReprReader
from leod_core.labelling.coco import write_coco
from leod_core.labelling.cvat import write_cvat_video
from leod_core.labelling.image_boxes import image_boxes
from leod_core.labelling.label_studio import label_studio_config, write_label_studio
from leod_core.labelling.manifest import ExportedFrame, Manifest, write_manifest
from leod_core.labelling.paths import MANIFEST_FILE
from leod_core.layout import SequencePaths, list_sequences
from leod_core.predict.video import VideoWriter, compose_frame, require_video_library

__all__ = ["FORMATS", "ExportResult", "resolve_frames", "pre_annotations", "export_frames"]

FORMATS = ("label_studio", "cvat", "coco")


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    out: Path
    manifest: Manifest
    boxes: int  # pre-annotation boxes
    clipped: int  # of them, boxes cut to the image


def resolve_frames(frames: pd.DataFrame, dataset_root: str | Path, camera: CameraSpec,
                   where: str = "frame list") -> tuple[pd.DataFrame, dict[str, SequencePaths]]:
    """The frames (sequence, frame_idx) sorted, with ``t`` from the dataset; unknown ones are an error."""
    seqs = {s.name: s for s in list_sequences(dataset_root, "train", camera)}
    out = []
    for name, g in frames.groupby("sequence", sort=True):
        if name not in seqs:
            raise ValueError(f"{where}: sequence {name!r} is not in {Path(dataset_root) / 'train'}")
        ts = np.load(seqs[name].repr_timestamps).astype(np.int64)
        idx = np.sort(g["frame_idx"].to_numpy(np.int64))
        bad = idx[(idx < 0) | (idx >= len(ts))]
        if len(bad):
            raise ValueError(f"{where}: frame {name}@{int(bad[0])} outside the sequence's {len(ts)} frames")
        out.append(pd.DataFrame({"sequence": name, "frame_idx": idx, "t": ts[idx]}))
    if not out:
        raise ValueError(f"{where}: no frame to export")
    return pd.concat(out, ignore_index=True), {n: seqs[n] for n in sorted(frames["sequence"].unique())}


def pre_annotations(table: pd.DataFrame, manifest: Manifest) -> tuple[pd.DataFrame, int]:
    """The table's boxes on exported frames, ignore boxes left out, in image pixels (clipped to the
    image; returns how many were clipped)."""
    lookup = manifest.by_frame()
    keys = list(zip(table["sequence"].astype(str), table["frame_idx"].astype(int)))
    sel = np.array([k in lookup for k in keys], bool) & (table["class_id"].to_numpy() != IGNORE_CLASS_ID)
    rows = table[sel]
    s = manifest.pixel_scale
    x1 = rows["x"].to_numpy(np.float64) * s
    y1 = rows["y"].to_numpy(np.float64) * s
    x2 = x1 + rows["w"].to_numpy(np.float64) * s
    y2 = y1 + rows["h"].to_numpy(np.float64) * s
    h, w = manifest.image_hw
    cx1, cy1, cx2, cy2 = np.clip(x1, 0, w), np.clip(y1, 0, h), np.clip(x2, 0, w), np.clip(y2, 0, h)
    clipped = (cx1 != x1) | (cy1 != y1) | (cx2 != x2) | (cy2 != y2)
    # an unclipped box keeps its own width (x2 - x1 may round differently), so the round trip is exact
    bw = np.where(clipped, cx2 - cx1, rows["w"].to_numpy(np.float64) * s)
    bh = np.where(clipped, cy2 - cy1, rows["h"].to_numpy(np.float64) * s)
    out = image_boxes({"frame": [lookup[k] for k, ok in zip(keys, sel) if ok], "x": cx1, "y": cy1, "w": bw,
                       "h": bh, "class_id": rows["class_id"].to_numpy(np.int64),
                       "score": rows["class_confidence"].to_numpy(np.float64) * rows["objectness"].to_numpy(np.float64),
                       "track_id": rows["track_id"].to_numpy(np.int64)})
    keep = (out["w"] > 0) & (out["h"] > 0)
    return out[keep].reset_index(drop=True), int(clipped.sum())


def _image_size(camera: CameraSpec, scale: int) -> tuple[int, int]:
    h, w = camera.repr_hw
    return h * scale + (h * scale) % 2, w * scale + (w * scale) % 2  # compose_frame pads to even sizes


def export_frames(frames: pd.DataFrame, table: pd.DataFrame | None, dataset_root: str | Path, camera: CameraSpec,
                  out: str | Path, round_idx: int, scale: int = 2, formats: Sequence[str] = FORMATS,
                  video: bool = True, fps: float = 10.0, image_url_prefix: str = "") -> ExportResult:
    """Render and write the export of ``frames`` (sequence, frame_idx) to ``out`` (replaced whole).

    ``table``: label-table rows whose boxes become pre-annotations (None: none).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown export formats {unknown}; choose from {list(FORMATS)}")
    if scale < 1:
        raise ValueError(f"--scale must be >= 1, got {scale}")
    if video:
        require_video_library()
    frames, seqs = resolve_frames(frames, dataset_root, camera)
    exported = []
    for name, g in frames.groupby("sequence", sort=True):
        exported += [ExportedFrame(name, int(f), int(t), f"images/{name}/{int(f):06d}.png", n)
                     for n, (f, t) in enumerate(zip(g["frame_idx"], g["t"]))]
    manifest = Manifest(camera=camera.name, class_names=tuple(camera.class_names),
                        pixel_scale=float(camera.label_scale * scale), image_hw=_image_size(camera, scale),
                        round=round_idx, frames=tuple(exported),
                        videos={n: f"video/{n}.mp4" for n in seqs} if video else {})
    boxes, clipped = pre_annotations(table, manifest) if table is not None and len(table) else (image_boxes([]), 0)
    with atomic_dir(out) as tmp:
        for name, seq in seqs.items():
            _render_sequence(tmp, manifest, name, seq, scale, video, fps)
        if "label_studio" in formats:
            write_label_studio(tmp / "label_studio.json", manifest, boxes, image_url_prefix,
                               model_version=f"leod round {round_idx}")
            (tmp / "label_studio_config.xml").write_text(label_studio_config(manifest.class_names))
        if "cvat" in formats:
            for name in seqs:
                write_cvat_video(tmp / "cvat" / f"{name}.xml", manifest, name,
                                 boxes[boxes["frame"].map(lambda n: manifest.frames[n].sequence == name)])
        if "coco" in formats:
            write_coco(tmp / "coco.json", manifest, boxes)
        write_manifest(manifest, tmp / MANIFEST_FILE)
    return ExportResult(Path(out), manifest, len(boxes), clipped)


def _render_sequence(root: Path, manifest: Manifest, name: str, seq: SequencePaths, scale: int, video: bool,
                     fps: float) -> None:
    """PNG of every exported frame of one sequence and, with ``video``, its MP4 (frames in order)."""
    mine = [f for f in manifest.frames if f.sequence == name]
    (root / "images" / name).mkdir(parents=True, exist_ok=True)
    writer = (VideoWriter(root / manifest.videos[name], manifest.image_hw, Fraction(fps).limit_denominator(1000))
              if video else None)
    empty = np.zeros((0, 7), np.float32)
    try:
        with ReprReader(seq.repr_h5) as reader:
            for f in mine:
                rgb = compose_frame(reader.read(f.frame_idx, f.frame_idx + 1)[0], empty, None, None, (), scale)
                Image.fromarray(rgb).save(root / f.image, format="PNG")
                if writer is not None:
                    writer.add(rgb)
    except BaseException as exc:
        if writer is not None:
            writer.close(exc)
        raise
    if writer is not None:
        writer.close()
