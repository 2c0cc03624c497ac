"""Tests of the synthetic event camera (leod_core/synth/: simulator.py and its helpers)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from leod_core.cameras import CAMERAS
from leod_core.events.dat_io import EVENT_DTYPE, read_dat
from leod_core.synth.simulator import (
    LABEL_PERIOD_US, SequenceSpec, get_synth_preset, sequence_rng, sequence_specs, simulate_sequence,
    write_synth_dataset,
)
from leod_core.synth.simulator import _frame_boxes  # noqa: PLC2701 (unit test of the occlusion rule)
from leod_core.synth.render import ObjectLayer
from leod_core.synth.scene import sample_scene
from leod_core.synth.sensor import DvsSensor
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE, validate_prophesee_boxes
from sample_data import tree_files

H, W = CAMERAS["synth"].sensor_hw
TINY = dataclasses.replace(get_synth_preset("micro"), name="tiny", n_train=1, n_val=1, n_test=0, duration_s=0.6)


def test_micro_tree_and_speed(micro_dir):
    root, seconds = micro_dir
    preset = get_synth_preset("micro")
    expected = sorted(f"{s.split}/{s.name}{suffix}" for s in sequence_specs(preset)
                      for suffix in ("_td.dat", "_bbox.npy"))
    assert tree_files(root) == expected
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers
    assert seconds < 60, f"micro preset took {seconds:.1f} s"


def test_micro_files_are_valid_prophesee(micro_dir):
    root, _ = micro_dir
    for dat in sorted(root.rglob("*_td.dat")):
        dat_events = read_dat(dat)
        ev = dat_events.events
        assert (dat_events.height, dat_events.width) == (H, W)
        assert len(ev) > 1000
        assert np.all(np.diff(ev["t"]) >= 0)
        assert ev["x"].max() < W and ev["y"].max() < H
        assert set(np.unique(ev["p"])) == {0, 1}
        assert 0.2 < ev["p"].mean() < 0.8
        boxes = np.load(dat.with_name(dat.name.replace("_td.dat", "_bbox.npy")))
        assert boxes.dtype == PROPHESEE_BBOX_DTYPE
        validate_prophesee_boxes(boxes, str(dat))
        assert len(boxes) > 0
        assert np.all(boxes["x"] >= 0) and np.all(boxes["y"] >= 0)
        assert np.all(boxes["x"] + boxes["w"] <= W) and np.all(boxes["y"] + boxes["h"] <= H)
        assert np.all(boxes["w"] >= 1) and np.all(boxes["h"] >= 1)
        assert set(np.unique(boxes["class_id"])) <= {0, 1}
        assert np.all(boxes["class_confidence"] == 1.0)
        # labels on the 20 Hz grid, from 50 ms to the end of the events
        assert np.all(boxes["t"] % LABEL_PERIOD_US == 0) and boxes["t"].min() >= LABEL_PERIOD_US
        assert boxes["t"].max() <= ev["t"].max() + LABEL_PERIOD_US
        assert np.all(np.diff(boxes["t"]) >= 0)
        # one box per object and frame: track ids are unique within a frame
        for t in np.unique(boxes["t"]):
            ids = boxes["track_id"][boxes["t"] == t]
            assert len(ids) == len(np.unique(ids))


def test_micro_has_both_classes_on_most_frames(micro_dir):
    root, _ = micro_dir
    boxes = np.concatenate([np.load(p) for p in sorted(root.rglob("*_bbox.npy"))])
    assert set(np.unique(boxes["class_id"])) == {0, 1}
    preset = get_synth_preset("micro")
    n_grid = int(preset.duration_s * 1e6) // LABEL_PERIOD_US
    for p in sorted(root.rglob("*_bbox.npy")):
        assert len(np.unique(np.load(p)["t"])) >= 0.5 * n_grid, p.name


def test_same_seed_identical_files_any_map(tmp_path):
    write_synth_dataset(tmp_path / "a", TINY, seed=7)
    with ThreadPoolExecutor(2) as pool:
        write_synth_dataset(tmp_path / "b", TINY, seed=7, map_fn=pool.map)
    write_synth_dataset(tmp_path / "c", TINY, seed=8)
    files = tree_files(tmp_path / "a")
    assert files == tree_files(tmp_path / "b") == tree_files(tmp_path / "c")
    assert len(files) == 4
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert any((tmp_path / "a" / f).read_bytes() != (tmp_path / "c" / f).read_bytes() for f in files)


def test_different_seeds_and_sequences_differ():
    spec = sequence_specs(TINY)[0]
    ev1, bx1 = simulate_sequence(spec, sequence_rng(0, "train", 0))
    ev2, bx2 = simulate_sequence(spec, sequence_rng(1, "train", 0))
    ev3, _ = simulate_sequence(spec, sequence_rng(0, "val", 0))
    assert ev1.dtype == EVENT_DTYPE
    assert len(ev1) != len(ev2) or not np.array_equal(ev1, ev2)
    assert len(ev1) != len(ev3) or not np.array_equal(ev1, ev3)


def _events_in_box(ev: np.ndarray, b) -> int:
    """Events inside box b during the 50 ms before its label time."""
    m = ((ev["t"] > b["t"] - LABEL_PERIOD_US) & (ev["t"] <= b["t"]) & (ev["x"] >= b["x"]) & (ev["x"] < b["x"] + b["w"])
         & (ev["y"] >= b["y"]) & (ev["y"] < b["y"] + b["h"]))
    return int(m.sum())


def test_stopped_object_is_silent_but_labelled():
    """Static camera, no noise: an object that stops keeps its label but produces (almost) no events in
    its box, while the same object in motion fills its box with events."""
    preset = dataclasses.replace(TINY, duration_s=3.0, ego_motion_fraction=0.0, stop_prob=1.0,
                                 stop_duration_s=(1.5, 1.5), objects_per_sequence=(1, 1), distractors_per_sequence=(0, 0),
                                 noise_rate_hz=(0.0, 0.0), hot_pixels=(0, 0))
    spec = SequenceSpec(name="stop", split="train", index=0, preset=preset, height=H, width=W)
    step, checked = preset.step_us, 0
    for seed in range(6):
        (obj,) = sample_scene(sequence_rng(seed, "train", 0), preset, H, W).objects
        ev, boxes = simulate_sequence(spec, sequence_rng(seed, "train", 0))
        speed = np.hypot(np.diff(obj.cx), np.diff(obj.cy)) / step  # px/us, step k-1 -> k
        lab = boxes[boxes["track_id"] == obj.obj_id]
        k = lab["t"] // step
        # stopped during the whole 50 ms window before the label (and 2 ms more for the ramp's last step)
        window = np.array([speed[max(kk - 26, 0):kk].max() for kk in k])
        stopped, moving = lab[window == 0], lab[window > 0.5 * speed.max()]
        if len(stopped) < 10 or len(moving) < 3:
            continue  # the stop happened off screen in this draw
        n_stopped = [_events_in_box(ev, b) for b in stopped]
        n_moving = [_events_in_box(ev, b) for b in moving]
        assert max(n_stopped) <= 2, (seed, n_stopped)
        assert np.mean(n_moving) > 20, (seed, n_moving)
        checked += 1
    assert checked >= 2


def _layer(y0, x0, h, w):
    return ObjectLayer(y0=y0, x0=x0, alpha=np.ones((h, w), np.float32), premult=np.zeros((h, w), np.float32))


def test_occlusion_rule_and_visible_extent():
    @dataclasses.dataclass
    class Obj:
        obj_id: int
        class_id: int

    back, front = Obj(0, 1), Obj(1, 0)
    # front covers the right 60% of back: back labelled with its visible (left) extent
    rows = _frame_boxes([(back, _layer(10, 10, 20, 10)), (front, _layer(5, 14, 40, 30))], H, W, 50_000)
    got = {r[6]: r for r in rows}
    assert got[1][1:5] == (14, 5, 30, 40)
    assert got[0][1:5] == (10, 10, 4, 20)
    # front covers 80%: back not labelled (less than 30% visible)
    rows = _frame_boxes([(back, _layer(10, 10, 20, 10)), (front, _layer(5, 12, 40, 30))], H, W, 50_000)
    assert [r[6] for r in rows] == [1]


def test_dvs_sensor_ramp_and_refractory():
    """A pixel whose log intensity rises by 2.0 fires ~2.0 / C ON events, spaced by >= the refractory
    period; a static pixel stays silent."""
    rng = np.random.default_rng(0)
    frame = np.zeros((1, 2), np.float32)
    sensor = DvsSensor(rng, frame, step_us=2000, contrast_mean=0.2, contrast_std=0.0, refractory_us=1000)
    for k in range(100):  # +0.02 per 2 ms on pixel 0
        sensor.step(np.array([[0.02 * (k + 1), 0.0]], np.float32), k * 2000)
    ev = sensor.events()
    assert np.all(ev["x"] == 0) and np.all(ev["p"] == 1)
    assert 9 <= len(ev) <= 11
    assert np.all(np.diff(ev["t"]) >= 1000)
    # a fast jump of 1.0 in one step is thinned by the refractory period (2 ms step -> at most 2-3 events)
    fast = DvsSensor(rng, frame, step_us=2000, contrast_mean=0.2, contrast_std=0.0, refractory_us=1000)
    fast.step(np.array([[-1.0, 0.0]], np.float32), 0)
    ev = fast.events()
    assert 1 <= len(ev) <= 3 and np.all(ev["p"] == 0)


def test_label_format_csv_writes_the_same_boxes(tmp_path):
    from leod_core.labels.label_files import read_label_file

    npy, csv = tmp_path / "npy", tmp_path / "csv"
    write_synth_dataset(npy, TINY, seed=5)
    write_synth_dataset(csv, TINY, seed=5, label_format="csv")
    names = sorted(p.relative_to(csv).as_posix() for p in csv.rglob("*_bbox.csv"))
    assert names and not list(csv.rglob("*_bbox.npy"))
    for name in names:
        a = read_label_file(npy / name.replace("_bbox.csv", "_bbox.npy"))
        assert read_label_file(csv / name).tobytes() == a.tobytes() and len(a)
        dat = name.replace("_bbox.csv", "_td.dat")
        assert (csv / dat).read_bytes() == (npy / dat).read_bytes()
