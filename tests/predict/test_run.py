"""leod_core.predict.run: detections, video, tracking and the bad-input checks of ``predict``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from leod_core.cameras import get_camera
from leod_core.config import PredictConfig, TrackerConfig
from leod_core.eval.box_files import read_box_folder
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.model.presets import build_detector
from leod_core.predict import predict
from leod_core.predict.detections import DETECTIONS_SCHEMA
from leod_core.train.checkpoint import ModelSpec, save_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SYNTH = get_camera("synth")
LOW = PredictConfig(score_threshold=0.1)  # the few-step detector's scores stay below the default 0.3


def test_detections_as_bbox_npy_and_parquet(dataset_root, trained_ckpt, tmp_path):
    (res,) = predict([dataset_root / "test" / "rec_a"], trained_ckpt, tmp_path, cfg=dataclasses.replace(LOW, every_ms=100))
    assert res.frames == 37 and res.predicted == 19  # reprs 100 ms .. 1.9 s; every 2nd and res.boxes > 0
    npy = np.load(tmp_path / "rec_a_bbox.npy")
    assert npy.dtype == PROPHESEE_BBOX_DTYPE and len(npy) == res.boxes
    assert read_box_folder(tmp_path)["rec_a"].shape == npy.shape  # what evaluate-boxes reads
    df = pd.read_parquet(tmp_path / "rec_a.parquet")
    assert list(df.columns) == DETECTIONS_SCHEMA.names and len(df) == len(npy)
    assert np.array_equal(df["t"], npy["t"]) and np.array_equal(df["x"].to_numpy(np.float32), npy["x"])
    assert np.array_equal(df["score"].to_numpy(np.float32), npy["class_confidence"])
    assert set(df["class_name"]) <= set(SYNTH.class_names) and (df["track_id"] == -1).all()
    assert df["t"].nunique() == 19 and (np.diff(np.unique(df["t"])) == 100_000).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec_a.parquet", "rec_a_bbox.npy"]  # no temporary left


def test_video_has_one_frame_per_prediction_and_gt_beside(raw_root, trained_ckpt, tmp_path):
    av = pytest.importorskip("av")
    cfg = dataclasses.replace(LOW, gif_seconds=0.5, speed=2.0)
    (res,) = predict([raw_root / "test" / "rec_b_td.dat"], trained_ckpt, tmp_path, cfg=cfg, video=True, gif=True)
    assert res.predicted == res.frames == 40  # every 50 ms window up to the last event (2 s)
    with av.open(str(tmp_path / "rec_b.mp4")) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
        assert stream.average_rate == 40  # 20 fps real time x speed 2
    assert len(frames) == 40
    assert frames[0].shape == (240, 2 * 320, 3)  # scale 2 (video_height 240); GT panel beside (labels exist)
    from PIL import Image

    with Image.open(tmp_path / "rec_b.gif") as gif:
        assert gif.n_frames == math.ceil(0.5 * 40) and gif.size == (640, 240)


def test_track_fills_track_ids(dataset_root, trained_ckpt, tmp_path):
    predict([dataset_root / "test" / "rec_a"], trained_ckpt, tmp_path, cfg=LOW, track=True, tracker=TrackerConfig())
    df = pd.read_parquet(tmp_path / "rec_a.parquet")
    shown = df["score"] >= LOW.score_threshold
    assert shown.any() and (df.loc[shown, "track_id"] >= 0).all() and (df.loc[~shown, "track_id"] == -1).all()
    frames_per_track = df[shown].groupby("track_id")["t"].nunique()
    assert frames_per_track.max() >= 3  # the same object keeps its id over frames
    npy = np.load(tmp_path / "rec_a_bbox.npy")
    assert np.array_equal(npy["track_id"], np.maximum(df["track_id"].to_numpy(), 0))


def _other_ckpt(tmp_path, camera):
    return save_weights(tmp_path / f"{camera}.pt", build_detector("nano", camera).state_dict(), ModelSpec("nano", camera))


@pytest.mark.parametrize("camera, detail", [
    ("gen4", "checkpoint is for camera 'gen4' (3 classes, input 384x640), expected camera 'synth' (2 classes, "
             "input 128x160)"),
    ("gen1", "checkpoint is for camera 'gen1' (2 classes, input 256x320), expected camera 'synth'"),
])
def test_checkpoint_that_does_not_fit_the_camera(dataset_root, tmp_path, camera, detail):
    ckpt = _other_ckpt(tmp_path, camera)
    with pytest.raises(ValueError, match=detail.replace("(", r"\(").replace(")", r"\)")):
        predict([dataset_root / "test" / "rec_a"], ckpt, tmp_path / "out", camera="synth")
    assert not (tmp_path / "out" / "rec_a_bbox.npy").exists()


def test_camera_file_of_the_same_shape_fits(raw_root, trained_ckpt, tmp_path):
    cam = tmp_path / "mycam.yaml"
    cam.write_text("base: synth\nname: mycam\n")
    (res,) = predict([raw_root / "test" / "rec_a_td.dat"], trained_ckpt, tmp_path / "out", camera=cam)
    assert res.frames == 40
    cam.write_text("base: synth\nname: three\nclass_names: [car, ped, bike]\n")
    with pytest.raises(ValueError, match="expected camera 'three' \\(3 classes, input 128x160\\)"):
        predict([raw_root / "test" / "rec_a_td.dat"], trained_ckpt, tmp_path / "out", camera=cam)


def test_unwritable_output_is_refused_before_any_work(dataset_root, trained_ckpt, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match="cannot write predictions or videos to"):
        predict([dataset_root / "test" / "rec_a"], trained_ckpt, tmp_path / "file" / "out", video=True)


def test_failure_mid_stream_leaves_no_output(trained_ckpt, tmp_path):
    # a header-less (legacy) .dat declares no size: the event outside the sensor is met after 20 windows
    t = np.arange(0, 1_000_000, 1000, dtype=np.uint32)
    x = np.full(len(t), 5, np.uint32)
    x[-1] = 170  # outside the 160-pixel-wide sensor
    bad = tmp_path / "bad_td.dat"
    np.rec.fromarrays([t, x | (7 << 14)], names="t,w").tofile(bad)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="events outside the sensor size 120x160"):
        predict([bad], trained_ckpt, out, video=True)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("fmt, fname", [("EVT3", "rec_td.raw"), ("EVT2", "rec.raw"), ("aedat4", "rec.aedat4")])
def test_every_container_gives_the_same_detections(trained_ckpt, tmp_path, fmt, fname):
    from evt_encoders import random_events, write_aedat4, write_raw

    from leod_core.events.dat_io import EVENT_DTYPE, write_dat

    ev = random_events(40_000, 1_000_000, *SYNTH.sensor_hw)  # canonical order, as the encoders need
    records = np.zeros(len(ev["t"]), EVENT_DTYPE)
    for k in ("t", "x", "y", "p"):
        records[k] = ev[k]
    write_dat(tmp_path / "dat" / "rec_td.dat", records, *SYNTH.sensor_hw)
    src = tmp_path / fmt / fname
    src.parent.mkdir()
    if fmt == "aedat4":
        write_aedat4(src, ev, *SYNTH.sensor_hw)
    else:
        write_raw(src, ev, fmt, *SYNTH.sensor_hw)
    (a,) = predict([tmp_path / "dat" / "rec_td.dat"], trained_ckpt, tmp_path / "out_dat")
    (b,) = predict([src], trained_ckpt, tmp_path / "out")
    assert a.frames == b.frames == 20 and a.boxes > 0
    assert (tmp_path / "out" / "rec_bbox.npy").read_bytes() == (tmp_path / "out_dat" / "rec_bbox.npy").read_bytes()
