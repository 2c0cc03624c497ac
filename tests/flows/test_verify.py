"""``make verify``'s comparison: the first differing stage in pipeline order, missing and extra outputs;
the expectation file covers every stage of the micro pipeline. (The micro run itself is compared in
tests/flows/test_e2e.py, which runs it anyway.)"""

from __future__ import annotations

import json

from leod_core.round_layout import stage_order
from flows.verify import EXPECTED_FILE, compare_hashes, output_hashes

ORDER = stage_order(1)


def test_first_difference_in_pipeline_order() -> None:
    expected = {"import": {"data/dataset": "a.dir"}, "pretrain": {"m/last.pt": "b"}, "report": {"r.csv": "c"}}
    actual = {"import": {"data/dataset": "a.dir"}, "pretrain": {"m/last.pt": "B"}, "report": {"r.csv": "C"}}
    got = compare_hashes(expected, actual, ORDER)
    assert [(m.stage, m.path) for m in got] == [("pretrain", "m/last.pt"), ("report", "r.csv")]
    assert "stage pretrain: m/last.pt: expected b, got B" == str(got[0])
    assert compare_hashes(expected, expected, ORDER) == []


def test_missing_and_extra_outputs_count() -> None:
    got = compare_hashes({"synth": {"data/raw": "x.dir"}}, {"synth": {}, "extra": {"e": "1"}}, ORDER)
    assert [(m.stage, m.expected, m.actual) for m in got] == [("synth", "x.dir", None), ("extra", None, "1")]


def test_output_hashes_read_dvc_lock(tmp_path) -> None:
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  synth:\n    cmd: leod synth\n    deps:\n    - path: leod_core/events\n"
        "      md5: dep.dir\n    outs:\n    - path: data/raw\n      hash: md5\n      md5: out.dir\n      size: 3\n")
    assert output_hashes(tmp_path) == {"synth": {"data/raw": "out.dir"}}  # outs only: code deps move


def test_expectation_covers_every_stage() -> None:
    expected = json.loads(EXPECTED_FILE.read_text())
    assert set(expected) == set(ORDER)
    assert all(expected[s] for s in ORDER)


def test_default_metrics_check(tmp_path, capsys) -> None:
    from flows.verify import DEFAULT_METRICS_FILE, check_default_metrics

    (tmp_path / "params.yaml").write_text("rounds: 1\n")
    for k, ap in ((0, 0.19), (1, 0.22)):
        (tmp_path / f"artifacts/round_{k}/eval").mkdir(parents=True)
        (tmp_path / f"artifacts/round_{k}/eval/metrics.json").write_text(json.dumps({"AP": ap, "AP_50": ap * 2}))
    expected = tmp_path / "expected.json"
    assert check_default_metrics(tmp_path, expected, update=True) == 0
    assert check_default_metrics(tmp_path, expected) == 0
    assert "reproduces the README exactly (round 0 AP 0.1900, round 1 AP 0.2200)" in capsys.readouterr().out
    (tmp_path / "artifacts/round_1/eval/metrics.json").write_text(json.dumps({"AP": 0.2201, "AP_50": 0.44}))
    assert check_default_metrics(tmp_path, expected) == 1
    assert "round 1 AP: README 0.2200, this run 0.2201" in capsys.readouterr().out
    (tmp_path / "params.yaml").write_text("rounds: 2\n")
    assert check_default_metrics(tmp_path, expected) == 0
    assert "not the default" in capsys.readouterr().out
    # the committed expectation belongs to the committed params.yaml
    assert json.loads(DEFAULT_METRICS_FILE.read_text())["params_md5"] == __import__("hashlib").md5(
        (DEFAULT_METRICS_FILE.parents[1] / "params.yaml").read_bytes()).hexdigest()
