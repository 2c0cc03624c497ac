"""One sequence, every container: importing it as Event2D .dat, EventCD .dat, EVT 2.0 .raw, EVT 3.0
.raw, AEDAT4 or RVT .h5, with labels as .npy or .csv, writes byte-identical RVT sequence folders
(the stream goes through the same windows/histogram code whatever the container)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from evt_encoders import random_events, write_aedat4, write_dat_cd, write_raw
from leod_core.cameras import get_camera
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.events.h5_store import write_event_h5
from leod_core.events.prophesee_import import find_raw_sequences, import_dataset
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE

CAM = get_camera("synth")
H, W = CAM.sensor_hw


def _records(ev):
    out = np.zeros(len(ev["t"]), EVENT_DTYPE)
    for k in ("t", "x", "y", "p"):
        out[k] = ev[k]
    return out


WRITERS = {
    "seq_td.dat": lambda p, ev: write_dat(p, _records(ev), H, W),
    "seq_cd_td.dat": lambda p, ev: write_dat_cd(p, ev, H, W),
    "seq_td.h5": lambda p, ev: write_event_h5(p, _records(ev), H, W),
    "seq.raw": lambda p, ev: write_raw(p, ev, "EVT2", H, W),
    "seq_td.raw": lambda p, ev: write_raw(p, ev, "EVT3", H, W, triggers_every=11),
    "seq.aedat4": lambda p, ev: write_aedat4(p, ev, H, W, events_per_packet=1500),
}


def _boxes():
    times = [100_000, 150_000, 200_000, 400_000, 550_000]
    rows = [(t, 10 + 7 * k + i, 20 + 3 * i, 30, 20, k % 2, k + 1, 0.5 + 0.1 * k)
            for i, t in enumerate(times) for k in range(2)]
    return np.array(rows, dtype=PROPHESEE_BBOX_DTYPE)


def _write_csv(path, boxes):
    lines = ["t,x,y,w,h,class,class_confidence,track_id"]
    lines += [f"{b['t']},{float(b['x'])},{float(b['y'])},{float(b['w'])},{float(b['h'])},{b['class_id']},"
              f"{float(b['class_confidence'])},{b['track_id']}" for b in boxes]
    path.write_text("\n".join(lines) + "\n")


def _digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("labels", ["npy", "csv"])
def test_every_container_imports_identically(tmp_path, labels):
    ev = random_events(40_000, 600_000, H, W, seed=7)
    boxes = _boxes()
    digests = {}
    for fname, write in WRITERS.items():
        src = tmp_path / fname / "raw" / "train"
        src.mkdir(parents=True)
        write(src / fname, ev)
        name = fname.split("_td")[0].split(".")[0]
        if labels == "npy":
            np.save(src / f"{name}_bbox.npy", boxes)
        else:
            _write_csv(src / f"{name}_bbox.csv", boxes)
        dst = tmp_path / fname / "data"
        (summary,) = import_dataset(src.parent, dst, CAM)
        assert summary.num_events == len(ev["t"]) and summary.num_boxes == len(boxes)
        digests[fname] = _digest(dst / "train" / name)
    reference = digests.pop("seq_td.dat")
    assert len(reference) >= 5
    for fname, digest in digests.items():
        assert digest == reference, fname


def test_csv_and_npy_labels_are_the_same_boxes(tmp_path):
    from leod_core.labels.label_files import read_label_file

    boxes = _boxes()
    np.save(tmp_path / "a_bbox.npy", boxes)
    _write_csv(tmp_path / "a_bbox.csv", boxes)
    np.testing.assert_array_equal(read_label_file(tmp_path / "a_bbox.csv"), read_label_file(tmp_path / "a_bbox.npy"))


def test_two_label_files_for_one_sequence_refused(tmp_path):
    split = tmp_path / "train"
    split.mkdir()
    write_raw(split / "s.raw", random_events(100, 10_000, H, W), "EVT3", H, W)
    np.save(split / "s_bbox.npy", _boxes())
    _write_csv(split / "s_bbox.csv", _boxes())
    with pytest.raises(ValueError, match="two label files for sequence s"):
        find_raw_sequences(tmp_path, "train")
