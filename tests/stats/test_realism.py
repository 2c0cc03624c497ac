"""Realism statistics (leod_core.stats) on hand-made data where every number is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from leod_core.cameras import get_camera
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.events.h5_store import write_representations
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.labels.rvt_labels import write_labels_npz
from leod_core.layout import SequencePaths
from leod_core.stats.realism import (
    WindowCounter, box_event_counts, box_pixel_ranges, count_image, frame_sizes, percentiles,
    rate_per_pixel_second, realism_report, summarize, track_lengths, window_event_counts,
)
from leod_core.stats.sources import (
    Recording, find_recordings, measure_preprocessed_sequence, measure_recording, parse_hw, sample_indices,
)

H, W = 20, 30  # 600 pixels, diagonal sqrt(1300)
DIAG = float(np.sqrt(H * H + W * W))


# ------------------------------------------------------------------ pure functions

def test_window_counts_half_open_and_closed():
    t = np.array([0, 10, 49_999, 50_000, 60_000, 99_999, 100_000])
    assert window_event_counts(t, [0, 50_000], [50_000, 100_000]).tolist() == [3, 3]
    assert window_event_counts(t, [0, 50_000], [50_000, 100_000], closed=True).tolist() == [4, 4]


def test_window_counter_across_chunks_keeps_complete_windows():
    c = WindowCounter(50_000)
    c.add(np.array([1_000, 2_000, 30_000]))
    c.add(np.array([51_000, 70_000, 101_000, 160_000]))  # 160 000 opens a 4th window, never completed
    assert c.t0 == 1_000 and c.duration_us == 159_000
    assert c.complete_counts().tolist() == [3, 2, 1]


def test_window_counter_empty_and_exact_end():
    c = WindowCounter()
    assert c.complete_counts().tolist() == [] and c.duration_us == 0
    c.add(np.array([0, 49_999, 50_000]))  # the event at 50 ms completes window 0 and starts window 1
    assert c.complete_counts().tolist() == [2]


def test_rate_per_pixel_second():
    assert rate_per_pixel_second(np.array([100, 300]), 100, 50_000) == pytest.approx([20.0, 60.0])
    with pytest.raises(ValueError):
        rate_per_pixel_second(np.array([1]), 0)


def test_box_event_counts_integral_image():
    img = count_image(np.array([0, 1, 1, 5, 29]), np.array([0, 0, 0, 3, 19]), (H, W))
    assert img.sum() == 5 and img[0, 1] == 2
    boxes = np.array([[0, 0, 2, 1],        # pixels x 0-1, y 0: 3 events
                      [0.5, 0.2, 1, 1],    # overlaps pixels x 0-1, y 0-1: 3
                      [4.5, 2.5, 1, 1],    # x 4-5, y 2-3: the event at (5, 3)
                      [10, 10, 5, 5],      # none
                      [28, 18, 10, 10]])   # clipped to the sensor: the event at (29, 19)
    assert box_event_counts(img, boxes).tolist() == [3, 3, 1, 0, 1]


def test_box_ranges_of_odd_pixel_images():
    # cell j holds sensor pixel 2j+1: sensor columns [2, 4) hold pixel 3 = cell 1; [0, 1) holds no kept pixel
    r = box_pixel_ranges(np.array([[2, 2, 2, 2], [0, 0, 1, 1], [0, 0, 4, 4]]), (10, 15), odd_pixels_only=True)
    assert r.tolist() == [[1, 2, 1, 2], [0, 0, 0, 0], [0, 2, 0, 2]]
    img = np.zeros((10, 15), np.int64)
    img[1, 1] = 7  # sensor pixel (x 3, y 3)
    assert box_event_counts(img, np.array([[2, 2, 2, 2], [0, 0, 3, 3]]), odd_pixels_only=True).tolist() == [7, 0]


def test_frames_and_track_lengths():
    frame_of_box, sizes = frame_sizes(np.array([5, 5, 9, 12, 12, 12]))
    assert frame_of_box.tolist() == [0, 0, 1, 2, 2, 2] and sizes.tolist() == [2, 1, 3]
    # track 1 in frames 0, 1, 2; track 2 in frames 0 and 2; track 3 in frame 2 only
    assert track_lengths(np.array([1, 2, 1, 1, 2, 3]), frame_of_box).tolist() == [3, 2, 1]


def test_percentiles_and_parse_hw():
    assert percentiles([6, 10, 10]) == pytest.approx({"p10": 6.8, "median": 10.0, "p90": 10.0})
    assert percentiles([]) is None
    assert parse_hw("720x1280") == (720, 1280)
    for bad in ("720", "0x5", "ax3"):
        with pytest.raises(ValueError, match="--sensor"):
            parse_hw(bad)
    assert sample_indices(10, 0).tolist() == list(range(10)) and sample_indices(10, 3).tolist() == [0, 4, 9]


# ------------------------------------------------------------------ a hand-made recording

def _boxes(rows):
    out = np.zeros(len(rows), PROPHESEE_BBOX_DTYPE)
    for i, (t, x, y, w, h, c, track) in enumerate(rows):
        out[i] = (t, x, y, w, h, c, track, 1.0)
    return out


#: frame at 50 ms: box A (car, track 1) over the events, box B (ped, track 2) where there are none;
#: frame at 100 ms: box A again
BOXES = [(50_000, 0, 0, 10, 10, 0, 1), (50_000, 20, 10, 4, 9, 1, 2), (100_000, 0, 0, 10, 10, 0, 1)]


def _recording(folder, with_labels=True, name="rec"):
    """Window [0, 50 ms): 300 events; [50, 100 ms): 600 events (the first exactly at 50 ms); one more at
    100 ms completes the second window. All events lie in x 0-9, y 0-9 (box A)."""
    rng = np.random.default_rng(1)
    t = np.concatenate([np.linspace(0, 49_000, 300).astype(np.int64), 50_000 + 80 * np.arange(600), [100_000]])
    ev = np.zeros(len(t), EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = t, rng.integers(0, 10, len(t)), rng.integers(0, 10, len(t)), 1
    folder.mkdir(parents=True, exist_ok=True)
    write_dat(folder / f"{name}_td.dat", ev, H, W)
    if with_labels:
        np.save(folder / f"{name}_bbox.npy", _boxes(BOXES))
    return folder / f"{name}_td.dat"


def test_recording_numbers_known_by_construction(tmp_path):
    _recording(tmp_path)
    (rec,) = find_recordings(tmp_path)
    seq = measure_recording(rec)
    assert seq.sensor_hw == (H, W) and seq.sensor_source == "header" and seq.duration_us == 100_000
    assert seq.window_counts.tolist() == [300, 600]
    assert seq.ev_px_s.tolist() == [10.0, 20.0]  # 300 / 600 px / 0.05 s
    # label windows [T - 50 ms, T] are closed: box A at 50 ms sees 300 + the event at 50 ms, at 100 ms 600 + 1
    assert seq.box_events.tolist() == [301, 0, 601]
    s = summarize([seq], ("car", "ped"))
    assert s["ev_px_s"] == pytest.approx({"median": 15.0, "p10": 11.0, "p90": 19.0, "mean": 15.0})
    assert s["label_frames"] == 2 and s["label_fps"]["median"] == pytest.approx(20.0)
    assert s["boxes"] == 3 and s["boxes_per_frame"] == pytest.approx({"mean": 1.5, "p90": 1.9})
    assert s["class_shares"] == pytest.approx({"car": 2 / 3, "ped": 1 / 3})
    assert s["box_size_px"] == pytest.approx({"p10": 6.8, "median": 10.0, "p90": 10.0})  # sqrt(w h): 10, 6, 10
    assert s["box_size_diag"]["median"] == pytest.approx(10 / DIAG)
    assert (s["empty_boxes"], s["boxes_checked"]) == (1, 3) and s["empty_box_share"] == pytest.approx(1 / 3)
    # box rates: 301 / 100 px / 0.05 s, 0 / 36 px, 601 / 100 px; over the scene's median 15 ev/px/s
    assert seq.box_area_px.tolist() == [100.0, 36.0, 100.0]
    assert s["box_ev_px_s"] == pytest.approx({"p10": 12.04, "median": 60.2, "p90": 108.2})
    assert s["box_vs_scene_rate"] == pytest.approx(60.2 / 15.0)
    assert s["track_length"] == pytest.approx({"tracks": 2, "median": 1.5, "mean": 1.5, "p10": 1.1, "p90": 1.9})
    assert s["sensor"] == ["20x30"] and s["duration_s"] == pytest.approx(0.1) and s["windows"] == 2


def test_recording_without_labels_and_inferred_sensor(tmp_path):
    path = _recording(tmp_path, with_labels=False)
    seq = measure_recording(Recording("rec", "recordings", path, None))
    assert not seq.has_labels and seq.window_counts.tolist() == [300, 600]
    s = summarize([seq])
    assert s["label_fps"] is None and s["boxes_per_frame"] is None and s["empty_box_share"] is None
    assert s["track_length"] is None and s["track_length_note"] == "no labels"
    # a header-less size: --sensor, else the largest coordinates (here x, y < 10)
    # a legacy header-less .dat: records (uint32 t, uint32 x | y << 14 | p << 28)
    raw = np.zeros(3, [("t", "<u4"), ("w", "<u4")])
    raw["t"], raw["w"] = [0, 1, 60_000], np.array([3, 4, 8]) | np.array([1, 6, 2]) << 14
    (tmp_path / "bare_td.dat").write_bytes(raw.tobytes())
    bare = Recording("bare", "recordings", tmp_path / "bare_td.dat", None)
    assert measure_recording(bare).sensor_hw == (7, 9)
    assert measure_recording(bare, sensor_hw=(100, 200)).window_pixels == 20_000
    with pytest.raises(ValueError, match="outside the sensor size 5x5"):
        measure_recording(bare, sensor_hw=(5, 5))
    with pytest.raises(ValueError, match="header declares 20x30"):
        measure_recording(Recording("rec", "recordings", path, None), sensor_hw=(5, 5))


def test_labels_without_track_ids(tmp_path):
    _recording(tmp_path)
    plain = np.zeros(3, [(k, PROPHESEE_BBOX_DTYPE[k]) for k in ("t", "x", "y", "w", "h", "class_id")])
    for k in plain.dtype.names:
        plain[k] = _boxes(BOXES)[k]
    np.save(tmp_path / "rec_bbox.npy", plain)
    s = summarize([measure_recording(find_recordings(tmp_path)[0])])
    assert s["track_length"] is None and s["track_length_note"] == "labels carry no track_id"
    assert s["empty_boxes"] == 1


def test_label_window_outside_the_recording_is_not_checked(tmp_path):
    _recording(tmp_path)
    np.save(tmp_path / "rec_bbox.npy", _boxes(BOXES + [(400_000, 20, 10, 4, 9, 1, 5)]))
    s = summarize([measure_recording(find_recordings(tmp_path)[0])])
    assert s["boxes"] == 4 and s["boxes_checked"] == 3 and s["empty_boxes"] == 1


# ------------------------------------------------------------------ a hand-made preprocessed sequence

def test_preprocessed_sequence_known_by_construction(tmp_path):
    camera = get_camera("synth")  # 120x160, full-resolution representation
    seq = SequencePaths(tmp_path / "train" / "s0", camera)
    seq.labels_npz.parent.mkdir(parents=True)
    seq.repr_dir.mkdir(parents=True)
    f0 = np.zeros((20, 120, 160), np.uint8)
    f0[0, :8, :12] = 2  # 96 cells x 2 = 192 events
    f1 = np.zeros_like(f0)
    f1[1, :8, :12] = 4
    f1[1, 0, :4] = 10  # 92 x 4 + 4 x 10 = 408 events, 4 cells at the count cutoff
    write_representations(seq.repr_h5, [f0, f1], (120, 160))
    np.save(seq.repr_timestamps, np.array([50_000, 100_000]))
    np.save(seq.objframe_idx_2_repr_idx, np.array([0, 1]))
    np.save(seq.label_timestamps, np.array([50_000, 100_000]))
    write_labels_npz(seq.labels_npz, _boxes(BOXES), np.array([0, 2]))
    m = measure_preprocessed_sequence(seq, "train")
    n_px = 120 * 160
    assert m.window_counts.tolist() == [192, 408] and m.window_pixels == n_px and m.duration_us == 100_000
    assert m.box_events.tolist() == [2 * 10 * 8, 0, 4 * 10 * 8 + 4 * 6]  # 76 cells x 4 + 4 x 10  # box A = x 0-9, y 0-9
    s = summarize([m], camera.class_names)
    assert s["ev_px_s"]["median"] == pytest.approx((192 + 408) / 2 / n_px / 0.05)
    assert s["clipped_cell_share"] == pytest.approx(4 / (96 + 96))
    assert s["label_fps"]["median"] == pytest.approx(20.0) and s["empty_box_share"] == pytest.approx(1 / 3)
    assert s["track_length"]["median"] == 1.5 and s["class_shares"] == pytest.approx({"car": 2 / 3, "ped": 1 / 3})
    # every 2nd repr for the rates: the label frames' are still read for the empty boxes
    sampled = measure_preprocessed_sequence(seq, "train", max_windows=1)
    assert sampled.window_counts.tolist() == [192] and sampled.box_events.tolist() == m.box_events.tolist()
    report = realism_report([m], camera.class_names, input="x")
    assert list(report["splits"]) == ["train"] and report["all"]["boxes"] == 3
    assert report["per_sequence"][0]["label_fps"] == pytest.approx(20.0)
