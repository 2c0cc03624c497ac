"""The frames ``leod suggest-frames`` picked, as one PNG a person looks at before labelling: each frame's
events with the round's boxes, its rank, place, score and reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from leod_core.atomic import atomic_path
from leod_core.cameras import IGNORE_CLASS_ID, CameraSpec
from leod_core.events.h5_store import ReprReader
from leod_core.layout import SequencePaths
from leod_core.viz.frames import PRED_COLOR, draw_boxes, render_events

__all__ = ["suggestions_sheet"]

_IGNORE_COLOR = (150, 150, 150)
_CAPTION_LINES = 2
_LINE_PX = 12


def _tile(seq: SequencePaths, frame: int, boxes: pd.DataFrame, camera: CameraSpec, scale: int,
          caption: list[str]) -> Image.Image:
    with ReprReader(seq.repr_h5) as reader:
        img = render_events(reader.read(frame, frame + 1)[0], scale)
    if len(boxes):
        arr = boxes[["x", "y", "w", "h", "class_id", "class_confidence"]].to_numpy(np.float64)
        arr[:, :4] *= camera.label_scale  # table (sensor pixels) -> representation pixels
        ignore = arr[:, 4] == IGNORE_CLASS_ID
        draw_boxes(img, arr[ignore], _IGNORE_COLOR, scale, camera.class_names)
        draw_boxes(img, arr[~ignore], PRED_COLOR, scale, camera.class_names, show_score=True)
    tile = Image.new("RGB", (img.width, img.height + _CAPTION_LINES * _LINE_PX + 4), (255, 255, 255))
    tile.paste(img, (0, 0))
    draw = ImageDraw.Draw(tile)
    chars = max(8, img.width // 6)  # the default bitmap font is ~6 px a character
    for i, line in enumerate(caption[:_CAPTION_LINES]):
        text = line if len(line) <= chars else line[:chars - 1] + "…"
        draw.text((2, img.height + 2 + i * _LINE_PX), text, fill=(0, 0, 0))
    return tile


def suggestions_sheet(picks: pd.DataFrame, dataset_root: str | Path, camera: CameraSpec, path: str | Path,
                      boxes: pd.DataFrame | None = None, count: int = 12, columns: int = 4,
                      min_height: int = 180) -> Path:
    """PNG grid of the first ``count`` rows of ``picks`` (a suggestions frame list, best first) from the
    train split of ``dataset_root``; ``boxes``: a label table whose boxes of those frames are drawn (pseudo
    red with their score, ignore grey). Written atomically."""
    rows = picks.sort_values("rank").head(count) if "rank" in picks else picks.head(count)
    if not len(rows):
        raise ValueError("suggestions_sheet: no frame to draw")
    scale = max(1, int(np.ceil(min_height / camera.repr_hw[0])))
    by_frame = ({k: g for k, g in boxes.groupby(["sequence", "frame_idx"], sort=False)}
                if boxes is not None and len(boxes) else {})
    tiles = []
    for r in rows.itertuples(index=False):
        key = (str(r.sequence), int(r.frame_idx))
        caption = [f"#{int(getattr(r, 'rank', len(tiles) + 1))} {key[0]}@{key[1]}  score {float(r.score):.2f}",
                   str(getattr(r, "reason", ""))]
        seq = SequencePaths(Path(dataset_root) / "train" / key[0], camera)
        tiles.append(_tile(seq, key[1], by_frame.get(key, pd.DataFrame()), camera, scale, caption))
    columns = min(columns, len(tiles))
    w, h = tiles[0].width, tiles[0].height
    gap = 4
    sheet = Image.new("RGB", (columns * (w + gap) - gap, -(-len(tiles) // columns) * (h + gap) - gap), (200, 200, 200))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % columns) * (w + gap), (i // columns) * (h + gap)))
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return Path(path)
