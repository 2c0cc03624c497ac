import json

import numpy as np
import pytest

from flows.cli import main
from leod_core.eval.box_files import read_box_folder
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE

LEOD_PRED_DTYPE = np.dtype([("t", "<i8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                            ("class_id", "<u4"), ("class_confidence", "<f4"), ("objectness", "<f4")])


def _gt(t0=1_000_000):
    a = np.zeros(4, PROPHESEE_BBOX_DTYPE)
    a["t"] = [t0, t0, t0 + 250_000, t0 + 250_000]
    a["x"], a["y"], a["w"], a["h"] = [10, 100, 12, 102], 20, [60, 30, 60, 30], [40, 60, 40, 60]
    a["class_id"] = [0, 1, 0, 1]
    a["class_confidence"] = 1
    return a


def _as_pred(gt):
    p = np.zeros(len(gt), LEOD_PRED_DTYPE)
    for f in ("t", "x", "y", "w", "h", "class_id", "class_confidence"):
        p[f] = gt[f]
    p["objectness"] = 0.9
    return p


@pytest.fixture
def folders(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    np.save(gt_dir / "seq_a_bbox.npy", _gt())
    np.save(gt_dir / "seq_b_bbox.npy", _gt(2_000_000))
    np.save(pred_dir / "seq_a_bbox.npy", _as_pred(_gt()))  # extra objectness field is fine
    return gt_dir, pred_dir


def test_read_box_folder_names_and_extra_fields(folders):
    gt_dir, pred_dir = folders
    assert sorted(read_box_folder(gt_dir)) == ["seq_a", "seq_b"]
    assert read_box_folder(pred_dir)["seq_a"].dtype == PROPHESEE_BBOX_DTYPE


def test_cli_writes_metrics_and_warns_on_missing_predictions(folders, tmp_path, capsys, caplog):
    gt_dir, pred_dir = folders
    out = tmp_path / "m" / "metrics.json"
    rc = main(["evaluate-boxes", str(gt_dir), str(pred_dir), "--camera", "gen1", "--output", str(out)])
    assert rc == 0
    m = json.loads(out.read_text())
    assert m["AP_50"] == pytest.approx(51 / 101)  # seq_b has no predictions: half of the GT is found
    assert "AP_car" in m and "pr_curves" in m
    assert "no prediction file" in caplog.text
    assert "AP_50" in capsys.readouterr().out


def test_cli_rejects_bad_gt_dtype(folders, capsys):
    gt_dir, pred_dir = folders
    np.save(gt_dir / "seq_c_bbox.npy", np.zeros((3, 5), np.float32))
    rc = main(["evaluate-boxes", str(gt_dir), str(pred_dir), "--camera", "gen1"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "seq_c_bbox.npy" in err and "structured" in err
