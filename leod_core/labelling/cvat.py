"""CVAT for video 1.1 XML: one file per sequence, over the frames of that sequence's exported video.

Boxes with the same (track id, class) form one ``<track>`` (a box without a track id is a track of one
box). Every box is a keyframe; where a track skips video frames or ends before the video does, a box
with ``outside="1"`` follows its last box, so CVAT interpolates nothing that was not there. Reading keeps
the boxes with ``outside="0"`` (CVAT writes interpolated frames as such boxes, keyframe or not) and the
``<track id>`` as the track id.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from leod_core.atomic import atomic_path
from leod_core.labelling.image_boxes import ReturnedLabels, image_boxes
from leod_core.labelling.manifest import Manifest

__all__ = ["write_cvat_video", "read_cvat_video"]


def _sub(parent: ET.Element, tag: str, text: object | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = str(text)
    return el


def _box(track: ET.Element, frame: int, xywh: tuple[float, float, float, float], score: float | None,
         outside: bool) -> None:
    x, y, w, h = (float(v) for v in xywh)
    el = _sub(track, "box", frame=str(frame), keyframe="1", outside=str(int(outside)), occluded="0",
              xtl=repr(x), ytl=repr(y), xbr=repr(x + w), ybr=repr(y + h), z_order="0")
    if score is not None:
        _sub(el, "attribute", repr(float(score)), name="score")


def _tracks(rows: list[dict]) -> list[tuple[int, int, list[dict]]]:
    """(track id, class, boxes by video frame) of every CVAT track: boxes grouped by (leod track id,
    class); a second class on one leod track and every untracked box get fresh ids above the largest."""
    groups: dict[tuple[int, int], list[dict]] = {}
    for r in rows:
        if r["track_id"] >= 0:
            groups.setdefault((r["track_id"], r["class_id"]), []).append(r)
    next_id = max((tid for tid, _ in groups), default=-1) + 1
    out, taken = [], set()
    for (tid, cls), g in sorted(groups.items()):
        if tid in taken:
            tid, next_id = next_id, next_id + 1
        taken.add(tid)
        out.append((tid, cls, sorted(g, key=lambda r: r["vf"])))
    for r in sorted((r for r in rows if r["track_id"] < 0), key=lambda r: r["vf"]):
        out.append((next_id, r["class_id"], [r]))
        next_id += 1
    return out


def write_cvat_video(path: str | Path, manifest: Manifest, sequence: str, boxes: pd.DataFrame) -> Path:
    """The XML of one sequence; ``boxes`` (image pixels) of frames of other sequences are an error."""
    frames = [i for i, f in enumerate(manifest.frames) if f.sequence == sequence]
    video_frame = {i: manifest.frames[i].video_frame for i in frames}
    if len(boxes) and not set(boxes["frame"].tolist()) <= set(frames):
        raise ValueError(f"write_cvat_video: boxes of frames outside sequence {sequence}")
    size = len(frames)
    h, w = manifest.image_hw
    root = ET.Element("annotations")
    _sub(root, "version", "1.1")
    task = _sub(_sub(root, "meta"), "task")
    for tag, value in (("id", 0), ("name", sequence), ("size", size), ("mode", "interpolation"),
                       ("overlap", 0), ("start_frame", 0), ("stop_frame", max(size - 1, 0))):
        _sub(task, tag, value)
    labels = _sub(task, "labels")
    for name in manifest.class_names:
        label = _sub(labels, "label")
        _sub(label, "name", name)
        _sub(label, "type", "rectangle")
        _sub(label, "attributes")
    original = _sub(task, "original_size")
    _sub(original, "width", w)
    _sub(original, "height", h)
    _sub(task, "source", Path(manifest.videos.get(sequence, f"{sequence}.mp4")).name)

    rows = [{"vf": video_frame[int(r.frame)], "xywh": (r.x, r.y, r.w, r.h), "class_id": int(r.class_id),
             "score": float(r.score), "track_id": int(r.track_id)} for r in boxes.itertuples()]
    for tid, cls, g in _tracks(rows):
        vfs = [r["vf"] for r in g]
        if len(set(vfs)) != len(vfs):
            raise ValueError(f"write_cvat_video: track {tid} of {sequence} holds two boxes on one frame")
        track = _sub(root, "track", id=str(tid), label=manifest.class_names[cls], source="auto")
        for i, r in enumerate(g):
            _box(track, r["vf"], r["xywh"], r["score"], False)
            nxt = r["vf"] + 1  # the track leaves: CVAT must not interpolate over frames it skipped
            if nxt < size and (i + 1 == len(g) or vfs[i + 1] != nxt):
                _box(track, nxt, r["xywh"], None, True)
    ET.indent(root)
    with atomic_path(path) as tmp:
        ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    return Path(path)


def _sequence_of(root: ET.Element, manifest: Manifest, path: Path) -> str:
    """The exported sequence the task is: its video's name (``<source>``), else the task name."""
    names = {Path(v).name: s for s, v in manifest.videos.items()} | {f"{s}.mp4": s for s in manifest.videos}
    source = (root.findtext("meta/task/source") or root.findtext("meta/job/source") or "").strip()
    if source in names:
        return names[source]
    name = (root.findtext("meta/task/name") or root.findtext("meta/job/name") or "").strip()
    if name in {f.sequence for f in manifest.frames}:
        return name
    raise ValueError(f"{path}: task {name!r} (video {source!r}) is no exported sequence")


def read_cvat_video(path: str | Path, manifest: Manifest) -> ReturnedLabels:
    """Boxes (image pixels) of a CVAT for video 1.1 XML of one exported sequence."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not XML ({exc})") from None
    if root.tag != "annotations":
        raise ValueError(f"{path}: not a CVAT annotations file (root <{root.tag}>)")
    seq = _sequence_of(root, manifest, path)
    lookup = manifest.by_video_frame()
    classes = {name: i for i, name in enumerate(manifest.class_names)}
    rows = []
    for track in root.iter("track"):
        label = track.get("label")
        if label not in classes:
            raise ValueError(f"{path}: track {track.get('id')}: label {label!r} is not one of "
                             f"{list(manifest.class_names)}")
        for box in track.iter("box"):
            if box.get("outside", "0") == "1":
                continue
            vf = int(box.get("frame"))
            if (seq, vf) not in lookup:
                raise ValueError(f"{path}: frame {vf} of {seq} was not exported (its video has "
                                 f"{manifest.video_frames(seq)} frames)")
            x1, y1, x2, y2 = (float(box.get(k)) for k in ("xtl", "ytl", "xbr", "ybr"))
            rows.append({"frame": lookup[(seq, vf)], "x": x1, "y": y1, "w": x2 - x1, "h": y2 - y1,
                         "class_id": classes[label], "score": 1.0, "track_id": int(track.get("id"))})
    frames = [i for i, f in enumerate(manifest.frames) if f.sequence == seq]
    return ReturnedLabels(image_boxes(rows), frames)
