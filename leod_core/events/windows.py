"""Streaming: a time-sorted stream of event chunks -> stacked histograms of fixed windows, in bounded memory.

Window r holds the events with ``end_r - window_us <= t <= end_r`` (RVT: searchsorted left/right), so
an event exactly on a shared edge counts in both neighbouring windows. Only the events still needed by
an unfinished window are kept between chunks (a view into the last chunk, or a copy when a window spans
several chunks), so memory is bounded by two chunks plus one window, never by the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from leod_core.events.event_chunk import EventChunk
from leod_core.events.histogram import histograms_of_windows, window_bin_bounds

__all__ = ["StreamStats", "iter_window_histograms"]

log = logging.getLogger(__name__)


@dataclass
class StreamStats:
    """Counters filled while streaming (mutable on purpose: read them after the iterator is exhausted)."""

    events_read: int = 0
    timestamps_repaired: int = 0  # events whose time was raised to the running maximum
    events_per_window: list[int] | None = None


def iter_window_histograms(chunks: Iterable[EventChunk | np.ndarray], window_ends_us: np.ndarray, window_us: int,
                           sensor_hw: tuple[int, int], bins: int = 10, count_cutoff: int = 10,
                           downsample_2x: bool = False, source: str = "events",
                           stats: StreamStats | None = None) -> Iterator[np.ndarray]:
    """Yield one uint8 ``(2 * bins, H', W')`` histogram per window end, in order.

    ``chunks`` are :class:`EventChunk` s (or ``EVENT_DTYPE`` record arrays) in file order. Decreasing
    timestamps are repaired like RVT's H5Reader (raised to the running maximum; counted in ``stats``);
    negative times, coordinates outside ``sensor_hw`` and polarities other than 0/1 raise ValueError
    naming ``source``. With
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
    cutoff = min(int(count_cutoff), 255)
    shape = (2 * bins, out_h, out_w)
    starts_us = ends - window_us
    # events still needed by unfinished windows: a view into the last chunk, or (when a window spans
    # more than one chunk) a copy; the histograms of windows inside a chunk are built on the chunk itself
    pending = EventChunk.empty()
    last_t = 0
    next_win = 0

    def windows_of(events: EventChunk, first: int, stop: int) -> Iterator[np.ndarray]:
        win_starts = np.searchsorted(events.t, starts_us[first:stop], side="left")
        win_stops = np.searchsorted(events.t, ends[first:stop], side="right")
        stats.events_per_window.extend((win_stops - win_starts).tolist())
        bounds = window_bin_bounds(events.t, win_starts, win_stops, bins)
        # events off the kept pixels of a downsampled frame still define the window's first/last time
        yield from histograms_of_windows(events.x, events.y, events.p, bounds, shape, cutoff,
                                         odd_pixels_only=downsample_2x)

    def emit(chunk: EventChunk, upto: int) -> Iterator[np.ndarray]:
        """Histograms of windows ``next_win..upto-1`` from ``pending`` + ``chunk``."""
        nonlocal next_win
        first = next_win
        if len(pending) and upto > first:
            # windows that reach back into the pending events: stitch those to the head of the chunk
            n_back = int(np.searchsorted(starts_us[first:upto], pending.t[-1], side="right"))
            if n_back:
                head = chunk[:int(np.searchsorted(chunk.t, ends[first + n_back - 1], side="right"))]
                yield from windows_of(EventChunk.concat(pending, head), first, first + n_back)
                first += n_back
        yield from windows_of(chunk, first, upto)
        next_win = upto

    for chunk in chunks:
        if next_win == len(ends):
            break
        if len(chunk) == 0:
            continue
        if not isinstance(chunk, EventChunk):
            chunk = EventChunk.from_records(chunk)
        stats.events_read += len(chunk)
        chunk = _checked_chunk(chunk, last_t, sensor_hw, source, stats)
        last_t = int(chunk.t[-1])
        # a window is complete once an event later than its end has been seen
        yield from emit(chunk, int(np.searchsorted(ends, last_t, side="left")))
        if next_win == len(ends):
            break
        pending = _still_needed(pending, chunk, starts_us[next_win])
    yield from emit(EventChunk.empty(), len(ends))


def _checked_chunk(chunk: EventChunk, last_t: int, sensor_hw: tuple[int, int], source: str,
                   stats: StreamStats) -> EventChunk:
    """``chunk`` with decreasing times raised to the running maximum from ``last_t`` (counted in ``stats``);
    negative times, coordinates outside ``sensor_hw`` and polarities other than 0/1 raise ValueError."""
    t = chunk.t
    fixed = t
    if t[0] < last_t or np.any(t[1:] < t[:-1]):  # the running max is slow: only when needed
        if t.min() < 0:
            raise ValueError(f"{source}: negative event timestamps")
        fixed = np.maximum(np.maximum.accumulate(t), last_t)
        if stats.timestamps_repaired == 0:
            log.warning("%s: timestamps decrease; raising them to the running maximum (as RVT)", source)
        stats.timestamps_repaired += int(np.count_nonzero(fixed != t))
    elif t[0] < 0:  # sorted: the first is the smallest
        raise ValueError(f"{source}: negative event timestamps")
    height, width = sensor_hw
    max_x, max_y = int(chunk.x.max()), int(chunk.y.max())
    if max_x >= width or max_y >= height:
        raise ValueError(f"{source}: events outside the sensor size {height}x{width} "
                         f"(max x {max_x}, max y {max_y})")
    if int(chunk.p.max()) > 1:
        raise ValueError(f"{source}: event polarity must be 0 or 1")
    return EventChunk(fixed, chunk.x, chunk.y, chunk.p)


def _still_needed(pending: EventChunk, chunk: EventChunk, keep_t: int) -> EventChunk:
    """The events of ``pending`` + ``chunk`` from ``keep_t`` (the first unfinished window's start) on: a view
    into ``chunk``, or a copy when that window reaches back before it."""
    if len(pending) and pending.t[-1] >= keep_t:
        kept = pending[int(np.searchsorted(pending.t, keep_t, side="left")):]
        return EventChunk.concat(kept, chunk)
    return chunk[int(np.searchsorted(chunk.t, keep_t, side="left")):]
