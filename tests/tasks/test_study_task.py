"""``leod study``'s tables from the runs' round files (tasks/study.py), called without Prefect (``.fn``)."""

import json
import math

import pandas as pd

from leod_core.round_layout import ArtifactLayout
from leod_core.study import RAW_COLUMNS, RunSpec
from tasks.study import collect_raw, write_study_outputs


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
