"""Training augmentation of clips (REFERENCE 7a): horizontal flip, zoom-in, zoom-out, time flip.

Frames are float32 tensors ``(T, 20, H, W)`` at representation resolution (before padding); boxes are
``(N, 7)`` arrays in ``FRAME_LABEL_COLUMNS`` layout (top-left xywh, repr pixels). One ``AugmentParams``
is applied to every frame and every label set of a clip (random access: drawn per clip; streaming:
drawn once per sequence pass). Boxes use continuous pixel coordinates: pixel column c covers [c, c+1),
so a flip maps x to ``W - x - w`` (LEOD writes ``W - 1 - x - w``) and boxes are clamped to [0, W].
After every transform, boxes are clamped and flat boxes (w or h <= 0) removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from leod_core.config import AugmentConfig

__all__ = [
    "Zoom", "AugmentParams", "NO_AUGMENT", "sample_random_params", "sample_stream_params",
    "hflip_boxes", "zoom_in_boxes", "zoom_out_boxes", "clamp_boxes",
    "hflip_frames", "zoom_in_frames", "zoom_out_frames", "time_flip_frames", "apply_spatial",
]


@dataclass(frozen=True)
class Zoom:
    """A zoom window: ``factor`` >= 1 and the integer top-left (x0, y0) of the window (crop or paste)."""

    factor: float
    x0: int
    y0: int


@dataclass(frozen=True)
class AugmentParams:
    hflip: bool = False
    tflip: bool = False
    zoom_in: Zoom | None = None  # crop a (H/f, W/f) window at (x0, y0) and resize it back
    zoom_out: Zoom | None = None  # shrink the frame by 1/f and paste it at (x0, y0) into zeros


NO_AUGMENT = AugmentParams()


def _window_hw(hw: tuple[int, int], factor: float) -> tuple[int, int]:
    return int(hw[0] / factor), int(hw[1] / factor)


# ------------------------------------------------------------------------------------------- boxes
def clamp_boxes(boxes: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Clip boxes to [0, W] x [0, H] and drop the flat ones."""
    b = boxes.astype(np.float32, copy=True)
    x1 = np.clip(b[:, 0], 0, hw[1])
    y1 = np.clip(b[:, 1], 0, hw[0])
    x2 = np.clip(b[:, 0] + b[:, 2], 0, hw[1])
    y2 = np.clip(b[:, 1] + b[:, 3], 0, hw[0])
    b[:, 0], b[:, 1], b[:, 2], b[:, 3] = x1, y1, x2 - x1, y2 - y1
    return b[(b[:, 2] > 0) & (b[:, 3] > 0)]


def hflip_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    b = boxes.astype(np.float32, copy=True)
    b[:, 0] = width - b[:, 0] - b[:, 2]
    return b


def zoom_in_boxes(boxes: np.ndarray, zoom: Zoom, hw: tuple[int, int]) -> np.ndarray:
    """Boxes seen through the crop window, rescaled to the full frame."""
    wh, ww = _window_hw(hw, zoom.factor)
    b = clamp_boxes(boxes - np.array([zoom.x0, zoom.y0, 0, 0, 0, 0, 0], np.float32), (wh, ww))
    b[:, [0, 2]] *= hw[1] / ww
    b[:, [1, 3]] *= hw[0] / wh
    return clamp_boxes(b, hw)


def zoom_out_boxes(boxes: np.ndarray, zoom: Zoom, hw: tuple[int, int]) -> np.ndarray:
    wh, ww = _window_hw(hw, zoom.factor)
    b = boxes.astype(np.float32, copy=True)
    b[:, [0, 2]] *= ww / hw[1]
    b[:, [1, 3]] *= wh / hw[0]
    b[:, 0] += zoom.x0
    b[:, 1] += zoom.y0
    return clamp_boxes(b, hw)


# ------------------------------------------------------------------------------------------ frames
def hflip_frames(ev: torch.Tensor) -> torch.Tensor:
    return torch.flip(ev, dims=[-1])


def zoom_in_frames(ev: torch.Tensor, zoom: Zoom) -> torch.Tensor:
    hw = tuple(ev.shape[-2:])
    wh, ww = _window_hw(hw, zoom.factor)
    crop = ev[..., zoom.y0:zoom.y0 + wh, zoom.x0:zoom.x0 + ww]
    return F.interpolate(crop, size=hw, mode="nearest-exact")


def zoom_out_frames(ev: torch.Tensor, zoom: Zoom) -> torch.Tensor:
    hw = tuple(ev.shape[-2:])
    wh, ww = _window_hw(hw, zoom.factor)
    out = torch.zeros_like(ev)
    out[..., zoom.y0:zoom.y0 + wh, zoom.x0:zoom.x0 + ww] = F.interpolate(ev, size=(wh, ww), mode="nearest-exact")
    return out


