"""``leod stats`` without ``--camera`` names the camera from the stored representation size."""

from __future__ import annotations

import numpy as np

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
