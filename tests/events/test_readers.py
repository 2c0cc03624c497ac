"""The reader registry: every container yields exactly the events an independent encoder wrote
(``tests/evt_encoders.py``), in bounded chunks, with the declared geometry; bad files fail in one
ValueError naming the file."""

from __future__ import annotations

import numpy as np
import pytest

from evt_encoders import (
    canonical_order, encode_evt3, random_events, raw_header, write_aedat4, write_dat_cd, write_raw,
)
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.events.h5_store import write_event_h5
from leod_core.events.readers import (
    RECORDING_SUFFIXES, iter_recording_chunks, recording_geometry, recording_name,
)

H, W = 120, 160


def _records(ev):
    out = np.zeros(len(ev["t"]), EVENT_DTYPE)
    for k in ("t", "x", "y", "p"):
        out[k] = ev[k]
    return out


def _write(fmt, path, ev, h=H, w=W):
    if fmt == "dat":
        return write_dat(path, _records(ev), h, w)
    if fmt == "dat12":
        return write_dat_cd(path, ev, h, w)
    if fmt == "h5":
        return write_event_h5(path, _records(ev), h, w)
    if fmt == "aedat4":
        return write_aedat4(path, ev, h, w, events_per_packet=999)
    return write_raw(path, ev, fmt, h, w, triggers_every=37 if fmt == "EVT3" else 0)


FORMATS = {"dat": "s_td.dat", "dat12": "s_td.dat", "h5": "s_td.h5", "EVT3": "s_td.raw", "EVT2": "s.raw",
           "aedat4": "s.aedat4"}


