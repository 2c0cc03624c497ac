"""DVS pixel model for the synthetic event camera: log-intensity thresholds, refractory period, noise.

Each pixel keeps a reference log intensity. When the rendered log intensity moves ``n`` contrast
thresholds away from it within a render step, the pixel fires ``n`` events (fewer if the refractory
period forbids them); event times are the threshold crossings of the log intensity interpolated
linearly inside the step. The reference then moves by ``n`` thresholds (changes during the refractory
period are lost, as in a real pixel). Work is vectorised over pixels; the caller loops over steps.
"""

from __future__ import annotations

import numpy as np

from leod_core.events.dat_io import EVENT_DTYPE

__all__ = ["DvsSensor", "noise_events"]


class DvsSensor:
    """Per-pixel state of the event sensor (thresholds, reference level, last event time)."""

    def __init__(self, rng: np.random.Generator, first_frame: np.ndarray, step_us: int,
                 contrast_mean: float, contrast_std: float, refractory_us: int) -> None:
        self.height, self.width = first_frame.shape
        n = first_frame.size
        self.c_on = np.clip(rng.normal(contrast_mean, contrast_std, n), 0.05, None).astype(np.float32)
        self.c_off = np.clip(rng.normal(contrast_mean, contrast_std, n), 0.05, None).astype(np.float32)
        # random start inside the dead band, so pixels do not fire in lock-step
        jitter = rng.uniform(-0.5, 0.5, n).astype(np.float32) * np.minimum(self.c_on, self.c_off)
        self.ref = first_frame.ravel().astype(np.float32) + jitter
        self.prev = first_frame.ravel().astype(np.float32)
        self.last_t = np.full(n, -1e12)
        self.step_us = float(step_us)
        self.refractory_us = float(refractory_us)
        self._records: list[tuple[np.ndarray, ...]] = []

    def step(self, frame: np.ndarray, t0_us: float) -> None:
        """Feed the frame rendered at ``t0_us + step_us`` (the previous one was at ``t0_us``)."""
        cur = frame.ravel()
        d = cur - self.ref
        cand = np.flatnonzero((d >= self.c_on) | (d <= -self.c_off))
        if cand.size:
            self._fire(cand, d[cand], cur[cand], t0_us)
        self.prev = cur.astype(np.float32, copy=True)

    def _fire(self, cand: np.ndarray, dc: np.ndarray, cur: np.ndarray, t0_us: float) -> None:
        pol = dc > 0
        c = np.where(pol, self.c_on[cand], self.c_off[cand]).astype(np.float64)
        sgn = np.where(pol, 1.0, -1.0)
        n = np.floor(np.abs(dc) / c)
        r = self.ref[cand].astype(np.float64)
        lp = self.prev[cand].astype(np.float64)
        self.ref[cand] = (r + sgn * n * c).astype(np.float32)
        # crossing i (i = 1..n) of level r + sgn*i*c happens at step fraction f0 + i*g; since |cur - ref|
        # stayed below one threshold at the previous step, all crossings lie in (0, 1]
        slope = np.maximum(np.abs(cur - lp), 1e-9)
        g = c / slope
        f0 = (r - lp) * sgn / slope
        dt = self.step_us
        first_ok = (self.last_t[cand] + self.refractory_us - t0_us) / dt  # earliest allowed fraction
        i_a = np.maximum(1.0, np.ceil((first_ok - f0) / g - 1e-9))
        m = np.maximum(1.0, np.ceil(self.refractory_us / (g * dt) - 1e-9))  # keep every m-th crossing
        n_keep = np.where(i_a <= n, np.floor((n - i_a) / m) + 1, 0.0)
        k = n_keep > 0
        if not k.any():
            return
        t_first = t0_us + (f0[k] + i_a[k] * g[k]) * dt
        spacing = m[k] * g[k] * dt
        count = n_keep[k].astype(np.int64)
        self.last_t[cand[k]] = t_first + (count - 1) * spacing
        self._records.append((cand[k].astype(np.int32), pol[k], t_first, spacing, count))

    def events(self) -> np.ndarray:
        """All events fired so far (EVENT_DTYPE, NOT sorted across pixels within a step)."""
        if not self._records:
            return np.zeros(0, dtype=EVENT_DTYPE)
        pix, pol, t_first, spacing, count = (np.concatenate(a) for a in zip(*self._records))
        rep = np.repeat(np.arange(len(count)), count)
        starts = np.cumsum(count) - count
        j = np.arange(len(rep)) - starts[rep]
        out = np.empty(len(rep), dtype=EVENT_DTYPE)
        out["t"] = np.floor(t_first[rep] + j * spacing[rep]).astype(np.int64)
        out["x"] = (pix % self.width)[rep]
        out["y"] = (pix // self.width)[rep]
        out["p"] = pol[rep]
        return out


def noise_events(rng: np.random.Generator, height: int, width: int, duration_us: int, rate_hz: float,
                 n_hot: int, hot_rate_hz: tuple[float, float]) -> np.ndarray:
    """Background activity (uniform in space, time and polarity) plus a few hot pixels (EVENT_DTYPE)."""
    dur_s = duration_us * 1e-6
    n = int(rng.poisson(rate_hz * height * width * dur_s))
    parts = []
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"] = rng.integers(0, duration_us, n), rng.integers(0, width, n), rng.integers(0, height, n)
    ev["p"] = rng.integers(0, 2, n)
    parts.append(ev)
    for _ in range(n_hot):
        m = int(rng.poisson(rng.uniform(*hot_rate_hz) * dur_s))
        hot = np.empty(m, dtype=EVENT_DTYPE)
        hot["t"] = rng.integers(0, duration_us, m)
        hot["x"], hot["y"] = rng.integers(0, width), rng.integers(0, height)
        # a hot pixel mostly fires one polarity
        p_main = rng.integers(0, 2)
        hot["p"] = np.where(rng.random(m) < 0.9, p_main, 1 - p_main)
        parts.append(hot)
    return np.concatenate(parts)
