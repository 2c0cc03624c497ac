"""Label Studio task JSON: one task per exported image, the round's boxes as ``predictions``
(pre-annotations the person corrects); a returned file's ``annotations`` are read back, or, for a task
nobody annotated, its predictions (counted as unreviewed).

Label Studio places rectangles in percent of the image: ``x = 100 * x_px / width``; a track id rides in
the region's ``meta.text`` as ``track_id=N``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from leod_core.atomic import atomic_path
from leod_core.labelling.image_boxes import ReturnedLabels, image_boxes
from leod_core.labelling.manifest import Manifest

__all__ = ["write_label_studio", "label_studio_config", "read_label_studio"]

_FROM, _TO = "label", "image"


def label_studio_config(class_names: tuple[str, ...]) -> str:
    """The labelling interface XML matching the tasks (rectangles named like the camera's classes)."""
    labels = "\n".join(f'    <Label value="{n}"/>' for n in class_names)
    return (f'<View>\n  <Image name="{_TO}" value="$image" zoom="true"/>\n'
            f'  <RectangleLabels name="{_FROM}" toName="{_TO}">\n{labels}\n  </RectangleLabels>\n</View>\n')


def _region(i: int, row: pd.Series, manifest: Manifest) -> dict:
    h, w = manifest.image_hw
    region = {"id": f"r{i}", "type": "rectanglelabels", "from_name": _FROM, "to_name": _TO,
              "original_width": w, "original_height": h, "image_rotation": 0,
              "value": {"x": 100.0 * row.x / w, "y": 100.0 * row.y / h, "width": 100.0 * row.w / w,
                        "height": 100.0 * row.h / h, "rotation": 0,
                        "rectanglelabels": [manifest.class_names[int(row.class_id)]]},
              "score": float(row.score)}
    if row.track_id >= 0:
        region["meta"] = {"text": [f"track_id={int(row.track_id)}"]}
    return region


def write_label_studio(path: str | Path, manifest: Manifest, boxes: pd.DataFrame, image_url_prefix: str = "",
                       model_version: str = "leod") -> Path:
    """Tasks JSON (a list) with one task per manifest frame; ``data.image`` = prefix + relative path."""
    groups = {int(f): g for f, g in boxes.groupby("frame", sort=True)}
    tasks = []
    for n, fr in enumerate(manifest.frames):
        g = groups.get(n)
        regions = [] if g is None else [_region(i, r, manifest) for i, r in enumerate(g.itertuples())]
        tasks.append({"id": n + 1,
                      "data": {"image": image_url_prefix + fr.image, "sequence": fr.sequence,
                               "frame_idx": fr.frame_idx, "t": fr.t},
                      "predictions": [{"model_version": model_version,
                                       "score": float(np.mean([r["score"] for r in regions])) if regions else 0.0,
                                       "result": regions}]})
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(tasks, indent=1) + "\n")
    return Path(path)


def _frame_of(task: dict, manifest: Manifest, path: Path) -> int:
    data = task.get("data") or {}
    by_frame = manifest.by_frame()
    if "sequence" in data and "frame_idx" in data:
        key = (str(data["sequence"]), int(data["frame_idx"]))
        if key not in by_frame:
            raise ValueError(f"{path}: task {task.get('id')}: frame {key[0]}@{key[1]} was not exported")
        return by_frame[key]
    image = str(data.get("image", ""))
    for rel, n in manifest.by_image().items():  # the image URL ends with the exported relative path
        if image.endswith(rel):
            return n
    raise ValueError(f"{path}: task {task.get('id')}: image {image!r} was not exported")


def _track_id(region: dict) -> int:
    for text in (region.get("meta") or {}).get("text", []):
        if str(text).startswith("track_id="):
            return int(str(text)[len("track_id="):])
    return -1


def read_label_studio(path: str | Path, manifest: Manifest) -> ReturnedLabels:
    """Boxes (image pixels) of a Label Studio JSON export (a list of tasks): per task the last annotation
    that was not cancelled, else its first prediction (an export that holds predictions as ids only, as
    Label Studio's quick export of every task does, is refused for a task without annotation)."""
    path = Path(path)
    tasks = json.loads(path.read_text())
    if not isinstance(tasks, list):
        raise ValueError(f"{path}: not a Label Studio task list")
    classes = {name: i for i, name in enumerate(manifest.class_names)}
    h, w = manifest.image_hw
    rows, frames, unreviewed = [], [], []
    for task in tasks:
        n = _frame_of(task, manifest, path)
        done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
        if done:
            results = done[-1].get("result") or []
        else:
            preds = task.get("predictions") or []
            if preds and not isinstance(preds[0], dict):  # Label Studio's quick export of all tasks: ids only
                fr = manifest.frames[n]
                raise ValueError(f"{path}: task {task.get('id')} ({fr.sequence}@{fr.frame_idx}) has no annotation "
                                 "and its predictions are ids, not boxes: export only the annotated tasks, or a "
                                 "snapshot with the predictions in full")
            results = (preds[0].get("result") or []) if preds else []
            unreviewed.append(n)
        frames.append(n)
        for region in results:
            if region.get("type") != "rectanglelabels":
                continue
            v = region["value"]
            names = v.get("rectanglelabels") or []
            if len(names) != 1 or names[0] not in classes:
                fr = manifest.frames[n]
                raise ValueError(f"{path}: frame {fr.sequence}@{fr.frame_idx}: label {names} is not one of "
                                 f"{list(manifest.class_names)}")
            if v.get("rotation", 0):
                fr = manifest.frames[n]
                raise ValueError(f"{path}: frame {fr.sequence}@{fr.frame_idx}: rotated box")
            rows.append({"frame": n, "x": v["x"] * w / 100.0, "y": v["y"] * h / 100.0,
                         "w": v["width"] * w / 100.0, "h": v["height"] * h / 100.0,
                         "class_id": classes[names[0]], "score": 1.0, "track_id": _track_id(region)})
    return ReturnedLabels(image_boxes(rows), frames, unreviewed)
