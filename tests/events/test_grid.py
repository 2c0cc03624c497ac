"""Tests of the label filters and the label-frame / 50 ms representation grid."""

from __future__ import annotations

import numpy as np
import pytest

from leod_core.cameras import get_camera
from leod_core.events.grid import apply_label_filters, base_label_period_us, label_frames_and_repr_grid
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE


def _boxes(rows):
    out = np.zeros(len(rows), PROPHESEE_BBOX_DTYPE)
    for i, (t, x, y, w, h, c) in enumerate(rows):
        out[i] = (t, x, y, w, h, c, i, 1.0)
    return out


def test_gen1_filters_in_rvt_order():
    cam = get_camera("gen1")  # 240 x 304
    b = _boxes([
        (1, 10, 10, 40, 40, 0),      # kept
        (1, -20, 10, 50, 40, 0),     # cropped to x 0, w 30: kept (diag 50)
        (1, 290, 10, 40, 40, 1),     # cropped to w 13 -> diag sqrt(13^2+40^2) > 30, side 13: kept
        (1, 300, 10, 40, 40, 0),     # cropped to w 3: side filter drops it
        (1, 10, 10, 20, 20, 0),      # diag 28.3 < 30: dropped
        (1, 400, 10, 40, 40, 0),     # fully outside: w 0 dropped
        (1, 0, 0, 280, 50, 0),       # 280 > floor(9*304/10) = 273: faulty huge (train only)
        (1, 0, 0, 273, 50, 0),       # exactly 273: kept
    ])
    train = apply_label_filters(b, cam, "train")
    assert train["track_id"].tolist() == [0, 1, 2, 7]
    assert (train["x"][1], train["w"][1]) == (0, 30)
    assert train["w"][2] == pytest.approx(303 - 290)
    test = apply_label_filters(b, cam, "test")
    assert test["track_id"].tolist() == [0, 1, 2, 6, 7]
    assert b["x"][1] == -20  # input untouched


def test_gen4_class_and_conservative_filter():
    cam = get_camera("gen4")  # 720 x 1280
    b = _boxes([(1, 10, 10, 6, 6, 2), (1, 10, 10, 6, 6, 3), (1, 10, 10, 4, 30, 0), (1, 1270, 5, 20, 20, 1)])
    out = apply_label_filters(b, cam, "val")
    assert out["track_id"].tolist() == [0, 3]  # class 3 dropped, side 4 dropped; cropped w = 9 kept
    assert out["w"][1] == 1279 - 1270


def test_gen1_grid_uniform_50ms_anchored_on_labels():
    cam = get_camera("gen1")
    ts = np.array([50_000, 120_000, 370_000, 371_000, 620_500, 1_120_000, 1_200_000])
    frame_ts, repr_ts, idx = label_frames_and_repr_grid(ts, cam)
    # 50 ms < 100 ms: skipped; 371 ms: within jitter of the previous frame -> ignored; 1.2 s: not a multiple
    assert frame_ts.tolist() == [120_000, 370_000, 620_500, 1_120_000]
    # before the first frame only 70 ms: RVT drops the earliest positive step (20 ms)
    assert repr_ts[:2].tolist() == [70_000, 120_000]
    np.testing.assert_array_equal(repr_ts[idx], frame_ts)
    assert idx.tolist() == [1, 6, 11, 21]
    steps = np.diff(repr_ts)
    assert steps.min() >= 49_000 and steps.max() <= 51_000
    assert repr_ts[-1] == frame_ts[-1]  # grid stops at the last label frame


def test_gen4_grid_matches_rvt_construction():
    cam = get_camera("gen4")
    rng = np.random.default_rng(0)
    step = 1e6 / 30
    ts = np.rint(np.arange(3, 60) * step + rng.integers(-300, 300, 57)).astype(np.int64)
    assert base_label_period_us(np.unique(ts), cam) == int(3 * np.median(np.diff(np.unique(ts))))
    frame_ts, repr_ts, idx = label_frames_and_repr_grid(ts, cam)
    np.testing.assert_array_equal(repr_ts[idx], frame_ts)
    assert np.all(np.diff(frame_ts) > 98_000)
    assert np.all(np.abs(np.diff(repr_ts) - 50_000) < 2_000)


def test_gen4_rejects_odd_label_rate():
    with pytest.raises(ValueError, match="Hz"):
        label_frames_and_repr_grid(np.arange(10) * 100_000 + 100_000, get_camera("gen4"))


def test_synth_single_frame_and_no_late_labels():
    cam = get_camera("synth")
    frame_ts, repr_ts, idx = label_frames_and_repr_grid(np.array([160_000]), cam)
    assert frame_ts.tolist() == [160_000]
    assert repr_ts.tolist() == [60_000, 110_000, 160_000]  # 10 ms dropped (window would start < 0)
    assert idx.tolist() == [2]
    with pytest.raises(ValueError, match="100000"):
        label_frames_and_repr_grid(np.array([10_000, 60_000]), cam)


def test_class_ids_beyond_the_camera_are_refused_naming_file_and_key():
    from leod_core.cameras import camera_from_mapping

    b = _boxes([(1, 10, 10, 40, 40, 0), (1, 10, 10, 40, 40, 2)])
    with pytest.raises(ValueError) as err:
        apply_label_filters(b, get_camera("synth"), "train", source="raw/train/a_bbox.npy")
    assert str(err.value) == ("raw/train/a_bbox.npy: class_id 2 is beyond camera 'synth''s 2 classes "
                              "(dataset.camera.class_names: car, ped)")
    three = camera_from_mapping({"name": "c3", "height": 120, "width": 160, "class_names": ["a", "b", "c"]})
    assert len(apply_label_filters(b, three, "train")) == 2
    g4 = _boxes([(1, 10, 10, 40, 40, 6), (1, 10, 10, 40, 40, 2)])
    assert list(apply_label_filters(g4, get_camera("gen4"), "train")["class_id"]) == [2]  # ids > 2 dropped
    g4_all = camera_from_mapping({"base": "gen4", "all_classes": True})
    assert list(apply_label_filters(g4, g4_all, "train")["class_id"]) == [6, 2]  # all 7 classes kept
