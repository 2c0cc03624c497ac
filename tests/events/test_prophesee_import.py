"""Import of a tiny hand-made raw dataset into RVT layout, and bad-input handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leod_core.cameras import get_camera
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.events.h5_store import ReprReader, write_event_h5
from leod_core.events.histogram import stacked_histogram
from leod_core.events.prophesee_import import (
    find_raw_sequences, import_dataset, import_sequence, is_rvt_preprocessed,
)
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.labels.table import read_labels
from leod_core.layout import SequencePaths, labels_full_path

CAM = get_camera("synth")  # 120 x 160, labels every 50 ms
H, W = CAM.sensor_hw


def _events(seed, duration_us=600_000, n=20_000):
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, duration_us, n))
    ev["x"] = rng.integers(0, W, n)
    ev["y"] = rng.integers(0, H, n)
    ev["p"] = rng.integers(0, 2, n)
    return ev


def _boxes(times, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for t in times:
        for k in range(2):
            rows.append((t, rng.uniform(0, 100), rng.uniform(0, 60), 30, 20, k, k + 1, 1.0))
    return np.array(rows, dtype=PROPHESEE_BBOX_DTYPE)


def _make_raw(root):
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    ev_a, ev_b = _events(1), _events(2)
    write_dat(root / "train" / "seq_a_td.dat", ev_a, H, W)
    np.save(root / "train" / "seq_a_bbox.npy", _boxes([50_000, 150_000, 200_000, 300_000, 450_000]))
    write_event_h5(root / "test" / "seq_b_td.h5", ev_b, H, W)  # RVT's re-packaged HDF5 events
    np.save(root / "test" / "seq_b_bbox.npy", _boxes([120_000, 170_000]))
    return {"seq_a": ev_a, "seq_b": ev_b}


def _reference_reprs(ev, ends):
    out = []
    for end in ends:
        s, e = np.searchsorted(ev["t"], end - 50_000, "left"), np.searchsorted(ev["t"], end, "right")
        w = ev[s:e]
        out.append(stacked_histogram(w["t"], w["x"], w["y"], w["p"], H, W))
    return np.stack(out)


def test_import_tiny_dataset(tmp_path):
    src, dst = tmp_path / "raw", tmp_path / "data"
    events = _make_raw(src)
    summaries = import_dataset(src, dst, CAM)
    assert sorted((s.split, s.name) for s in summaries) == [("test", "seq_b"), ("train", "seq_a")]
    for split, name in (("train", "seq_a"), ("test", "seq_b")):
        seq = SequencePaths(dst / split / name, CAM)
        seq.check_complete()
        with np.load(seq.labels_npz) as npz:
            assert set(npz.files) == {"labels", "objframe_idx_2_label_idx"}
            labels, starts = npz["labels"], npz["objframe_idx_2_label_idx"]
        assert labels.dtype == PROPHESEE_BBOX_DTYPE and starts.dtype == np.int64
        frame_ts = np.load(seq.label_timestamps)
        repr_ts = np.load(seq.repr_timestamps)
        repr_idx = np.load(seq.objframe_idx_2_repr_idx)
        assert frame_ts.dtype == repr_ts.dtype == repr_idx.dtype == np.int64
        np.testing.assert_array_equal(repr_ts[repr_idx], frame_ts)  # label ts == repr end ts
        np.testing.assert_array_equal(labels["t"][starts], frame_ts)
        assert repr_ts[-1] == frame_ts[-1] and np.all(np.diff(repr_ts) == 50_000)
        with ReprReader(seq.repr_h5) as reader:
            assert len(reader) == len(repr_ts) and reader.hw == (H, W)
            np.testing.assert_array_equal(reader.read(0, len(reader)), _reference_reprs(events[name], repr_ts))
    seq_a = SequencePaths(dst / "train" / "seq_a", CAM)
    # the 50 ms label (< 100 ms) is not a label frame
    assert np.load(seq_a.label_timestamps).tolist() == [150_000, 200_000, 300_000, 450_000]
    assert np.load(seq_a.objframe_idx_2_repr_idx).tolist() == [1, 2, 4, 7]
    table = read_labels(labels_full_path(dst, "train"))
    assert len(table) == 8 and set(table["frame_idx"]) == {1, 2, 4, 7}
    assert table["is_gt"].all() and (table["source"] == "gt").all()
    assert table["track_id"].tolist()[:2] == [1, 2] and (table["objectness"] == 1).all()
    assert labels_full_path(dst, "test").exists()
    assert not any(p.name.startswith(".") for p in (dst / "train").iterdir())  # no temp folders left


def test_import_of_rvt_folder_only_adds_labels_full(tmp_path):
    src, dst = tmp_path / "raw", tmp_path / "data"
    _make_raw(src)
    import_dataset(src, dst, CAM)
    for split in ("train", "test"):
        labels_full_path(dst, split).unlink()
    before = {p: p.stat().st_mtime_ns for p in dst.rglob("*") if p.is_file()}
    assert is_rvt_preprocessed(dst) and not is_rvt_preprocessed(src)
    assert import_dataset(dst, dst, CAM) == []
    after = {p: p.stat().st_mtime_ns for p in dst.rglob("*") if p.is_file()}
    assert set(after) - set(before) == {labels_full_path(dst, "train"), labels_full_path(dst, "test")}
    assert all(after[p] == t for p, t in before.items())
    linked = tmp_path / "linked"
    import_dataset(dst, linked, CAM)  # another destination: sequences linked, tables written
    assert (linked / "train" / "seq_a").is_symlink()
    pd.testing.assert_frame_equal(read_labels(labels_full_path(linked, "train")),
                                  read_labels(labels_full_path(dst, "train")))


def test_sequence_without_usable_labels_is_skipped(tmp_path, caplog):
    src = tmp_path / "raw"
    (src / "train").mkdir(parents=True)
    write_dat(src / "train" / "s_td.dat", _events(0), H, W)
    b = _boxes([150_000])
    b["w"] = 2  # below the size filter
    np.save(src / "train" / "s_bbox.npy", b)
    (raw,) = find_raw_sequences(src, "train")
    assert import_sequence(raw, tmp_path / "out" / "train", CAM) is None
    assert "no labels left" in caplog.text
    assert not (tmp_path / "out" / "train" / "s").exists()


def test_gen4_downsampled_representation(tmp_path):
    cam = get_camera("gen4")
    h, w = cam.sensor_hw
    rng = np.random.default_rng(0)
    n = 5000
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 400_000, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n)
    (tmp_path / "test").mkdir()
    write_event_h5(tmp_path / "test" / "g_td.h5", ev, h, w)
    times = np.rint(np.arange(3, 12) * 1e6 / 30).astype(np.int64)  # 30 Hz labels
    np.save(tmp_path / "test" / "g_bbox.npy", _boxes(times))
    (raw,) = find_raw_sequences(tmp_path, "test")
    summary = import_sequence(raw, tmp_path / "out" / "test", cam)
    seq = SequencePaths(tmp_path / "out" / "test" / "g", cam)
    assert seq.repr_h5.name == "event_representations_ds2_nearest.h5"
    repr_ts = np.load(seq.repr_timestamps)
    with ReprReader(seq.repr_h5) as reader:
        assert reader.hw == (360, 640) and len(reader) == summary.num_reprs == len(repr_ts)
        got = reader.read(0, len(reader))
    end = repr_ts[-1]
    s, e = np.searchsorted(ev["t"], end - 50_000, "left"), np.searchsorted(ev["t"], end, "right")
    win = ev[s:e]
    full = stacked_histogram(win["t"], win["x"], win["y"], win["p"], h, w)
    np.testing.assert_array_equal(got[-1], full[:, 1::2, 1::2])


# ---------------------------------------------------------------- bad input

def test_missing_partner_file(tmp_path):
    src = tmp_path / "raw"
    (src / "train").mkdir(parents=True)
    write_dat(src / "train" / "lonely_td.dat", _events(0, n=10), H, W)
    with pytest.raises(ValueError, match="lonely_bbox.npy"):
        find_raw_sequences(src, "train")
    (src / "train" / "lonely_td.dat").unlink()
    np.save(src / "train" / "orphan_bbox.npy", _boxes([150_000]))
    with pytest.raises(ValueError, match="orphan_td.dat"):
        find_raw_sequences(src, "train")
    with pytest.raises(FileNotFoundError):
        find_raw_sequences(src, "val")


@pytest.mark.parametrize("problem,match", [
    ("dtype", "not a structured array"), ("nan", "NaN"), ("negative", "negative box width"),
    ("pickle", "cannot read box file"),
])
def test_bad_box_file(tmp_path, problem, match):
    src = tmp_path / "raw"
    (src / "train").mkdir(parents=True)
    write_dat(src / "train" / "s_td.dat", _events(0, n=100), H, W)
    b = _boxes([150_000])
    if problem == "dtype":
        np.save(src / "train" / "s_bbox.npy", np.zeros((3, 4), np.float32))
    elif problem == "pickle":
        np.save(src / "train" / "s_bbox.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    else:
        b["w"][0] = np.nan if problem == "nan" else -3
        np.save(src / "train" / "s_bbox.npy", b)
    (raw,) = find_raw_sequences(src, "train")
    with pytest.raises(ValueError, match=match):
        import_sequence(raw, tmp_path / "out" / "train", CAM)
    assert not (tmp_path / "out" / "train" / "s").exists()


@pytest.mark.parametrize("problem,match", [
    ("truncated", "truncated body"), ("outside", "events outside"), ("size", "differs from camera"),
    ("corrupt_h5", "not a readable HDF5"),
])
def test_bad_event_file_leaves_nothing(tmp_path, problem, match):
    src = tmp_path / "raw"
    (src / "train").mkdir(parents=True)
    ev = _events(0, n=1000)
    if problem == "corrupt_h5":
        (src / "train" / "s_td.h5").write_bytes(b"\x89HDF garbage")
    else:
        path = write_dat(src / "train" / "s_td.dat", ev, H, W)
        if problem == "truncated":
            path.write_bytes(path.read_bytes()[:-5])
        elif problem == "size":
            write_dat(path, ev, H + 8, W)
        elif problem == "outside":  # a legacy header-less file with x beyond the camera's 160 columns
            raw_words = np.empty(2 * len(ev), "<u4")
            raw_words[0::2] = ev["t"]
            raw_words[1::2] = (ev["x"].astype(np.uint32) + 40) | (ev["y"].astype(np.uint32) << 14)
            raw_words.tofile(path)
    np.save(src / "train" / "s_bbox.npy", _boxes([150_000, 200_000]))
    (raw,) = find_raw_sequences(src, "train")
    with pytest.raises(ValueError, match=match):
        import_sequence(raw, tmp_path / "out" / "train", CAM)
    out = tmp_path / "out" / "train"
    assert not out.exists() or not any(out.iterdir())  # nothing half-written, no temp folder


def test_non_monotonic_timestamps_repaired(tmp_path, caplog):
    src = tmp_path / "raw"
    (src / "train").mkdir(parents=True)
    ev = _events(0, n=2000)
    ev["t"][1000] = ev["t"][900] - 3
    write_event_h5(src / "train" / "s_td.h5", ev, H, W)  # write_dat would refuse unsorted events
    np.save(src / "train" / "s_bbox.npy", _boxes([150_000, 200_000]))
    (raw,) = find_raw_sequences(src, "train")
    summary = import_sequence(raw, tmp_path / "out" / "train", CAM)
    assert summary.timestamps_repaired >= 1
    assert "timestamps decrease" in caplog.text
