"""Tests of the HDF5 representation store and the RVT raw-event HDF5 reader."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from leod_core.events.dat_io import EVENT_DTYPE
from leod_core.events.h5_store import (
    ReprReader, iter_event_h5_chunks, read_event_h5_info, write_event_h5, write_representations,
)


def _frames(n, hw=(5, 6), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 11, (20, *hw), dtype=np.uint8) for _ in range(n)]


def test_round_trip_and_rvt_layout(tmp_path):
    frames = _frames(37)
    path = tmp_path / "event_representations.h5"
    assert write_representations(path, iter(frames), (5, 6), num_frames=37) == 37
    with h5py.File(path, "r") as f:
        ds = f["data"]
        assert ds.shape == (37, 20, 5, 6) and ds.dtype == np.uint8
        assert ds.chunks == (1, 20, 5, 6) and ds.maxshape == (None, 20, 5, 6)
        filters = ds._filters
        assert filters["32001"][4:] == (1, 1, 5)  # clevel 1, byte shuffle, zstd (RVT _blosc_opts)
        assert "shuffle" not in filters
    with ReprReader(path) as reader:
        assert len(reader) == 37 and reader.hw == (5, 6) and reader.channels == 20
        np.testing.assert_array_equal(reader.read(0, 37), np.stack(frames))
        np.testing.assert_array_equal(reader.read(10, 12), np.stack(frames[10:12]))
        assert reader.read(5, 5).shape == (0, 20, 5, 6)
        with pytest.raises(IndexError):
            reader.read(30, 38)


def test_empty_and_count_mismatch(tmp_path):
    assert write_representations(tmp_path / "e.h5", [], (2, 3)) == 0
    with ReprReader(tmp_path / "e.h5") as r:
        assert len(r) == 0
    with pytest.raises(ValueError, match="expected 5"):
        write_representations(tmp_path / "m.h5", _frames(3), (5, 6), num_frames=5)
    assert not (tmp_path / "m.h5").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.h5"]  # no temp file left


def test_wrong_frame_shape(tmp_path):
    with pytest.raises(ValueError, match="frame 1"):
        write_representations(tmp_path / "w.h5", _frames(1) + _frames(1, hw=(4, 4)), (5, 6))
    assert list(tmp_path.iterdir()) == []


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ValueError, match="bad.h5"):
        ReprReader(bad)
    with pytest.raises(FileNotFoundError):
        ReprReader(tmp_path / "missing.h5")
    good = tmp_path / "good.h5"
    write_representations(good, _frames(2), (5, 6))
    good.write_bytes(good.read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match="good.h5"):
        ReprReader(good)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=[1])
    with pytest.raises(ValueError, match="'data'"):
        ReprReader(other)


def test_event_h5_round_trip(tmp_path):
    ev = np.zeros(11, EVENT_DTYPE)
    ev["t"] = np.arange(11) * 3
    ev["x"] = np.arange(11)
    ev["y"] = 10 - np.arange(11)
    ev["p"] = np.arange(11) % 2
    path = write_event_h5(tmp_path / "seq_td.h5", ev, 12, 13)
    info = read_event_h5_info(path)
    assert (info.num_events, info.height, info.width) == (11, 12, 13)
    chunks = list(iter_event_h5_chunks(path, 4))
    assert [len(c) for c in chunks] == [4, 4, 3]
    np.testing.assert_array_equal(np.concatenate([c.to_records() for c in chunks]), ev)
    assert all(c.x.flags.c_contiguous and c.p.dtype == np.uint8 for c in chunks)


def test_event_h5_polarity_minus_one_is_clipped(tmp_path):
    path = tmp_path / "s_td.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("events")
        g["x"], g["y"], g["t"], g["p"] = [1, 2], [0, 1], [0, 5], np.array([-1, 1], dtype=np.int8)
    info = read_event_h5_info(path)
    assert info.height is None and info.width is None
    (chunk,) = iter_event_h5_chunks(path, 10)
    assert chunk.p.tolist() == [0, 1]


def test_event_h5_bad_layout(tmp_path):
    path = tmp_path / "b_td.h5"
    with h5py.File(path, "w") as f:
        f.create_group("events")["x"] = [1]
    with pytest.raises(ValueError, match="lacks dataset 'y'"):
        read_event_h5_info(path)
