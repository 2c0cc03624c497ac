"""``make verify``'s comparison: the first differing stage in pipeline order, missing and extra outputs;
the expectation file covers every stage of the micro pipeline. (The micro run itself is compared in
tests/flows/test_e2e.py, which runs it anyway.)"""

from __future__ import annotations

import json

from flows.self_train import stage_order
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
