"""``leod import-prophesee`` / ``leod stats`` end to end on a tiny dataset, and their bad-input exits."""

from __future__ import annotations

import numpy as np
import pytest

from flows.cli import main
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.layout import labels_full_path


def _raw(root, n_seq=2):
    (root / "train").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n_seq):
        ev = np.zeros(3000, EVENT_DTYPE)
        ev["t"] = np.sort(rng.integers(0, 300_000, 3000))
        ev["x"], ev["y"], ev["p"] = rng.integers(0, 160, 3000), rng.integers(0, 120, 3000), rng.integers(0, 2, 3000)
        write_dat(root / "train" / f"s{i}_td.dat", ev, 120, 160)
        boxes = np.zeros(2, PROPHESEE_BBOX_DTYPE)
        boxes["t"], boxes["w"], boxes["h"], boxes["class_id"] = [150_000, 200_000], 30, 20, [0, 1]
        np.save(root / "train" / f"s{i}_bbox.npy", boxes)


def test_cli_import_and_stats(tmp_path, capsys):
    _raw(tmp_path / "raw")
    assert main(["import-prophesee", str(tmp_path / "raw"), str(tmp_path / "data"), "--camera", "synth"]) == 0
    assert labels_full_path(tmp_path / "data", "train").exists()
    assert main(["stats", str(tmp_path / "data"), "--camera", "synth"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "2 sequences" in out


def test_cli_bad_input_one_line_nonzero(tmp_path, capsys):
    _raw(tmp_path / "raw", n_seq=1)
    dat = tmp_path / "raw" / "train" / "s0_td.dat"
    dat.write_bytes(dat.read_bytes()[:-3])
    rc = main(["import-prophesee", str(tmp_path / "raw"), str(tmp_path / "data"), "--camera", "synth"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1].startswith("leod import-prophesee: error:") and "s0_td.dat" in err[-1] and "truncated" in err[-1]
    assert not (tmp_path / "data" / "train" / "s0").exists()
    assert not labels_full_path(tmp_path / "data", "train").exists()
    assert main(["stats", str(tmp_path / "missing")]) == 1
