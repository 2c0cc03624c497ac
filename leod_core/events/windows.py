"""Streaming: a time-sorted stream of event chunks -> stacked histograms of fixed windows, in bounded memory.

Window r holds the events with ``end_r - window_us <= t <= end_r`` (RVT: searchsorted left/right), so
an event exactly on a shared edge counts in both neighbouring windows. Only the events still needed by
an unfinished window are kept between chunks, so memory is bounded by one window plus one chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from leod_core.events.histogram import accumulate_window, time_bin_bounds

__all__ = ["StreamStats", "iter_window_histograms"]

log = logging.getLogger(__name__)


@dataclass
class StreamStats:
    """Counters filled while streaming (mutable on purpose: read them after the iterator is exhausted)."""

    events_read: int = 0
    timestamps_repaired: int = 0  # events whose time was raised to the running maximum
    events_per_window: list[int] | None = None


def iter_window_histograms(chunks: Iterable[np.ndarray], window_ends_us: np.ndarray, window_us: int,
                           sensor_hw: tuple[int, int], bins: int = 10, count_cutoff: int = 10,
                           downsample_2x: bool = False, source: str = "events",
                           stats: StreamStats | None = None) -> Iterator[np.ndarray]:
    """Yield one uint8 ``(2 * bins, H', W')`` histogram per window end, in order.

    ``chunks`` are EVENT_DTYPE arrays in file order. Decreasing timestamps are repaired like RVT's
    H5Reader (raised to the running maximum; counted in ``stats``); negative times, coordinates outside
    ``sensor_hw`` and polarities other than 0/1 raise ValueError naming ``source``. With
    ``downsample_2x`` the output equals the full-resolution histogram downsampled by nearest-exact
    (which keeps pixels (2i+1, 2j+1)); we build it directly from the events on odd rows and columns.
    Reading stops as soon as the last window is complete.
    """
    ends = np.asarray(window_ends_us, dtype=np.int64)
    if np.any(np.diff(ends) <= 0):
        raise ValueError("window end times must be strictly increasing")
    stats = stats if stats is not None else StreamStats()
    stats.events_per_window = []
    height, width = sensor_hw
    out_h, out_w = (height // 2, width // 2) if downsample_2x else (height, width)
    plane = out_h * out_w
    n_cells = 2 * bins * plane
    cutoff = min(int(count_cutoff), 255)

    buf_t = np.zeros(0, dtype=np.int64)
    buf_cell = np.zeros(0, dtype=np.int64)
    # downsampling: events off the kept pixels still define the window's first/last time, but add no hit
    buf_keep = np.zeros(0, dtype=bool) if downsample_2x else None
    last_t = 0
    next_win = 0

    def emit(upto: int) -> Iterator[np.ndarray]:
        nonlocal next_win
        for r in range(next_win, upto):
            s = int(np.searchsorted(buf_t, ends[r] - window_us, side="left"))
            e = int(np.searchsorted(buf_t, ends[r], side="right"))
            frame = np.zeros(n_cells, dtype=np.uint8)
            if e > s:
                keep = None if buf_keep is None else buf_keep[s:e]
                accumulate_window(frame, buf_cell[s:e], time_bin_bounds(buf_t[s:e], bins), plane, cutoff, keep)
            stats.events_per_window.append(e - s)
            yield frame.reshape(2 * bins, out_h, out_w)
        next_win = upto

    for chunk in chunks:
        if next_win == len(ends):
            break
        if len(chunk) == 0:
            continue
        stats.events_read += len(chunk)
        t = np.asarray(chunk["t"], dtype=np.int64)
        if t.min() < 0:
            raise ValueError(f"{source}: negative event timestamps")
        fixed = t
        if t[0] < last_t or np.any(t[1:] < t[:-1]):  # the running max is slow: only when needed
            fixed = np.maximum(np.maximum.accumulate(t), last_t)
            if stats.timestamps_repaired == 0:
                log.warning("%s: timestamps decrease; raising them to the running maximum (as RVT)", source)
            stats.timestamps_repaired += int(np.count_nonzero(fixed != t))
        last_t = int(fixed[-1])
        max_x, max_y = int(chunk["x"].max()), int(chunk["y"].max())
        if max_x >= width or max_y >= height:
            raise ValueError(f"{source}: events outside the sensor size {height}x{width} "
                             f"(max x {max_x}, max y {max_y})")
        if int(chunk["p"].max()) > 1:
            raise ValueError(f"{source}: event polarity must be 0 or 1")
        x = chunk["x"].astype(np.int64)
        y = chunk["y"].astype(np.int64)
        p = chunk["p"].astype(np.int64)
        if downsample_2x:
            cell = (x >> 1) + out_w * (y >> 1) + (bins * plane) * p
            keep_new = ((x & 1) == 1) & ((y & 1) == 1)
        else:
            cell = x + width * y + (bins * plane) * p

        # keep only what unfinished windows can still use, then add the new chunk
        keep_from = int(np.searchsorted(buf_t, ends[next_win] - window_us, side="left"))
        buf_t = np.concatenate([buf_t[keep_from:], fixed])
        buf_cell = np.concatenate([buf_cell[keep_from:], cell])
        if buf_keep is not None:
            buf_keep = np.concatenate([buf_keep[keep_from:], keep_new])
        # a window is complete once an event later than its end has been seen
        yield from emit(int(np.searchsorted(ends, last_t, side="left")))
    yield from emit(len(ends))
