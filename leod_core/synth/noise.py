"""Label noise of the synthetic camera (gen1like): what human annotations of real recordings look like.

- *jitter*: each box edge moves by a normal error of ``jitter`` times the box side (annotators click
  imprecisely), clipped to the sensor;
- *misses*: a box is left out with probability ``miss_prob`` (an overlooked object);
- *time offset* (:func:`label_offset_steps`): per sequence the labels describe the scene ``offset`` before
  their timestamp (the annotation tool's frame is not the events' instant); the simulator draws the
  boxes at that step and stamps them on the label grid.

The noise-free boxes (same frames, geometry at the stamped time) are kept as the clean labels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["label_offset_steps", "jitter_and_miss"]


def label_offset_steps(rng: np.random.Generator, offset_us: tuple[int, int], step_us: int) -> int:
    """The sequence's label time offset in render steps (0 without drawing when the range is (0, 0))."""
    if offset_us == (0, 0):
        return 0
    return int(round(rng.uniform(*offset_us) / step_us))


def jitter_and_miss(rng: np.random.Generator, boxes: np.ndarray, jitter: float, miss_prob: float,
                    height: int, width: int) -> np.ndarray:
    """Noisy copy of Prophesee boxes (input untouched): edges jittered, some boxes dropped."""
    out = boxes.copy()
    n = len(out)
    if n == 0 or (jitter <= 0 and miss_prob <= 0):
        return out
    w, h = out["w"].astype(np.float64), out["h"].astype(np.float64)
    e = rng.normal(0.0, jitter, (n, 4)) if jitter > 0 else np.zeros((n, 4))
    x1 = np.clip(out["x"] + e[:, 0] * w, 0, width - 1)
    y1 = np.clip(out["y"] + e[:, 1] * h, 0, height - 1)
    x2 = np.clip(out["x"] + w + e[:, 2] * w, x1 + 1, width)
    y2 = np.clip(out["y"] + h + e[:, 3] * h, y1 + 1, height)
    out["x"], out["y"], out["w"], out["h"] = x1, y1, x2 - x1, y2 - y1
    keep = rng.random(n) >= miss_prob if miss_prob > 0 else np.ones(n, dtype=bool)
    return out[keep]
