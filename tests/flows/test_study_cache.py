"""``leod study``'s cached stages (flows/study_cache.py, through Prefect) and tables (``.fn``, without it)."""

import json
import math
from dataclasses import dataclass

import pandas as pd
import pytest

from leod_core.round_layout import ArtifactLayout
from leod_core.study import RAW_COLUMNS, RunSpec
from flows.study_cache import collect_raw, run_stage, stage_done, stage_records, stage_results_dir, write_study_outputs


@dataclass
class _Result:
    ap: float
    files: tuple


def test_run_stage_runs_once_then_comes_from_the_engines_cache(prefect_harness, tmp_path):
    calls = []

    def stage():
        calls.append(1)
        return {"r": _Result(ap=float("nan"), files=(tmp_path / "a",)), 1: [0.5]}

    assert not stage_done(tmp_path, "train@1-abc")
    record, ran = run_stage(tmp_path, "run/train@1", "train@1", "train@1-abc", stage)
    assert ran and calls == [1] and stage_done(tmp_path, "train@1-abc")
    assert record["stage"] == "train@1" and record["wall_s"] >= 0
    # dataclasses, keys and paths become JSON; NaN is written as null
    assert record["result"] == {"r": {"ap": None, "files": [str(tmp_path / "a")]}, "1": [0.5]}
    again, ran = run_stage(tmp_path, "run/train@1", "train@1", "train@1-abc", stage)
    assert not ran and calls == [1] and again == record
    _, ran = run_stage(tmp_path, "run/train@1", "train@1", "train@1-other", stage)  # other parameters: runs
    assert ran and calls == [1, 1]
    (stage_results_dir(tmp_path) / "not-a-record").write_text("{not json")
    assert sorted(r["stage"] for r in stage_records(tmp_path)) == ["train@1", "train@1"]


def test_a_failed_stage_leaves_no_result(prefect_harness, tmp_path):
    def boom():
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        run_stage(tmp_path, "run/evaluate@0", "evaluate@0", "evaluate@0-abc", boom)
    assert not stage_done(tmp_path, "evaluate@0-abc") and stage_records(tmp_path) == []


def test_a_stage_keeps_its_result_when_the_run_around_it_fails(prefect_harness, tmp_path):
    """A run is one task holding its stages: a stage that finished stays cached although the run died later."""
    from prefect import task

    @task
    def run():
        run_stage(tmp_path, "run/train@0", "train@0", "train@0-abc", lambda: 1)
        raise RuntimeError("killed in round 1")

    with pytest.raises(RuntimeError, match="killed in round 1"):
        run()
    assert stage_done(tmp_path, "train@0-abc")


def _write_round(run_dir, k, ap, precision=None):
    r = ArtifactLayout(run_dir).round(k)
    r.metrics("test").parent.mkdir(parents=True)
    r.metrics("test").write_text(json.dumps({"AP": ap, "AP_50": ap + 0.1, "AP_75": None}))
    if precision is not None:
        r.quality.parent.mkdir(parents=True)
        r.quality.write_text(json.dumps({"overall": {"precision@0.5": precision, "recall@0.5": 0.5, "AP": None}}))


def test_collect_raw_and_study_tables(tmp_path):
    main = RunSpec("wsod-0.1-s0", "main", "wsod", 0.1, 0, rounds=1)
    full = RunSpec("full-s0", "full", "full", 1.0, 0, rounds=0)
    _write_round(tmp_path / main.run_id, 0, 0.2)
    _write_round(tmp_path / main.run_id, 1, 0.3, precision=0.8)
    _write_round(tmp_path / full.run_id, 0, 0.5)
    raw = collect_raw(tmp_path, [main, full])
    assert list(raw.columns) == list(RAW_COLUMNS) and raw["round"].dtype.kind == "i"
    assert raw[["run_id", "round", "AP"]].values.tolist() == [["wsod-0.1-s0", 0, 0.2], ["wsod-0.1-s0", 1, 0.3],
                                                              ["full-s0", 0, 0.5]]
    row1 = raw.iloc[1]
    assert row1["pseudo_precision"] == 0.8 and math.isnan(row1["pseudo_AP"]) and math.isnan(row1["AP_75"])
    paths = write_study_outputs.fn(tmp_path, [main, full], rounds=1, ablation_rounds=1, title="t")
    assert sorted(paths) == ["ablations", "gains", "plot", "results", "runs"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert len(pd.read_csv(paths["runs"])) == 3
