"""``leod evaluate-boxes`` on folders of GT and prediction ``_bbox.npy`` files."""

import json

import numpy as np
import pytest

from flows.cli import main


def test_cli_writes_metrics_and_warns_on_missing_predictions(box_folders, tmp_path, capsys, caplog):
    gt_dir, pred_dir = box_folders
    out = tmp_path / "m" / "metrics.json"
    rc = main(["evaluate-boxes", str(gt_dir), str(pred_dir), "--camera", "gen1", "--output", str(out)])
    assert rc == 0
    m = json.loads(out.read_text())
    assert m["AP_50"] == pytest.approx(51 / 101)  # seq_b has no predictions: half of the GT is found
    assert "AP_car" in m and "pr_curves" in m
    assert "no prediction file" in caplog.text
    assert "AP_50" in capsys.readouterr().out


def test_cli_rejects_bad_gt_dtype(box_folders, capsys):
    gt_dir, pred_dir = box_folders
    np.save(gt_dir / "seq_c_bbox.npy", np.zeros((3, 5), np.float32))
    rc = main(["evaluate-boxes", str(gt_dir), str(pred_dir), "--camera", "gen1"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "seq_c_bbox.npy" in err and "structured" in err
