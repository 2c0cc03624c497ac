"""``leod compare``'s per-round table from MLflow or from the round files, and its CSV/plot (tasks/report.py)."""

import json
import math

import pandas as pd
import pytest

from leod_core.round_layout import ArtifactLayout
from flows.mlflow_log import metric_name
from flows.report import ROUND_COLUMNS, rounds_from_files, rounds_from_mlflow, write_report


def _nan_free(df: pd.DataFrame) -> list[list]:
    return df.astype(object).where(df.notna(), None).values.tolist()


def test_rounds_from_files_reads_metrics_and_quality(tmp_path):
    layout = ArtifactLayout(tmp_path)
    m0 = layout.round(0).metrics("test")
    m0.parent.mkdir(parents=True)
    m0.write_text(json.dumps({"AP": 0.25, "AP_50": 0.5, "AP_75": None}))
    q1 = layout.round(1).quality
    q1.parent.mkdir(parents=True)
    q1.write_text(json.dumps({"overall": {"precision@0.5": 0.75, "recall@0.5": None, "AP": 0.125}}))
    val = layout.round(1).metrics("val")
    val.parent.mkdir(parents=True)
    val.write_text(json.dumps({"AP": 0.5, "AP_50": 0.5, "AP_75": 0.5}))
    df = rounds_from_files.fn(tmp_path, 2)
    assert list(df.columns) == list(ROUND_COLUMNS)
    assert _nan_free(df) == [[0, 0.25, 0.5, None, None, None, None],
                             [1, None, None, None, 0.75, None, 0.125],  # round 1's test metrics are missing
                             [2, None, None, None, None, None, None]]
    assert rounds_from_files.fn(tmp_path, 1, split="val")["AP"].tolist()[1] == 0.5


def test_rounds_from_mlflow_takes_the_latest_finished_run_per_round(mlflow_uri):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri)
    exp = client.create_experiment("exp")

    started = iter(range(1_000, 2_000))  # distinct start times: which run is newer never depends on the clock

    def log(stage, rnd, metrics, status="FINISHED", **tags):
        run = client.create_run(exp, start_time=next(started), tags={"stage": stage, "round": str(rnd), **tags})
        for k, v in metrics.items():
            client.log_metric(run.info.run_id, k, v)
        client.set_terminated(run.info.run_id, status)

    log("evaluate", 0, {"AP": 0.1, "AP_50": 0.2, "AP_75": 0.05})
    log("evaluate", 0, {"AP": 0.3, "AP_50": 0.4, "AP_75": 0.15})  # newer: wins
    log("evaluate", 1, {"AP": 0.9}, status="FAILED")  # unfinished runs never count
    log("evaluate", 1, {"AP": 0.7}, split="val")  # another split
    log("pseudo_quality", 1, {metric_name("pseudo.overall.precision@0.5"): 0.6,
                              metric_name("pseudo.overall.AP"): 0.2})
    log("train", 1, {"AP": 0.99})  # other stages are not read
    df = rounds_from_mlflow.fn(mlflow_uri, "exp", "test", 1)
    assert _nan_free(df) == [[0, 0.3, 0.4, 0.15, None, None, None], [1, None, None, None, 0.6, None, 0.2]]
    with pytest.raises(ValueError, match="experiment 'nope' not found"):
        rounds_from_mlflow.fn(mlflow_uri, "nope", "test", 1)


def test_write_report_writes_csv_and_plot(tmp_path):
    df = pd.DataFrame([[0, 0.25, 0.5, 0.125, math.nan, math.nan, math.nan], [1, 0.3, 0.55, 0.2, 0.8, 0.6, 0.4]],
                      columns=list(ROUND_COLUMNS))
    csv_path, png_path = write_report.fn(df, tmp_path / "report", "title")
    assert (csv_path.name, png_path.name) == ("rounds.csv", "rounds.png")
    pd.testing.assert_frame_equal(pd.read_csv(csv_path), df, check_dtype=False)
    assert png_path.stat().st_size > 0
