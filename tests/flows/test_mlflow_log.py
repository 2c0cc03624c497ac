"""MLflow stage runs: tags, params, metrics, DVC hashes from dvc.lock."""

from pathlib import Path

import pytest

from flows.settings import load_config
from flows.mlflow_log import dvc_hashes, flatten, stage_run


def test_flatten_nested_and_lists():
    assert flatten({"a": {"b": 1, "c": [0.5, 0.25]}, "d": "x"}) == {"a.b": 1, "a.c": "[0.5, 0.25]", "d": "x"}


def test_dvc_hashes_reads_lock(tmp_path: Path):
    lock = tmp_path / "dvc.lock"
    lock.write_text(
        "schema: '2.0'\nstages:\n  subsample:\n    cmd: x\n    outs:\n"
        "    - path: artifacts/round_0/labels\n      md5: abc.dir\n      size: 3\n")
    assert dvc_hashes(["artifacts/round_0/labels/", "other"], lock) == {"artifacts/round_0/labels": "abc.dir"}
    assert dvc_hashes(["x"], tmp_path / "missing.lock") == {}


def test_stage_run_logs_tags_params_metrics(mlflow_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, ["subsample.ratio=0.1"])
    art = tmp_path / "m.json"
    art.write_text("{}")
    with stage_run(cfg, "evaluate", round_idx=2) as run:
        run.log_metrics({"AP": 0.25, "per_class": {"car": 0.5}, "note": "text"}, step=2)
        cb = run.step_logger(flush_every=2)
        for step in range(5):
            cb(step, {"loss": 1.0 / (step + 1), "lr": 1e-3})
        cb.flush()
        run.log_artifact(art)
    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("synth-wsod-0.1")
    (r,) = client.search_runs([exp.experiment_id])
    assert r.info.status == "FINISHED"
    assert r.data.tags["stage"] == "evaluate" and r.data.tags["round"] == "2"
    assert r.data.tags["setting"] == "wsod" and r.data.tags["git_commit"]
    assert r.data.tags["mlflow.runName"] == "round 2 / evaluate" and r.data.params["round"] == "2"
    assert r.data.params["subsample.ratio"] == "0.1" and r.data.params["train.steps"] == str(cfg.train.steps)
    assert r.data.metrics["AP"] == 0.25 and r.data.metrics["per_class.car"] == 0.5
    assert "note" not in r.data.metrics
    assert [m.step for m in client.get_metric_history(r.info.run_id, "loss")] == [0, 1, 2, 3, 4]
    assert [a.path for a in client.list_artifacts(r.info.run_id)] == ["m.json"]


def test_stage_run_marks_failure(mlflow_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    cfg = load_config(None)
    with pytest.raises(KeyError):
        with stage_run(cfg, "train", round_idx=0):
            raise KeyError("boom")
    exp = MlflowClient(mlflow_uri).get_experiment_by_name(cfg.experiment_name())
    (r,) = MlflowClient(mlflow_uri).search_runs([exp.experiment_id])
    assert r.info.status == "FAILED"


def test_prepare_store_migrates_a_fresh_sqlite_store_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The study prepares the store before its worker processes start; two workers migrating a fresh
    SQLite store at once fail with ``table _alembic_tmp_tags already exists`` (seen on a resumed study)."""
    import sqlite3

    from flows.mlflow_log import prepare_store

    db = tmp_path / "fresh.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = load_config(None, [f"mlflow.tracking_uri=sqlite:///{db}"])
    assert not db.exists()
    prepare_store(cfg)
    with sqlite3.connect(db) as con:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    assert {"experiments", "runs", "tags", "alembic_version"} <= tables and "_alembic_tmp_tags" not in tables
    prepare_store(cfg)  # an existing store is left as it is
