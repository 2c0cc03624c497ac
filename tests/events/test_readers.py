"""The reader registry: file names -> formats, streaming, geometry, one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.events.h5_store import write_event_h5
from leod_core.events.readers import (
    RECORDING_SUFFIXES, iter_recording_chunks, recording_geometry, recording_name,
)

H, W = 120, 160


def _events(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 400_000, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n)
    return ev


def _concat(chunks):
    chunks = list(chunks)
    return {k: np.concatenate([getattr(c, k) for c in chunks]) for k in ("t", "x", "y", "p")}, chunks


@pytest.mark.parametrize("fname,writer", [("s_td.dat", write_dat), ("s_td.h5", write_event_h5),
                                          ("s_td.dat.h5", write_event_h5)])
def test_dat_and_rvt_h5_stream_exact_events(tmp_path, fname, writer):
    ev = _events()
    path = writer(tmp_path / fname, ev, H, W)
    cols, chunks = _concat(iter_recording_chunks(path, 777))
    assert max(len(c) for c in chunks) <= 777 and len(chunks) == -(-len(ev) // 777)
    for k in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(cols[k], ev[k])
    assert cols["t"].dtype == np.int64
    assert recording_geometry(path) == (H, W)
    assert recording_name(path) == "s"


def test_names_and_unknown_suffix(tmp_path):
    assert recording_name("a_b_td.dat") == "a_b" and recording_name("x_bbox.npy") is None
    assert recording_name("_td.dat") is None  # a suffix alone names no sequence
    assert "_td.dat" in RECORDING_SUFFIXES
    other = tmp_path / "s.txt"
    other.write_text("x")
    with pytest.raises(ValueError, match="s.txt: not a recording"):
        recording_geometry(other)
    with pytest.raises(FileNotFoundError, match="none_td.dat"):
        list(iter_recording_chunks(tmp_path / "none_td.dat", 10))