def time_flip_frames(ev: torch.Tensor) -> torch.Tensor:
    """Play a clip backwards: reverse the time axis and flip the 20 channels (bins and polarity swap)."""
    return torch.flip(ev, dims=[0, 1])


# ------------------------------------------------------------------------------------------ params
def _zoom_in_window(box: np.ndarray, hw: tuple[int, int], win_hw: tuple[int, int],
                    rng: np.random.Generator) -> tuple[int, int]:
    """Random top-left of a window that contains ``box`` (or lies inside it when the box is larger)."""
    out = []
    for lo_box, size_box, full, win in ((box[0], box[2], hw[1], win_hw[1]), (box[1], box[3], hw[0], win_hw[0])):
        hi_box = lo_box + size_box
        lo = max(min(lo_box, hi_box - win), 0.0)
        hi = min(max(lo_box, hi_box - win), full - win)
        hi = max(hi, lo)
        out.append(int(np.clip(int(rng.uniform(lo, hi)), 0, full - win)))
    return out[0], out[1]


def sample_random_params(rng: np.random.Generator, cfg: AugmentConfig, hw: tuple[int, int]) -> AugmentParams:
    """Random-access draw (zoom-in windows are placed later, once the clip's latest labels are known)."""
    hflip = bool(rng.random() < cfg.hflip)
    tflip = bool(rng.random() < cfg.tflip)
    zoom_in = zoom_out = None
    if rng.random() < cfg.zoom_random:
        if rng.random() < cfg.zoom_in_weight:
            zoom_in = Zoom(float(rng.uniform(1.0, cfg.zoom_in_max)), 0, 0)
        else:
            zoom_out = _zoom_out(rng, cfg.zoom_out_max, hw)
    return AugmentParams(hflip=hflip, tflip=tflip, zoom_in=zoom_in, zoom_out=zoom_out)


def sample_stream_params(rng: np.random.Generator, cfg: AugmentConfig, hw: tuple[int, int]) -> AugmentParams:
    """Streaming draw, once per sequence pass: hflip, time flip, zoom-out only."""
    hflip = bool(rng.random() < cfg.hflip)
    tflip = bool(rng.random() < cfg.tflip)
    zoom_out = _zoom_out(rng, cfg.zoom_out_max, hw) if rng.random() < cfg.zoom_stream else None
    return AugmentParams(hflip=hflip, tflip=tflip, zoom_out=zoom_out)


def _zoom_out(rng: np.random.Generator, max_factor: float, hw: tuple[int, int]) -> Zoom:
    f = float(rng.uniform(1.0, max_factor))
    wh, ww = _window_hw(hw, f)
    return Zoom(f, int(rng.uniform(0, hw[1] - ww)), int(rng.uniform(0, hw[0] - wh)))


def place_zoom_in(params: AugmentParams, labels: list[np.ndarray | None], hw: tuple[int, int],
                  rng: np.random.Generator) -> AugmentParams:
    """Fix the zoom-in window on a random box of the latest non-empty labelled frame (after hflip).

    Without such a frame the zoom-in is dropped (LEOD warns and skips it).
    """
    if params.zoom_in is None:
        return params
    latest = next((b for b in reversed(labels) if b is not None and len(b)), None)
    if latest is None or params.zoom_in.factor == 1.0:
        return AugmentParams(params.hflip, params.tflip, None, params.zoom_out)
    if params.hflip:
        latest = hflip_boxes(latest, hw[1])
    box = latest[int(rng.integers(len(latest)))]
    x0, y0 = _zoom_in_window(box, hw, _window_hw(hw, params.zoom_in.factor), rng)
    return AugmentParams(params.hflip, params.tflip, Zoom(params.zoom_in.factor, x0, y0), params.zoom_out)


def apply_spatial(ev: torch.Tensor, label_sets: list[list[np.ndarray | None]], params: AugmentParams
                  ) -> tuple[torch.Tensor, list[list[np.ndarray | None]]]:
    """Apply hflip, then zoom-in or zoom-out, to frames ``(T, C, H, W)`` and to each list of per-step boxes.

    Time flip is not applied here: the loaders choose the reversed window themselves.
    """
    hw = (int(ev.shape[-2]), int(ev.shape[-1]))

    def boxes_fn(b: np.ndarray) -> np.ndarray:
        if params.hflip:
            b = hflip_boxes(b, hw[1])
        if params.zoom_in is not None:
            b = zoom_in_boxes(b, params.zoom_in, hw)
        if params.zoom_out is not None:
            b = zoom_out_boxes(b, params.zoom_out, hw)
        return clamp_boxes(b, hw)

    if params.hflip:
        ev = hflip_frames(ev)
    if params.zoom_in is not None:
        ev = zoom_in_frames(ev, params.zoom_in)
    if params.zoom_out is not None:
        ev = zoom_out_frames(ev, params.zoom_out)
    out_sets = [[None if b is None else boxes_fn(b) for b in labels] for labels in label_sets]
    return ev, out_sets
