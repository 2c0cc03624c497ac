"""RVT's stacked-histogram event representation, bit-identical, in numpy (docs/REFERENCE.md section 2).

RVT (``StackedHistogram.construct``, fastmode) normalises the time of each event inside its window with
float32 arithmetic, ``bin = min(floor(float32(t - t0) / float32(max(t1 - t0, 1)) * bins), bins - 1)``
(t0/t1 = first/last event of the window), counts hits per (polarity, bin, y, x) in a uint8 tensor (so a
hot pixel with more than 255 hits in one bin wraps around) and clamps the counts to ``count_cutoff``.

We reproduce that exactly but faster: the float32 bin of an event is monotone in its time, so instead of
evaluating the formula per event we locate the 9 bin boundaries (evaluating the same float32 formula on a
few candidate times) and binary-search them in the sorted timestamps. Counting uses ``np.add.at`` with a
uint8 value array, which wraps like torch's uint8 accumulation.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["stacked_histogram", "downsample_2x_nearest_exact", "time_bin_bounds", "accumulate_window"]

# Window durations below this use the boundary search; longer ones evaluate the formula per event. The
# float32 error of the formula is < 2 ulp relative (~2.4e-7 * bins), far below one time step of 1 us
# for durations < 2^20 us, so the exact float32 boundary lies within +-1 us of the exact rational one.
_FAST_PATH_MAX_US = 1 << 20


def _float32_bin(d_us: np.ndarray, duration_us: int, bins: int) -> np.ndarray:
    """RVT's time-bin formula (before clamping), evaluated in float32 exactly like torch does."""
    q = d_us.astype(np.float32) / np.float32(duration_us)
    return np.floor(q * np.float32(bins))


def time_bin_bounds(t: np.ndarray, bins: int) -> np.ndarray:
    """Event index where each of the ``bins`` time bins starts, plus ``len(t)`` (shape ``(bins + 1,)``).

    ``t`` must be sorted and non-empty; bins follow RVT's float32 formula (clamped to ``bins - 1``).
    """
    t0 = int(t[0])
    duration = max(int(t[-1]) - t0, 1)
    k = np.arange(1, bins, dtype=np.int64)
    if duration < _FAST_PATH_MAX_US:
        exact = -(-k * duration // bins)  # ceil(k * duration / bins): exact-arithmetic boundary
        cand = np.clip(exact[:, None] + np.arange(-2, 3, dtype=np.int64)[None, :], 0, duration)
        reached = _float32_bin(cand, duration, bins) >= k[:, None]
        if not reached.any(axis=1).all():  # cannot happen for the durations of the fast path
            raise RuntimeError(f"time-bin boundary search failed for duration {duration} us")
        first_time = t0 + cand[np.arange(bins - 1), reached.argmax(axis=1)]
        starts = np.searchsorted(t, first_time, side="left")
    else:
        b = _float32_bin(np.asarray(t, dtype=np.int64) - t0, duration, bins)
        starts = np.searchsorted(b, k.astype(np.float32), side="left")
    return np.concatenate(([0], starts, [len(t)])).astype(np.int64)


def accumulate_window(flat_out: np.ndarray, cell: np.ndarray, bounds: np.ndarray, plane: int,
                      count_cutoff: int, keep: np.ndarray | None = None) -> None:
    """Count one hit per event into zeroed uint8 ``flat_out`` at ``cell + bin * plane``, then clamp.

    ``cell`` = x + W*y + bins*H*W*p per event (int64), ``bounds`` from :func:`time_bin_bounds`.
    Counts wrap at 256 (torch's uint8 accumulation) before being clamped to ``count_cutoff``.
    ``keep`` (bool per event) leaves out events that still count for the window's t0/t1 but not as hits.
    """
    if len(cell) == 0:
        return
    idx = cell.astype(np.intp, copy=True)
    for b in range(1, len(bounds) - 1):  # bin 0 needs no offset
        s, e = bounds[b], bounds[b + 1]
        if e > s:
            idx[s:e] += b * plane
    if keep is not None:
        idx = idx[keep]
    # uint8 value array: numpy's fast path of add.at, and the same wrap-around as torch's uint8 put_
    np.add.at(flat_out, idx, np.ones(len(idx), dtype=np.uint8))
    # in place through a zero-copy torch view: numpy's uint8 minimum is not SIMD-vectorised (~25x slower)
    torch.from_numpy(flat_out).clamp_(max=count_cutoff)


def _check_events(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, height: int, width: int) -> None:
    if not (len(t) == len(x) == len(y) == len(p)):
        raise ValueError(f"event arrays differ in length: t {len(t)}, x {len(x)}, y {len(y)}, p {len(p)}")
    for name, a in (("t", t), ("x", x), ("y", y), ("p", p)):
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"event field {name} must be an integer array, got {a.dtype}")
    if len(t) == 0:
        return
    if np.any(t[1:] < t[:-1]):
        raise ValueError("event timestamps are not sorted")
    if x.min() < 0 or y.min() < 0 or x.max() >= width or y.max() >= height:
        raise ValueError(f"event coordinates outside the sensor size {height}x{width}")
    if p.min() < 0 or p.max() > 1:
        raise ValueError("event polarity must be 0 or 1")


def stacked_histogram(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, height: int, width: int,
                      bins: int = 10, count_cutoff: int | None = 10) -> np.ndarray:
    """Stacked histogram of one event window -> uint8 ``(2 * bins, height, width)``.

    Channels 0..bins-1 hold polarity 0 (oldest to newest bin), bins..2*bins-1 polarity 1. ``t`` (us)
    must be sorted; an empty window gives zeros. ``count_cutoff=None`` means 255, as in RVT.
    """
    if bins < 1 or height < 1 or width < 1:
        raise ValueError(f"bins, height and width must be >= 1 (got {bins}, {height}, {width})")
    cutoff = 255 if count_cutoff is None else min(int(count_cutoff), 255)
    if cutoff < 1:
        raise ValueError(f"count_cutoff must be >= 1, got {count_cutoff}")
    t, x, y, p = (np.asarray(a) for a in (t, x, y, p))
    _check_events(t, x, y, p, height, width)
    out = np.zeros(2 * bins * height * width, dtype=np.uint8)
    if len(t):
        plane = height * width
        cell = x.astype(np.int64) + width * y.astype(np.int64) + (bins * plane) * p.astype(np.int64)
        accumulate_window(out, cell, time_bin_bounds(t, bins), plane, cutoff)
    return out.reshape(2 * bins, height, width)


def downsample_2x_nearest_exact(representation: np.ndarray) -> np.ndarray:
    """Halve the two last axes like torch ``F.interpolate(scale_factor=0.5, mode='nearest-exact')``.

    nearest-exact maps output pixel i to source floor((i + 0.5) * 2) = 2i + 1, so this is a strided view
    copy (no averaging); the output size is floor(size / 2).
    """
    h, w = representation.shape[-2:]
    return np.ascontiguousarray(representation[..., 1:2 * (h // 2):2, 1:2 * (w // 2):2])
