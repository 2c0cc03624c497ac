"""Streaming histograms must equal per-window histograms of the whole event array."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from leod_core.events.dat_io import EVENT_DTYPE
from leod_core.events.event_chunk import EventChunk
from leod_core.events.histogram import downsample_2x_nearest_exact, stacked_histogram
from leod_core.events.windows import StreamStats, iter_window_histograms


def _events(n, h, w, t_max, seed=0):
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, t_max, n))
    ev["t"][5:9] = ev["t"][4]  # ties
    ev["x"] = rng.integers(0, w, n)
    ev["y"] = rng.integers(0, h, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def _reference(ev, ends, window, h, w):
    frames = []
    for end in ends:
        s = np.searchsorted(ev["t"], end - window, side="left")
        e = np.searchsorted(ev["t"], end, side="right")
        win = ev[s:e]
        frames.append(stacked_histogram(win["t"], win["x"], win["y"], win["p"], h, w))
    return np.stack(frames)


def _chunks(ev, size):
    return (ev[i:i + size] for i in range(0, len(ev), size))


@pytest.mark.parametrize("chunk", [1, 7, 333, 100_000])
def test_stream_equals_per_window(chunk):
    h, w = 5, 7
    ev = _events(3000, h, w, 1_000)
    ends = np.array([40, 90, 140, 190, 240, 290, 600, 650, 700])  # a gap between 290 and 600
    ev["t"][100] = 90  # an event exactly on a shared edge (counts in both windows)
    ev.sort(order="t", kind="stable")
    stats = StreamStats()
    frames = np.stack(list(iter_window_histograms(_chunks(ev, chunk), ends, 50, (h, w), stats=stats)))
    np.testing.assert_array_equal(frames, _reference(ev, ends, 50, h, w))
    expected_counts = (np.searchsorted(ev["t"], ends, side="right")
                       - np.searchsorted(ev["t"], ends - 50, side="left"))
    assert stats.events_per_window == expected_counts.tolist()
    assert stats.events_read <= len(ev)
    assert stats.timestamps_repaired == 0


@pytest.mark.parametrize("chunk", [3, 50, 151, 400, 2999])
@pytest.mark.parametrize("window", [50, 120, 333])
def test_stream_windows_longer_than_their_spacing_and_chunks(chunk, window):
    # windows overlapping several neighbours, chunks shorter and longer than a window: the pending
    # events, the stitched head of a chunk and windows inside one chunk must all give the same frames
    h, w = 4, 6
    ev = _events(3000, h, w, 1_000, seed=3)
    ends = np.array([60, 110, 160, 210, 260, 500, 550, 990])
    frames = np.stack(list(iter_window_histograms(_chunks(ev, chunk), ends, window, (h, w))))
    np.testing.assert_array_equal(frames, _reference(ev, ends, window, h, w))


def test_stream_stops_reading_after_last_window():
    ev = _events(1000, 3, 3, 1_000)
    seen = []

    def chunks():
        for c in _chunks(ev, 100):
            seen.append(len(c))
            yield c
    frames = list(iter_window_histograms(chunks(), np.array([100, 150]), 50, (3, 3)))
    assert len(frames) == 2 and sum(seen) < 1000


def test_downsampled_stream_equals_nearest_exact_of_full_res():
    h, w = 9, 12
    ev = _events(4000, h, w, 500, seed=2)
    ends = np.array([100, 150, 200, 250, 300])
    frames = np.stack(list(iter_window_histograms(_chunks(ev, 250), ends, 50, (h, w), downsample_2x=True)))
    full = _reference(ev, ends, 50, h, w)
    np.testing.assert_array_equal(frames, downsample_2x_nearest_exact(full))


def test_windows_without_events_are_zero():
    ev = _events(50, 3, 3, 100)
    frames = list(iter_window_histograms(_chunks(ev, 10), np.array([50, 100, 5000, 5050]), 50, (3, 3)))
    assert len(frames) == 4 and not frames[2].any() and not frames[3].any()


def test_non_monotonic_timestamps_repaired_with_warning(caplog):
    h, w = 4, 4
    ev = _events(400, h, w, 300, seed=3)
    bad = ev.copy()
    bad["t"][200] = bad["t"][150] - 5  # a step back in time
    fixed = bad.copy()
    fixed["t"] = np.maximum.accumulate(fixed["t"])
    ends = np.array([100, 150, 200, 250, 300])
    stats = StreamStats()
    with caplog.at_level(logging.WARNING):
        frames = np.stack(list(iter_window_histograms(_chunks(bad, 37), ends, 50, (h, w), source="seq_td.dat",
                                                      stats=stats)))
    assert stats.timestamps_repaired >= 1 and "seq_td.dat" in caplog.text
    np.testing.assert_array_equal(frames, _reference(fixed, ends, 50, h, w))


def test_bad_events_raise():
    ev = _events(10, 4, 4, 100)
    ev["x"][3] = 4
    with pytest.raises(ValueError, match=r"a_td.dat: events outside the sensor size 4x4"):
        list(iter_window_histograms([ev], np.array([100]), 50, (4, 4), source="a_td.dat"))
    ev = _events(10, 4, 4, 100)
    ev["p"][3] = 2
    with pytest.raises(ValueError, match="polarity"):
        list(iter_window_histograms([ev], np.array([100]), 50, (4, 4)))
    with pytest.raises(ValueError, match="increasing"):
        list(iter_window_histograms([ev], np.array([100, 100]), 50, (4, 4)))


def test_event_chunk_columns_are_checked_before_casting():
    chunk = EventChunk(np.arange(3), np.array([0, 1, 2]), np.array([1, 1, 1]), np.array([0, 1, 0]))
    assert (chunk.x.dtype, chunk.p.dtype) == (np.uint16, np.uint8)
    with pytest.raises(ValueError, match="field x"):
        EventChunk(np.arange(2), np.array([0, 70_000]), np.zeros(2, int), np.zeros(2, int))  # would wrap to 4464
    with pytest.raises(ValueError, match="field p"):
        EventChunk(np.arange(2), np.zeros(2, int), np.zeros(2, int), np.array([0, -1]))
    with pytest.raises(ValueError, match="differ in length"):
        EventChunk(np.arange(3), np.zeros(2, int), np.zeros(3, int), np.zeros(3, int))
