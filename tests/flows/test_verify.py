"""``make verify``'s comparison: the first differing stage in pipeline order, missing and extra outputs;
the expectation file covers every stage of the micro pipeline. (The micro run itself is compared in
tests/flows/test_e2e.py, which runs it anyway.)"""

from __future__ import annotations

import json

from flows.stages import stage_order
from flows.verify import EXPECTED_FILE, compare_hashes, cpu_platform, expected_hashes, only_expected, output_hashes

ORDER = stage_order(2)  # the micro pipeline's two self-training rounds


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
    for platform, expected in json.loads(EXPECTED_FILE.read_text())["platforms"].items():
        assert set(expected) == set(ORDER), platform
        assert all(expected[s] for s in ORDER), platform


def test_expectation_per_cpu_platform(tmp_path) -> None:
    """A recorded CPU gets its own complete record; another one the data stages' outputs all recorded CPUs
    agree on, never a model's (one recorded CPU would otherwise impose its floats on every other)."""
    path = tmp_path / "hashes.json"
    path.write_text(json.dumps({"platforms": {
        "cpu A": {"import": {"data/dataset": "d.dir"}, "pretrain": {"m/last.pt": "a"}, "report": {"r.csv": "r"}},
        "cpu B": {"import": {"data/dataset": "d.dir"}, "pretrain": {"m/last.pt": "b"}, "report": {"r.csv": "r"}}}}))
    hashes, what, complete = expected_hashes(path, "cpu B")
    assert complete and hashes["pretrain"] == {"m/last.pt": "b"} and "this CPU (cpu B)" in what
    hashes, what, complete = expected_hashes(path, "cpu C")
    assert not complete and hashes == {"import": {"data/dataset": "d.dir"}}  # report: equal, but a model's
    assert "the 1 outputs of the data stages equal on all 2 recorded CPUs" in what
    actual = {"import": {"data/dataset": "d.dir"}, "pretrain": {"m/last.pt": "c"}}
    assert compare_hashes(hashes, only_expected(actual, hashes), ORDER) == []
    assert compare_hashes(hashes, only_expected({"import": {"data/dataset": "x.dir"}}, hashes), ORDER)
    # a file from before platforms were recorded is one platform's
    path.write_text(json.dumps({"import": {"data/dataset": "d.dir"}}))
    assert expected_hashes(path, "cpu A")[0] == {"import": {"data/dataset": "d.dir"}}
    import platform

    import torch

    assert cpu_platform().startswith(f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()} ")


def test_default_metrics_check(tmp_path, capsys) -> None:
    from flows.verify import DEFAULT_METRICS_FILE, check_default_metrics, params_md5

    (tmp_path / "params.yaml").write_text("rounds: 1\n")
    for k, ap in ((0, 0.19), (1, 0.22)):
        (tmp_path / f"artifacts/round_{k}/eval").mkdir(parents=True)
        (tmp_path / f"artifacts/round_{k}/eval/metrics.json").write_text(json.dumps({"AP": ap, "AP_50": ap * 2}))
    expected = tmp_path / "expected.json"
    assert check_default_metrics(tmp_path, expected, update=True) == 0
    assert check_default_metrics(tmp_path, expected) == 0
    assert "reproduces the README exactly (round 0 AP 0.1900, round 1 AP 0.2200; CPU " in capsys.readouterr().out
    (tmp_path / "artifacts/round_1/eval/metrics.json").write_text(json.dumps({"AP": 0.2201, "AP_50": 0.44}))
    assert check_default_metrics(tmp_path, expected) == 1
    assert "round 1 AP: README 0.2200, this run 0.2201" in capsys.readouterr().out
    data = json.loads(expected.read_text())  # numbers recorded on another kind of CPU only
    data["platforms"] = {"another cpu": data["platforms"][cpu_platform()]}
    expected.write_text(json.dumps(data))
    assert check_default_metrics(tmp_path, expected) == 0
    out = capsys.readouterr().out
    assert "no README numbers for this kind of CPU" in out and "another cpu: round 0 AP 0.1900" in out
    assert check_default_metrics(tmp_path, expected, update=True) == 0  # adds this CPU, keeps the other
    assert set(json.loads(expected.read_text())["platforms"]) == {"another cpu", cpu_platform()}
    (tmp_path / "params.yaml").write_text("rounds: 2\n")
    assert check_default_metrics(tmp_path, expected) == 0
    assert "not the default" in capsys.readouterr().out
    # the committed expectation belongs to the committed params.yaml
    # (of its values: the comments, written from the schema's docs, may change without voiding the numbers)
    params = DEFAULT_METRICS_FILE.parents[1] / "params.yaml"
    assert json.loads(DEFAULT_METRICS_FILE.read_text())["params_md5"] == params_md5(params)
    commented = tmp_path / "commented.yaml"
    commented.write_text("# another comment\n" + params.read_text().replace("  # ", "  # changed: "))
    assert params_md5(commented) == params_md5(params)
    commented.write_text(params.read_text().replace("rounds: 1", "rounds: 2"))
    assert params_md5(commented) != params_md5(params)