def _read(path, n):
    chunks = list(iter_recording_chunks(path, n))
    cols = {k: np.concatenate([getattr(c, k) for c in chunks]) if chunks else np.zeros(0) for k in "txyp"}
    return cols, chunks


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_streams_exact_events(tmp_path, fmt):
    # 40 s: EVT 3.0's 24-bit time wraps twice (16.777216 s), with every TIME_HIGH step in between
    ev = random_events(30_000, 40_000_000, H, W, seed=5)
    path = _write(fmt, tmp_path / FORMATS[fmt], ev)
    cols, chunks = _read(path, 4096)
    assert all(len(c) <= 4096 for c in chunks) and sum(len(c) for c in chunks) == len(ev["t"])
    assert len(chunks) == -(-len(ev["t"]) // 4096)  # regrouped into full chunks, not the decoder's packets
    for k in "txyp":
        np.testing.assert_array_equal(cols[k], ev[k], err_msg=k)
    assert cols["t"].dtype == np.int64 and np.all(np.diff(cols["t"]) >= 0) and cols["t"][-1] > 2 * (1 << 24)
    assert all(c.t.flags.c_contiguous and c.p.flags.c_contiguous for c in chunks)
    assert recording_geometry(path) == (H, W)
    assert recording_name(path) == "s"


def test_evt3_time_high_steps_and_wrap_exactly(tmp_path):
    """Events on both sides of TIME_HIGH steps, of the 24-bit wrap (2^24 us) and after a gap longer than
    one wrap: where decoders go wrong (one PyPI decoder is 4096 us off after a TIME_HIGH step)."""
    wrap = 1 << 24
    t = np.array([0, 4095, 4096, 4097, 8191, 8192, wrap - 1, wrap, wrap + 1, 2 * wrap + 4096 * 7 + 3,
                  5 * wrap + 12])
    ev = canonical_order({"t": t, "x": np.arange(len(t)) % W, "y": np.arange(len(t)) % H,
                          "p": np.arange(len(t)) % 2})
    path = write_raw(tmp_path / "w.raw", ev, "EVT3", H, W)
    cols, _ = _read(path, 3)
    np.testing.assert_array_equal(cols["t"], ev["t"])


def test_evt3_vectors(tmp_path):
    """A full row burst: VECT_12 and VECT_8 masks, a chained VECT_12 without a new base, both polarities."""
    x = np.concatenate([np.arange(0, 24), np.arange(36, 40), [100], np.arange(0, 12)])
    p = np.concatenate([np.ones(29, np.int64), np.zeros(12, np.int64)])
    ev = canonical_order({"t": np.full(len(x), 777), "x": x, "y": np.full(len(x), 9), "p": p})
    words = encode_evt3(ev)
    assert {w >> 12 for w in words.tolist()} >= {0x2, 0x3, 0x4, 0x5}
    path = tmp_path / "v.raw"
    path.write_bytes(raw_header("EVT3", H, W) + words.astype("<u2").tobytes())
    cols, _ = _read(path, 1000)
    for k in "txyp":
        np.testing.assert_array_equal(cols[k], ev[k])


def test_header_variants(tmp_path):
    ev = random_events(500, 100_000, H, W, seed=1)
    words = encode_evt3(ev).astype("<u2").tobytes()
    legacy = tmp_path / "legacy.raw"  # older Metavision headers: "% evt 3.0" + "% geometry", no "% end"
    legacy.write_bytes(b"% evt 3.0\n% geometry 160x120\n" + words)
    assert recording_geometry(legacy) == (H, W)
    np.testing.assert_array_equal(_read(legacy, 100)[0]["x"], ev["x"])
    no_size = tmp_path / "nosize.raw"  # no geometry: none declared, nothing checked
    no_size.write_bytes(b"% evt 3.0\n% end\n" + words)
    assert recording_geometry(no_size) is None
    assert len(_read(no_size, 100)[0]["t"]) == len(ev["t"])
    empty = tmp_path / "empty.raw"
    empty.write_bytes(raw_header("EVT2", H, W))
    assert _read(empty, 10)[1] == []


@pytest.mark.parametrize("case,needle", [
    ("no format", "no format in the header"), ("unknown format", "unsupported event format 'EVT9'"),
    ("truncated", "truncated EVT3"), ("outside", "outside the declared sensor size 120x160"),
    ("bad geometry", "bad geometry"),
])
def test_bad_raw_files(tmp_path, case, needle):
    ev = random_events(2000, 200_000, H, W, seed=2)
    words = encode_evt3(ev).astype("<u2").tobytes()
    path = tmp_path / "bad.raw"
    if case == "no format":
        path.write_bytes(b"% geometry 160x120\n% end\n" + words)
    elif case == "unknown format":
        path.write_bytes(b"% format EVT9;height=120;width=160\n% end\n" + words)
    elif case == "truncated":
        path.write_bytes(raw_header("EVT3", H, W) + words[:-1])
    elif case == "bad geometry":
        path.write_bytes(b"% evt 3.0\n% geometry 160xABC\n" + words)
    else:
        ev["x"][-1] = 500
        write_raw(path, canonical_order(ev), "EVT3", H, W)
    with pytest.raises(ValueError, match=needle) as info:
        list(iter_recording_chunks(path, 512))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("fmt", ["aedat4", "dat12", "h5"])
def test_events_outside_geometry_refused_in_every_container(tmp_path, fmt):
    ev = random_events(2000, 200_000, H, W, seed=2)
    ev["y"][-1] = 130
    path = _write(fmt, tmp_path / FORMATS[fmt], canonical_order(ev))
    with pytest.raises(ValueError, match="outside the declared sensor size 120x160"):
        list(iter_recording_chunks(path, 512))


def test_dat_cd_polarity_field_checked(tmp_path):
    ev = random_events(100, 10_000, H, W)
    ev["p"][3] = 5  # EventCD's 4-bit polarity holds 0 or 1
    with pytest.raises(ValueError, match="polarity 5"):
        list(iter_recording_chunks(write_dat_cd(tmp_path / "c_td.dat", ev, H, W), 50))


def test_names_and_unknown_suffix(tmp_path):
    assert recording_name("a_b_td.dat") == "a_b" and recording_name("x_bbox.npy") is None
    assert recording_name("rec_td.raw") == "rec" and recording_name("rec.raw") == "rec"
    assert recording_name("rec.aedat4") == "rec"
    assert recording_name("_td.dat") is None  # a suffix alone names no sequence
    assert {"_td.dat", "_td.raw", ".raw", ".aedat4", ".hdf5", "_td.h5"} <= set(RECORDING_SUFFIXES)
    other = tmp_path / "s.txt"
    other.write_text("x")
    with pytest.raises(ValueError, match="s.txt: not a recording"):
        recording_geometry(other)
    with pytest.raises(FileNotFoundError, match="none_td.dat"):
        list(iter_recording_chunks(tmp_path / "none_td.dat", 10))
    mv = tmp_path / "m.hdf5"
    mv.write_bytes(b"\x89HDF")
    with pytest.raises(ValueError, match="m.hdf5: Metavision HDF5"):
        list(iter_recording_chunks(mv, 10))


@pytest.mark.parametrize("fmt,fname", [("EVT3", "big.raw"), ("aedat4", "big.aedat4")])
def test_streaming_memory_bounded_by_a_chunk(tmp_path, fmt, fname):
    """Reading a file chunk by chunk holds about a chunk (numpy allocations traced), not the file."""
    import tracemalloc

    import faery  # noqa: F401  (its import is not the data: keep it out of the traced peak)

    ev = random_events(600_000, 30_000_000, 720, 1280, seed=9)
    path = _write(fmt, tmp_path / fname, ev, 720, 1280)
    decoded = 13 * len(ev["t"])  # bytes of t, x, y, p columns
    del ev
    tracemalloc.start()
    n = 0
    for chunk in iter_recording_chunks(path, 16_384):
        n += len(chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n > 500_000 and peak < decoded / 4, (peak, decoded)  # a whole decode: > decoded
