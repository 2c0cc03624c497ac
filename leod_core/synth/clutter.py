"""Short-lived clutter for the synthetic camera (``clutter_per_s``): what makes a detector fire for a moment.

Two kinds, equally likely, at random places and times (a Poisson process of ``clutter_per_s``):

- *flicker*: a small light (a lamp, an LED sign, a reflection) whose log intensity oscillates at 80-130 Hz
  for 40-300 ms; rendered into the frames, so the DVS pixel model turns it into events;
- *burst*: a patch of 6-30 px that emits 0.5-3 events per pixel within 5-40 ms (glare, a splash, a
  readout burst); added to the event stream directly.

Neither is labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leod_core.events.dat_io import EVENT_DTYPE

__all__ = ["Flicker", "Burst", "sample_clutter", "flicker_delta", "burst_events"]


@dataclass(frozen=True)
class Flicker:
    y0: int
    x0: int
    patch: np.ndarray  # float32 (h, w) Gaussian spot times amplitude (log intensity)
    t0_us: float
    t1_us: float
    freq_hz: float
    phase: float


@dataclass(frozen=True)
class Burst:
    y0: int
    x0: int
    h: int
    w: int
    t0_us: int
    dur_us: int
    per_pixel: float
    on_share: float


def sample_clutter(rng: np.random.Generator, rate_per_s: float, duration_us: int, height: int,
                   width: int) -> tuple[list[Flicker], list[Burst]]:
    """Flickers and bursts of one sequence (nothing is drawn from ``rng`` when the rate is 0)."""
    if rate_per_s <= 0:
        return [], []
    n = int(rng.poisson(rate_per_s * duration_us * 1e-6))
    flickers, bursts = [], []
    for _ in range(n):
        if rng.random() < 0.5:
            sigma = rng.uniform(1.0, 4.0)
            r = int(np.ceil(3 * sigma))
            yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
            patch = (rng.uniform(0.4, 1.2) * np.exp(-(yy ** 2 + xx ** 2) / (2 * sigma ** 2))).astype(np.float32)
            t0 = rng.uniform(0, duration_us)
            flickers.append(Flicker(y0=int(rng.integers(0, height)) - r, x0=int(rng.integers(0, width)) - r,
                                    patch=patch, t0_us=t0, t1_us=t0 + rng.uniform(40e3, 300e3),
                                    freq_hz=rng.uniform(80.0, 130.0), phase=rng.uniform(0, 2 * np.pi)))
        else:
            h, w = int(rng.integers(6, 31)), int(rng.integers(6, 31))
            bursts.append(Burst(y0=int(rng.integers(0, max(height - h, 1))), x0=int(rng.integers(0, max(width - w, 1))),
                                h=h, w=w, t0_us=int(rng.integers(0, duration_us)), dur_us=int(rng.integers(5_000, 40_001)),
                                per_pixel=rng.uniform(0.5, 3.0), on_share=rng.uniform(0.2, 0.8)))
    return flickers, bursts


def flicker_delta(flickers: list[Flicker], t_us: float, height: int, width: int) -> np.ndarray | None:
    """Additive log intensity of the flickers active at ``t_us`` (None when none is)."""
    out = None
    for fl in flickers:
        if not fl.t0_us <= t_us <= fl.t1_us:
            continue
        if out is None:
            out = np.zeros((height, width), dtype=np.float32)
        ph, pw = fl.patch.shape
        y0, x0 = max(fl.y0, 0), max(fl.x0, 0)
        y1, x1 = min(fl.y0 + ph, height), min(fl.x0 + pw, width)
        if y1 <= y0 or x1 <= x0:
            continue
        amp = np.float32(np.sin(2 * np.pi * fl.freq_hz * t_us * 1e-6 + fl.phase))
        out[y0:y1, x0:x1] += amp * fl.patch[y0 - fl.y0:y1 - fl.y0, x0 - fl.x0:x1 - fl.x0]
    return out


def burst_events(rng: np.random.Generator, bursts: list[Burst], duration_us: int) -> np.ndarray:
    """The events of the bursts (EVENT_DTYPE, unsorted)."""
    parts = [np.zeros(0, dtype=EVENT_DTYPE)]
    for b in bursts:
        n = int(rng.poisson(b.per_pixel * b.h * b.w))
        ev = np.empty(n, dtype=EVENT_DTYPE)
        ev["t"] = np.minimum(b.t0_us + rng.integers(0, b.dur_us, n), duration_us - 1)
        ev["x"] = b.x0 + rng.integers(0, b.w, n)
        ev["y"] = b.y0 + rng.integers(0, b.h, n)
        ev["p"] = rng.random(n) < b.on_share
        parts.append(ev)
    return np.concatenate(parts)
