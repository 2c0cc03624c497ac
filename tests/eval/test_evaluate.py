import json

import numpy as np
import pandas as pd
import pytest

from leod_core.cameras import get_camera
from leod_core.config import EvalConfig
from leod_core.eval.detections import table_to_prophesee
from leod_core.eval.evaluate import evaluate_round
from pseudo_fakes import BlobDetector

SYNTH = get_camera("synth")


def OracleModel() -> BlobDetector:  # noqa: N802
    """Predicts the bounding box of the ON pixels of the current repr (class 0, score 0.9)."""
    return BlobDetector(channels=slice(10, None))


def test_oracle_model_scores_ap_one_and_writes_outputs(tmp_path, build_dataset):
    build_dataset(tmp_path / "ds")
    out = tmp_path / "eval"
    m = evaluate_round(OracleModel(), tmp_path / "ds", "test", SYNTH, EvalConfig(num_vis_frames=3), out, seq_len=4)
    assert m["AP"] == pytest.approx(1.0) and m["AP_car"] == pytest.approx(1.0)
    assert m["num_images"] == 6  # frame 3 (t = 0.2 s) of both sequences is not evaluated
    assert json.loads((out / "metrics.json").read_text())["AP"] == pytest.approx(1.0)
    pr = pd.read_csv(out / "pr_car.csv")
    assert list(pr.columns) == ["recall", "precision"] and len(pr) == 101 and pr["precision"].iloc[-1] == 1.0
    assert (out / "pr_curves.png").stat().st_size > 0
    assert len(list((out / "frames").glob("*.png"))) == 3


def test_misplaced_predictions_lower_ap(tmp_path, build_dataset):
    build_dataset(tmp_path / "ds", shift_second=25)
    m = evaluate_round(OracleModel(), tmp_path / "ds", "test", SYNTH, EvalConfig(num_vis_frames=0),
                       tmp_path / "eval", seq_len=4)
    assert 0.3 < m["AP"] < 0.7  # half of the frames are missed


def test_detections_file_re_evaluates_to_the_metrics(tmp_path, build_dataset):
    """detections.parquet is a contract with the study's bootstrap: read back and evaluated against the
    split's ground truth it gives metrics.json's numbers exactly."""
    from leod_core.eval.detections import evaluate_frames, read_detections, split_ground_truth

    build_dataset(tmp_path / "ds", shift_second=25)
    out = tmp_path / "eval"
    m = evaluate_round(OracleModel(), tmp_path / "ds", "test", SYNTH, EvalConfig(num_vis_frames=0), out, seq_len=4)
    gt, _ = split_ground_truth(tmp_path / "ds", "test", SYNTH)
    dets = read_detections(out / "detections.parquet", gt)
    assert set(dets) == set(gt) and sum(map(len, dets.values())) > 0
    again = evaluate_frames(gt, dets, SYNTH).result()
    again.pop("pr_curves")
    assert {k: float(v) for k, v in again.items()} == {k: v for k, v in m.items() if k != "num_sequences"}
    assert 0.3 < again["AP"] < 0.7


def test_table_to_prophesee_scales_to_repr_pixels():
    rows = pd.DataFrame(dict(t=[7], x=[100.0], y=[50.0], w=[64.0], h=[32.0], class_id=[2], class_confidence=[1.0],
                             track_id=[-1]))
    a = table_to_prophesee(rows, get_camera("gen4").label_scale)
    assert (a["x"][0], a["y"][0], a["w"][0], a["h"][0], a["class_id"][0], a["t"][0]) == (50, 25, 32, 16, 2, 7)


def test_missing_labels_file(tmp_path):
    (tmp_path / "test").mkdir()
    with pytest.raises(FileNotFoundError, match="labels_full"):
        evaluate_round(OracleModel(), tmp_path, "test", SYNTH, EvalConfig(), tmp_path / "eval")
