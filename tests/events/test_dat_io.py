"""Tests of the Prophesee .dat reader/writer."""

from __future__ import annotations

import numpy as np
import pytest

from leod_core.events.dat_io import EVENT_DTYPE, iter_dat_chunks, read_dat, read_dat_header, write_dat


def _events(n: int, h: int = 240, w: int = 304, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 2**32 - 1, n))
    ev["x"] = rng.integers(0, w, n)
    ev["y"] = rng.integers(0, h, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def test_round_trip(tmp_path):
    ev = _events(1000)
    ev["x"][0], ev["y"][0] = 303, 239  # extreme coordinates survive the bit packing
    path = write_dat(tmp_path / "a_td.dat", ev, 240, 304)
    back = read_dat(path)
    assert (back.height, back.width) == (240, 304)
    assert back.events.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(back.events, ev)
    chunks = list(iter_dat_chunks(path, 300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    np.testing.assert_array_equal(np.concatenate([c.to_records() for c in chunks]), ev)


def test_empty_file_round_trip(tmp_path):
    path = write_dat(tmp_path / "e_td.dat", np.zeros(0, EVENT_DTYPE), 10, 20)
    assert len(read_dat(path).events) == 0
    assert list(iter_dat_chunks(path, 5)) == []


def test_known_bytes(tmp_path):
    ev = np.zeros(1, EVENT_DTYPE)
    ev[0] = (7, 3, 2, 1)
    path = write_dat(tmp_path / "k_td.dat", ev, 4, 4)
    data = path.read_bytes()
    assert data.startswith(b"% ")
    body = data[read_dat_header(path).body_offset:]
    assert body == np.array([7, 3 | (2 << 14) | (1 << 28)], dtype="<u4").tobytes()
    assert data[-10:-8] == bytes([0, 8])  # ev_type, ev_size


def test_headerless_legacy_file(tmp_path):
    raw = np.array([5, 1 | (2 << 14), 9, 3 | (4 << 14) | (1 << 28)], dtype="<u4")
    path = tmp_path / "legacy_td.dat"
    raw.tofile(path)
    back = read_dat(path)
    assert back.height is None and back.width is None
    assert back.events["t"].tolist() == [5, 9]
    assert back.events["x"].tolist() == [1, 3]
    assert back.events["y"].tolist() == [2, 4]
    assert back.events["p"].tolist() == [0, 1]


def test_truncated_body(tmp_path):
    path = write_dat(tmp_path / "t_td.dat", _events(10), 240, 304)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_dat(path)
    with pytest.raises(ValueError, match="truncated"):
        next(iter_dat_chunks(path, 4))


def test_events_outside_declared_sensor(tmp_path):
    path = write_dat(tmp_path / "o_td.dat", _events(10, h=240, w=304), 240, 304)
    data = path.read_bytes().replace(b"% Width 304", b"% Width 100")
    path.write_bytes(data)
    with pytest.raises(ValueError, match="outside the declared sensor"):
        read_dat(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_dat(tmp_path / "nope.dat")


@pytest.mark.parametrize("field,value,msg", [
    ("t", 2**32, r"\[0, 2\^32\)"), ("x", 304, "outside the sensor"), ("y", 2**14, "outside the sensor"),
    ("p", 2, "polarity"),
])
def test_write_rejects_bad_values(tmp_path, field, value, msg):
    ev = _events(5)
    ev["t"] = np.arange(5)
    ev[field][-1] = value
    with pytest.raises(ValueError, match=msg):
        write_dat(tmp_path / "bad_td.dat", ev, 240, 304)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_write_rejects_unsorted(tmp_path):
    ev = _events(5)
    ev["t"] = [0, 5, 3, 6, 7]
    with pytest.raises(ValueError, match="not sorted"):
        write_dat(tmp_path / "u_td.dat", ev, 240, 304)
