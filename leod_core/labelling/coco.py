"""COCO JSON: one image per exported frame, one category per class (id = class id + 1: COCO tools treat
0 as background), boxes as annotations with ``score`` and ``attributes.track_id`` (CVAT's COCO layout).
Reading maps images by ``file_name`` and categories by name."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from leod_core.atomic import atomic_path
from leod_core.labelling.image_boxes import ReturnedLabels, image_boxes
from leod_core.labelling.manifest import Manifest

__all__ = ["write_coco", "read_coco"]


def write_coco(path: str | Path, manifest: Manifest, boxes: pd.DataFrame) -> Path:
    """The COCO file of every manifest frame (image ids 1..N in manifest order)."""
    h, w = manifest.image_hw
    images = [{"id": n + 1, "file_name": f.image, "width": w, "height": h, "sequence": f.sequence,
               "frame_idx": f.frame_idx, "t": f.t} for n, f in enumerate(manifest.frames)]
    cats = [{"id": i + 1, "name": name, "supercategory": ""} for i, name in enumerate(manifest.class_names)]
    anns = []
    for i, r in enumerate(boxes.sort_values("frame", kind="stable").itertuples()):
        anns.append({"id": i + 1, "image_id": int(r.frame) + 1, "category_id": int(r.class_id) + 1,
                     "bbox": [float(r.x), float(r.y), float(r.w), float(r.h)], "area": float(r.w * r.h),
                     "iscrowd": 0, "segmentation": [], "score": float(r.score),
                     "attributes": {"track_id": int(r.track_id)}})
    doc = {"info": {"description": f"leod export of round {manifest.round}", "version": "1.0"},
           "licenses": [], "images": images, "categories": cats, "annotations": anns}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
    return Path(path)


def read_coco(path: str | Path, manifest: Manifest) -> ReturnedLabels:
    """Boxes (image pixels) of a COCO file whose images are exported frames."""
    path = Path(path)
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict) or "images" not in doc or "annotations" not in doc:
        raise ValueError(f"{path}: not a COCO file (no images / annotations)")
    by_image = manifest.by_image()
    image_frame = {}
    for img in doc["images"]:
        name = str(img.get("file_name", ""))
        if name not in by_image:
            raise ValueError(f"{path}: image {img.get('id')} ({name!r}) was not exported")
        image_frame[img["id"]] = by_image[name]
    classes = {name: i for i, name in enumerate(manifest.class_names)}
    cat_class = {}
    for cat in doc.get("categories", []):
        if cat.get("name") not in classes:
            raise ValueError(f"{path}: category {cat.get('name')!r} is not one of {list(manifest.class_names)}")
        cat_class[cat["id"]] = classes[cat["name"]]
    rows = []
    for ann in doc["annotations"]:
        if ann.get("image_id") not in image_frame:
            raise ValueError(f"{path}: annotation {ann.get('id')} on image {ann.get('image_id')}, which the file "
                             "does not list")
        if ann.get("category_id") not in cat_class:
            raise ValueError(f"{path}: annotation {ann.get('id')}: unknown category {ann.get('category_id')}")
        x, y, w, h = (float(v) for v in ann["bbox"])
        rows.append({"frame": image_frame[ann["image_id"]], "x": x, "y": y, "w": w, "h": h,
                     "class_id": cat_class[ann["category_id"]], "score": 1.0,
                     "track_id": int((ann.get("attributes") or {}).get("track_id", -1))})
    return ReturnedLabels(image_boxes(rows), sorted(set(image_frame.values())))
