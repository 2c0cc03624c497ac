"""``leod stats``: without ``--camera`` it names the camera from the stored representation size; the
realism report of a dataset and of recordings (issue 29); bad input is one line, exit 1, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flows.cli import main
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE


def test_stats_guesses_synth_camera(tmp_path, capsys):
    raw = tmp_path / "raw" / "train"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ev = np.zeros(2000, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 300_000, 2000))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 160, 2000), rng.integers(0, 120, 2000), rng.integers(0, 2, 2000)
    write_dat(raw / "s0_td.dat", ev, 120, 160)
    boxes = np.zeros(1, PROPHESEE_BBOX_DTYPE)
    boxes["t"], boxes["w"], boxes["h"] = 150_000, 30, 20
    np.save(raw / "s0_bbox.npy", boxes)
    assert main(["import-prophesee", str(tmp_path / "raw"), str(tmp_path / "data"), "--camera", "synth"]) == 0
    capsys.readouterr()
    assert main(["stats", str(tmp_path / "data"), "--density-samples", "0"]) == 0
    out = capsys.readouterr().out
    assert "(synth)" in out and "(gen1)" not in out


# ------------------------------------------------------------------ realism (issue 29)


def test_stats_realism_of_dataset_and_of_its_recordings(dataset_root, raw_root, tmp_path, capsys):
    """The sample recordings (tests/sample_data.py: 2 objects per label frame, a 36x22 car and a 12x30
    pedestrian, 19 label frames per 2 s recording, events along both objects' edges every 0.5 ms), imported
    (train and test) and as they are: the numbers the construction fixes, and the same event rate both ways."""
    out_d, out_r = tmp_path / "d.json", tmp_path / "r.json"
    assert main(["stats", str(dataset_root), "--density-samples", "0", "--json", str(out_d)]) == 0
    printed = capsys.readouterr().out
    assert "(synth)" in printed and "realism of preprocessed" in printed and "ev/px/s" in printed
    d = json.loads(out_d.read_text())
    assert (d["kind"], d["camera"], list(d["splits"])) == ("preprocessed", "synth", ["train", "test"])
    assert d["dataset"]["test"]["sequences"] == 2 and d["dataset"]["test"]["label_frames"] == 38
    a = d["all"]
    assert a["sensor"] == ["120x160"] and a["label_frames"] == 76 and a["boxes"] == 152
    assert a["boxes_per_frame"] == {"mean": 2.0, "p90": 2.0} and a["class_shares"] == {"car": 0.5, "ped": 0.5}
    assert a["box_size_px"]["p10"] == pytest.approx(np.sqrt(12 * 30))
    assert a["box_size_px"]["p90"] == pytest.approx(np.sqrt(36 * 22))
    assert a["box_size_diag"]["p90"] == pytest.approx(np.sqrt(36 * 22) / np.hypot(120, 160))
    assert a["empty_box_share"] == 0.0 and a["boxes_checked"] == 152
    assert a["track_length"] is None and "repeats" in a["track_length_note"]  # the sample has all track ids 0
    assert a["ev_px_s"]["p10"] <= a["ev_px_s"]["median"] <= a["ev_px_s"]["p90"] and a["ev_px_s"]["median"] > 0
    assert a["clipped_cell_share"] < 0.01

    assert main(["stats", str(raw_root), "--json", str(out_r)]) == 0
    assert "realism of recordings" in capsys.readouterr().out
    r = json.loads(out_r.read_text())
    assert r["kind"] == "recordings" and list(r["splits"]) == ["test"] and r["all"]["sensor_source"] == ["header"]
    ra = r["all"]
    assert ra["label_frames"] == 38 and ra["boxes_per_frame"]["mean"] == 2.0 and ra["empty_box_share"] == 0.0
    assert ra["label_fps"]["median"] == pytest.approx(19 / ra["duration_s_per_sequence"]["median"])
    assert ra["class_shares"] == {"class_0": 0.5, "class_1": 0.5}  # no --camera: classes by id
    # the same events, counted from the stored histograms and from the recordings
    assert ra["ev_px_s"]["median"] == pytest.approx(d["splits"]["test"]["ev_px_s"]["median"], rel=0.03)


def test_stats_of_a_recording_without_labels(tmp_path, capsys):
    ev = np.zeros(4000, EVENT_DTYPE)
    ev["t"] = np.arange(4000) * 50  # 4000 events in 200 ms: 4 windows of 1000 events
    ev["x"], ev["y"] = np.arange(4000) % 160, np.arange(4000) % 120
    write_dat(tmp_path / "a_td.dat", ev, 120, 160)
    out = tmp_path / "s.json"
    assert main(["stats", str(tmp_path / "a_td.dat"), "--json", str(out)]) == 0
    assert "n/a (no labels)" in capsys.readouterr().out
    s = json.loads(out.read_text())["all"]
    assert s["windows"] == 3  # the 4th window ends after the last event
    assert s["ev_px_s"]["median"] == pytest.approx(1000 / (120 * 160) / 0.05)
    assert s["label_fps"] is None and s["boxes"] == 0 and s["labelled_sequences"] == 0


@pytest.mark.parametrize("case", ["missing", "empty folder", "truncated", "sensor too small", "bad sensor",
                                  "negative windows"])
def test_stats_bad_input_one_line_nothing_written(case, tmp_path, capsys):
    ev = np.zeros(100, EVENT_DTYPE)
    ev["t"], ev["x"], ev["y"] = np.arange(100) * 1000, 50, 60
    (tmp_path / "rec").mkdir()
    write_dat(tmp_path / "rec" / "r_td.dat", ev, 120, 160)
    target, extra = str(tmp_path / "rec"), []
    if case == "missing":
        target = str(tmp_path / "nowhere")
    elif case == "empty folder":
        (tmp_path / "empty").mkdir()
        target = str(tmp_path / "empty")
    elif case == "truncated":
        dat = tmp_path / "rec" / "r_td.dat"
        dat.write_bytes(dat.read_bytes()[:-3])
    elif case == "sensor too small":
        target = str(tmp_path / "rec" / "r_td.dat")
        (tmp_path / "rec" / "r_td.dat").write_bytes(_headerless(ev))
        extra = ["--sensor", "40x40"]
    elif case == "bad sensor":
        extra = ["--sensor", "big"]
    else:
        extra = ["--max-windows", "-1"]
    out = tmp_path / "out" / "s.json"
    capsys.readouterr()
    assert main(["stats", target, "--json", str(out), *extra]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("leod stats: error: "), captured.err
    assert "Traceback" not in captured.err and not (tmp_path / "out").exists()


def _headerless(ev):
    """A legacy .dat without header (so without a declared sensor size)."""
    raw = np.zeros(len(ev), [("t", "<u4"), ("w", "<u4")])
    raw["t"], raw["w"] = ev["t"], ev["x"].astype(np.uint32) | ev["y"].astype(np.uint32) << 14
    return raw.tobytes()
