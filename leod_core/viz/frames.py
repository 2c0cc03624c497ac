"""Render an event representation with ground-truth and predicted boxes (numpy + PIL, no pyplot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from leod_core.atomic import atomic_path
from leod_core.cameras import IGNORE_CLASS_ID

__all__ = ["render_events", "draw_boxes", "save_frame"]

_BG = np.array([255, 255, 255], np.float32)
_ON = np.array([30, 90, 230], np.float32)  # blue: polarity 1 (channels 10..19)
_OFF = np.array([40, 40, 40], np.float32)  # dark grey: polarity 0 (channels 0..9)
GT_COLOR = (0, 170, 0)
PRED_COLOR = (220, 20, 20)


_SATURATION = 10  # events per pixel (summed over the time bins) at full colour


def _palette() -> np.ndarray:
    """(11, 11, 3) uint8 colour of a pixel with (ON, OFF) counts 0..10: white blended to blue by the ON
    count, then to grey by the OFF count. A lookup of this table gives, bit for bit, the float blend
    computed per pixel (the same float32 operations on each pair): 0.7 instead of 1.1 ms a 120x160 frame."""
    k = np.arange(_SATURATION + 1, dtype=np.float32)
    a_on = np.clip(k / 10.0, 0, 1)[:, None, None]
    a_off = np.clip(k / 10.0, 0, 1)[None, :, None]
    img = _BG * (1 - a_on) + _ON * a_on
    img = img * (1 - a_off) + _OFF * a_off
    return img.round().astype(np.uint8)


_PALETTE = _palette()


def render_events(repr_: np.ndarray, scale: int = 1) -> Image.Image:
    """(2*bins, H, W) stacked histogram -> RGB image: ON counts blue, OFF counts grey, on white.

    Colour strength grows with the count summed over the time bins (saturating at 10 events).
    """
    rep = np.asarray(repr_)
    if rep.ndim != 3 or rep.shape[0] % 2:
        raise ValueError(f"render_events: expected (2*bins, H, W), got shape {rep.shape}")
    bins = rep.shape[0] // 2
    off = np.minimum(rep[:bins].sum(0, dtype=np.int64), _SATURATION)
    on = np.minimum(rep[bins:].sum(0, dtype=np.int64), _SATURATION)
    pil = Image.fromarray(_PALETTE[on, off], "RGB")
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    return pil


def draw_boxes(img: Image.Image, boxes: np.ndarray, color: tuple[int, int, int], scale: float = 1.0,
               class_names: tuple[str, ...] = (), show_score: bool = False, label_below: bool = False,
               track_ids: np.ndarray | None = None, font: ImageFont.ImageFont | None = None) -> Image.Image:
    """Draw (N, >=6) top-left xywh boxes (class_id column 4, score column 5) in place; returns ``img``.

    The class name (and score, and ``#id`` where ``track_ids`` >= 0) is written above the box, or below
    it with ``label_below``; ``font`` None is Pillow's default (FreeType: ~10x slower than a bitmap font).
    """
    draw = ImageDraw.Draw(img)
    for i, b in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, boxes.shape[-1] if len(boxes) else 7)):
        x, y, w, h = b[:4] * scale
        draw.rectangle([x, y, x + w, y + h], outline=color, width=max(1, int(round(scale))))
        cls = int(b[4])
        label = class_names[cls] if 0 <= cls < len(class_names) else ("ign" if cls == IGNORE_CLASS_ID else str(cls))
        if show_score:
            label = f"{label} {b[5]:.2f}"
        if track_ids is not None and track_ids[i] >= 0:
            label = f"#{int(track_ids[i])} {label}"
        draw.text((x + 2, y + h + 1 if label_below else max(0.0, y - 11)), label, fill=color, font=font)
    return img


def save_frame(path: str | Path, repr_: np.ndarray, gt: np.ndarray, pred: np.ndarray,
               class_names: tuple[str, ...] = (), min_height: int = 360, title: str = "") -> Path:
    """PNG of one representation with GT (green) and predictions (red, with score); written atomically."""
    scale = max(1, int(np.ceil(min_height / np.asarray(repr_).shape[1])))
    img = render_events(repr_, scale)
    draw_boxes(img, gt, GT_COLOR, scale, class_names, label_below=True)
    draw_boxes(img, pred, PRED_COLOR, scale, class_names, show_score=True)
    if title:
        ImageDraw.Draw(img).text((4, 4), title, fill=(0, 0, 0))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return Path(path)
