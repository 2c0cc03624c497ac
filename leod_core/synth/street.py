"""Simulation of one street sequence (``motion: street``): forward ego-motion, looming objects that enter,
leave and occlude each other, clutter, and noisy labels at the preset's label period.

The planar scenes of "default", "micro" and "small" stay in :mod:`leod_core.synth.simulator`; this module
is only used by presets with ``motion: street`` (gen1like), so theirs are unchanged.

Occlusion: objects are drawn far to near, so a nearer object's pixels (and events) hide a farther one's,
and a facade hides what is behind it. Labels: with ``box_extent: full`` a partly occluded object keeps its
whole in-view box (docs/REFERENCE.md does not say how Gen1 labels occluded objects; we keep the box) as
long as at least ``min_visible_fraction`` of it (and at least one pixel) is visible; ``visible`` boxes only
its unoccluded pixels, as the planar scenes do.
"""

from __future__ import annotations

import numpy as np

from leod_core.events.dat_io import EVENT_DTYPE
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.synth.clutter import burst_events, flicker_delta, sample_clutter
from leod_core.synth.motion import StreetScene, sample_street_scene
from leod_core.synth.noise import jitter_and_miss, label_offset_steps
from leod_core.synth.sensor import DvsSensor, noise_events
from leod_core.synth.streetview import ObjectDrawer, StreetBackground

__all__ = ["simulate_street", "street_boxes", "label_times_us"]


def label_times_us(n_steps: int, step_us: int, period_us: int) -> np.ndarray:
    """Label timestamps: every ``period_us`` from ``period_us`` on, up to the last render step."""
    return np.arange(period_us, n_steps * step_us + 1, period_us, dtype=np.int64)


def street_boxes(layers, height: int, width: int, t_us: int, extent: str, min_visible: float) -> list[tuple]:
    """Boxes of one frame's layers (far to near): front to back, pixels covered (alpha >= 0.5) by nearer
    objects are hidden; an object needs > 0 and >= ``min_visible`` of its in-view pixels visible."""
    occupied = np.zeros((height, width), dtype=bool)
    rows = []
    for obj, lay, _ in reversed(layers):
        mask = lay.alpha >= 0.5
        h, w = mask.shape
        region = occupied[lay.y0:lay.y0 + h, lay.x0:lay.x0 + w]
        visible = mask & ~region
        region |= mask
        if obj.class_id < 0:
            continue
        n_in, n_vis = int(mask.sum()), int(visible.sum())
        if n_vis == 0 or n_vis < min_visible * n_in:
            continue
        m = mask if extent == "full" else visible
        ys, xs = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        rows.append((t_us, lay.x0 + xs[0], lay.y0 + ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1,
                     obj.class_id, obj.obj_id, 1.0))
    return rows


def _zero_padded(boxes: np.ndarray) -> np.ndarray:
    """A copy whose padding bytes are zero (numpy's fancy indexing leaves them undefined: files would differ)."""
    out = np.zeros(len(boxes), dtype=PROPHESEE_BBOX_DTYPE)
    for name in PROPHESEE_BBOX_DTYPE.names:
        out[name] = boxes[name]
    return out


def _to_bbox(rows: list[tuple]) -> np.ndarray:
    out = np.zeros(len(rows), dtype=PROPHESEE_BBOX_DTYPE)
    if rows:
        cols = list(zip(*rows))
        for i, name in enumerate(("t", "x", "y", "w", "h", "class_id", "track_id", "class_confidence")):
            out[name] = np.asarray(cols[i])
    return out


def simulate_street(spec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, StreetScene]:
    """Simulate a street sequence -> (events sorted by t, noisy boxes, clean boxes, scene). Pure given ``rng``."""
    preset = spec.preset
    h, w = spec.height, spec.width
    scene = sample_street_scene(rng, preset, h, w, spec.num_classes)
    step, n_steps = scene.step_us, scene.n_steps
    duration_us = n_steps * step
    flickers, bursts = sample_clutter(rng, preset.clutter_per_s, duration_us, h, w)
    offset = label_offset_steps(rng, preset.label_offset_us, step)
    times = label_times_us(n_steps, step, preset.label_period_us)
    clean_at = {int(t // step): int(t) for t in times}
    noisy_at: dict[int, list[int]] = {}
    for t in times:  # the scene `offset` before the stamp, inside the simulated steps
        noisy_at.setdefault(min(max(int(t // step) - offset, 1), n_steps), []).append(int(t))
    background, drawer = StreetBackground(scene), ObjectDrawer(scene)

    def frame_at(k: int):
        bg, depth = background.render(k)
        layers = drawer.layers(k, depth)
        frame = bg.copy()
        for _, lay, _ in layers:
            hh, ww = lay.alpha.shape
            win = frame[lay.y0:lay.y0 + hh, lay.x0:lay.x0 + ww]
            win *= 1.0 - lay.alpha
            win += lay.premult
        fl = flicker_delta(flickers, k * step, h, w)
        if fl is not None:
            frame += fl
        return frame, layers

    frame, _ = frame_at(0)
    sensor = DvsSensor(rng, frame, step, preset.contrast_mean, preset.contrast_std, preset.refractory_us)
    clean, noisy = [], []
    extent, min_vis = preset.box_extent, preset.min_visible_fraction
    for k in range(1, n_steps + 1):
        frame, layers = frame_at(k)
        sensor.step(frame, (k - 1) * step)
        if k in clean_at:
            clean.extend(street_boxes(layers, h, w, clean_at[k], extent, min_vis))
        for t in noisy_at.get(k, ()):
            noisy.extend(street_boxes(layers, h, w, t, extent, min_vis))
    noise = noise_events(rng, h, w, duration_us, rng.uniform(*preset.noise_rate_hz),
                         int(rng.integers(preset.hot_pixels[0], preset.hot_pixels[1] + 1)), preset.hot_rate_hz)
    events = np.concatenate([sensor.events(), noise, burst_events(rng, bursts, duration_us)])
    events = events[np.argsort(events["t"], kind="stable")].astype(EVENT_DTYPE, copy=False)
    clean_boxes = _to_bbox(clean)
    noisy_boxes = _to_bbox(noisy)
    noisy_boxes = noisy_boxes[np.argsort(noisy_boxes["t"], kind="stable")]
    noisy_boxes = jitter_and_miss(rng, noisy_boxes, preset.label_jitter, preset.label_miss_prob, h, w)
    return events, _zero_padded(noisy_boxes), _zero_padded(clean_boxes), scene
