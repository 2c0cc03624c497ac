"""End to end: the real ``dvc repro`` of every stage (2 rounds, the detecting micro config) in a temporary copy
of the repo.

One test on purpose: the pipeline run is the expensive part and every check below reads its results. It
reuses ``make smoke``'s helpers (flows/smoke.py) and one shared Prefect server. What a probe edit or a
parameter marks stale is test_staleness.py's, on the cheaper plumbing run: it does not depend on how long
the detectors trained.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from flows.stages import stage_order
from flows.server import prefect_server
from flows.smoke import MICRO_DETECT_OVERRIDES, apply_overrides, check_outputs, make_repo_copy, repro, stage_env
from flows.verify import EXPECTED_FILE, compare_hashes, expected_hashes, only_expected, output_hashes

REPO = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).parent / "dvc")
ROUND0 = ["synth", "import", "subsample", "pretrain", "evaluate@0"]
ROUNDS = 2


def _dvc(repo: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([DVC, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"dvc {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def _metric_files(show_json: dict) -> dict[str, dict]:
    """``dvc metrics show --json`` -> {path: metrics} of the workspace (DVC nests per revision/file)."""
    files = next(iter(show_json.values()))["data"]
    return {path: entry["data"] for path, entry in files.items()}


def _check_mlflow(repo: Path, uri: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(exp_ids)
    by_name = {}
    for r in runs:
        tags = r.data.tags
        assert "stage" in tags and "git_commit" in tags, f"run {r.info.run_id} lacks tags: {sorted(tags)}"
        assert r.info.status == "FINISHED", f"{tags.get('mlflow.runName')}: {r.info.status}"
        by_name[tags["stage"] if "round" not in tags else f"{tags['stage']}@{tags['round']}"] = r
    # DVC's stage names -> the run's (stage, round) tags: round 0's training is stage "train", round "0"
    expected = {"synth", "import", "subsample@0", "train@0", "evaluate@0", "report"} | {
        f"{stage}@{k}" for k in range(1, ROUNDS + 1) for stage in ("pseudo_label", "pseudo_quality", "train", "evaluate")}
    assert expected <= set(by_name), f"MLflow runs missing: {sorted(expected - set(by_name))}"
    for k in range(ROUNDS + 1):
        run = by_name[f"evaluate@{k}"]
        assert 0.0 < run.data.metrics["AP"] <= 1.0
        assert any(t.startswith("dvc.") for t in run.data.tags), "evaluate run has no DVC data-hash tags"
    assert "loss" in by_name["train@0"].data.metrics
    assert client.get_metric_history(by_name["train@0"].info.run_id, "loss"), "no per-step loss history"


def test_dvc_repro_micro_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    repo = make_repo_copy(REPO, tmp_path / "repo")
    apply_overrides(repo, MICRO_DETECT_OVERRIDES)
    env = stage_env(repo)
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    env["MLFLOW_TRACKING_URI"] = uri  # never the user's store, whatever the shell exports
    monkeypatch.setenv("PREFECT_HOME", env["PREFECT_HOME"])  # the server's database lives in the copy
    with prefect_server(0) as url:  # port 0: a free port, never a user's server on 4200
        env["PREFECT_API_URL"] = url
        first = repro(repo, env, timeout_s=900)
        assert first.returncode == 0, first.output[-4000:]
        # every stage ran, each once, upstream before downstream
        order = stage_order(ROUNDS)
        assert sorted(first.ran) == sorted(order), first.ran
        assert [s for s in first.ran if s in ROUND0[:4]] == ROUND0[:4]
        assert first.ran.index("pretrain") < first.ran.index("pseudo_label@1") < first.ran.index("train@1")
        # round 2 pseudo-labels with round 1's model: its `prev` is train@1, not round 0
        assert first.ran.index("train@1") < first.ran.index("pseudo_label@2") < first.ran.index("train@2")
        assert first.ran[-1] == "report"

        # the detectors detect: AP > 0 and different per round, model-made pseudo boxes, finite P/R
        assert check_outputs(repo, ROUNDS, detects=True) == []
        # make verify's guarantee: every output bit-identical to the committed hashes
        expected, what, complete = expected_hashes(EXPECTED_FILE)
        actual = output_hashes(repo) if complete else only_expected(output_hashes(repo), expected)
        mismatches = compare_hashes(expected, actual, order)
        assert not mismatches, (f"outputs differ from verify/micro_hashes.json, {what} (make verify UPDATE=1 "
                                "after a deliberate change):\n" + "\n".join(map(str, mismatches)))
        art = repo / "artifacts"
        for k in range(1, ROUNDS + 1):
            quality = json.loads((art / f"round_{k}/quality/quality.json").read_text())
            assert quality["counts"]["gt"] > 0 and quality["overall"]["num_gt"] > 0
            assert quality["counts"]["pseudo"] > 0, quality["counts"]
            assert 0.0 < quality["overall"]["precision@0.5"] <= 1.0 and 0.0 < quality["overall"]["recall@0.5"] <= 1.0
        with open(art / "report/rounds.csv") as f:
            rows = list(csv.DictReader(f))
        assert [int(r["round"]) for r in rows] == list(range(ROUNDS + 1))
        assert all(0.0 < float(r["AP"]) <= 1.0 for r in rows)

        # `dvc metrics show`: every metrics file of dvc.yaml, mAP sane per round
        metrics = _metric_files(json.loads(_dvc(repo, env, "metrics", "show", "--json")))
        for k in range(ROUNDS + 1):
            ap = metrics[f"artifacts/round_{k}/eval/metrics.json"]["AP"]
            assert 0.0 < ap <= 1.0
            assert math.isfinite(metrics[f"artifacts/round_{k}/model/metrics.json"]["final_loss"])
        assert "overall" in metrics["artifacts/round_1/quality/quality.json"]
        _dvc(repo, env, "plots", "show", "-o", str(tmp_path / "plots"))
        assert (tmp_path / "plots" / "index.html").is_file()

        _check_mlflow(repo, uri)

        second = repro(repo, env, timeout_s=120)
        assert second.returncode == 0 and second.ran == [], second.output[-2000:]
