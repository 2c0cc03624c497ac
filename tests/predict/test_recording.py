"""leod_core.predict.recording: raw event files -> the import's 50 ms histograms, streamed in segments."""

from __future__ import annotations

import numpy as np
import pytest

from leod_core.cameras import get_camera
from leod_core.events.event_chunk import EventChunk
from leod_core.events.grid import REPR_STEP_US
from leod_core.events.h5_store import ReprReader
from leod_core.events.windows import iter_window_histograms
from leod_core.layout import SequencePaths
from leod_core.predict.recording import event_windows, iter_frames, open_recording, read_ground_truth

SYNTH = get_camera("synth")


def _chunks(t, rng, size):
    x = rng.integers(0, SYNTH.sensor_hw[1], len(t)).astype(np.uint16)
    y = rng.integers(0, SYNTH.sensor_hw[0], len(t)).astype(np.uint16)
    p = rng.integers(0, 2, len(t)).astype(np.uint8)
    return [EventChunk(t[i:i + size], x[i:i + size], y[i:i + size], p[i:i + size]) for i in range(0, len(t), size)]


@pytest.mark.parametrize("segment", [1, 3, 200])
def test_segments_equal_one_histogram_stream(segment):
    rng = np.random.default_rng(1)
    t = np.sort(rng.integers(0, 1_020_000, 30_000)).astype(np.int64)
    t[100:110] = 150_000  # events on a window edge, counted in both windows
    t[5000:5010] = t[5000] - 7  # a backward step: repaired to the running maximum, as the import does
    chunks = _chunks(t, rng, 997)
    got = list(event_windows(chunks, SYNTH, segment_windows=segment))
    ends = REPR_STEP_US * np.arange(1, 22, dtype=np.int64)  # the window of the last event ends at 1.05 s
    want = list(iter_window_histograms(chunks, ends, REPR_STEP_US, SYNTH.sensor_hw, bins=10, count_cutoff=10))
    assert [e for e, _ in got] == ends.tolist()
    assert all(np.array_equal(g, w) for (_, g), w in zip(got, want))


def test_empty_stream_has_no_window():
    assert list(event_windows([], SYNTH)) == []
    assert list(event_windows([EventChunk.empty()], SYNTH)) == []


def test_raw_recording_frames_equal_the_imported_representations(raw_root, dataset_root):
    """The same windows as the import (its grid starts at the first label frame, ours at 50 ms)."""
    raw = open_recording(raw_root / "test" / "rec_a_td.dat")
    assert (raw.kind, raw.name, raw.labels) == ("events", "rec_a", raw_root / "test" / "rec_a_bbox.npy")
    frames = {f.t_us: f.repr for f in iter_frames(raw, SYNTH, chunk_events=4096)}
    seq = SequencePaths(dataset_root / "test" / "rec_a", SYNTH)
    ts = np.load(seq.repr_timestamps)
    with ReprReader(seq.repr_h5) as r:
        reps = r.read(0, len(r))
    assert len(ts) > 10 and set(ts.tolist()) <= set(frames)
    assert all(np.array_equal(frames[int(t)], rep) for t, rep in zip(ts, reps))


def test_sequence_folder_and_its_labels(dataset_root):
    rec = open_recording(dataset_root / "test" / "rec_b")
    assert (rec.kind, rec.name, rec.labels) == ("sequence", "rec_b", None)
    frames = list(iter_frames(rec, SYNTH))
    assert [f.index for f in frames] == list(range(len(frames))) and frames[0].t_us == 100_000
    gt = read_ground_truth(rec, SYNTH)
    assert len(gt) and np.all(np.diff(gt["t"]) >= 0) and set(np.unique(gt["t"])) <= {f.t_us for f in frames}


def test_unknown_format_and_missing_recording(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 16)
    with pytest.raises(ValueError, match="clip.mp4: unknown recording format"):
        open_recording(tmp_path / "clip.mp4")
    with pytest.raises(ValueError, match="unknown recording format"):
        open_recording(tmp_path)  # a folder that is no sequence
    with pytest.raises(FileNotFoundError, match="recording not found"):
        open_recording(tmp_path / "nope_td.dat")


def test_recording_of_another_sensor_size_is_refused(raw_root):
    with pytest.raises(ValueError, match="sensor size 120x160 differs from camera gen1 240x304"):
        iter_frames(open_recording(raw_root / "test" / "rec_a_td.dat"), get_camera("gen1"))


def test_labels_as_csv_or_a_folder(raw_root, tmp_path):
    npy = np.load(raw_root / "test" / "rec_a_bbox.npy")
    csv = tmp_path / "rec_a_bbox.csv"
    rows = (f"{b['t']},{float(b['x'])!r},{float(b['y'])!r},{float(b['w'])!r},{float(b['h'])!r},{b['class_id']}\n"
            for b in npy)  # float32 -> shortest exact decimal
    csv.write_text("t,x,y,w,h,class\n" + "".join(rows))
    dat = raw_root / "test" / "rec_a_td.dat"
    for given in (csv, tmp_path):
        rec = open_recording(dat, labels=given)
        assert rec.labels == csv
        gt = read_ground_truth(rec, SYNTH)
        want = npy[np.argsort(npy["t"], kind="stable")]
        assert all(np.array_equal(gt[f], want[f]) for f in ("t", "x", "y", "w", "h", "class_id"))
    with pytest.raises(FileNotFoundError, match="labels of rec_a not found"):
        open_recording(dat, labels=tmp_path / "none")


def _long_stream(seconds: float, rng):
    for t0 in range(0, int(seconds * 1e6), 100_000):  # chunks of 5k events spanning 100 ms
        t = np.sort(rng.integers(t0, t0 + 100_000, 5_000)).astype(np.int64)
        yield _chunks(t, rng, 5_000)[0]


def test_memory_does_not_grow_with_the_recording_length():
    import tracemalloc

    list(event_windows(_long_stream(0.2, np.random.default_rng(0)), SYNTH))  # numba's compile outside the trace
    peaks = []
    for seconds in (2, 12):
        tracemalloc.start()
        n = sum(1 for _ in event_windows(_long_stream(seconds, np.random.default_rng(0)), SYNTH))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert n == seconds * 20
    assert peaks[1] < 1.2 * peaks[0]
