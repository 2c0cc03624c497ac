"""End to end: the real ``dvc repro`` of every stage (2 rounds, the detecting micro config) in a temporary copy
of the repo.

One test on purpose: the pipeline run is the expensive part (~3.5 min on 2 cores) and every check below
reads its results. It reuses ``make smoke``'s helpers (flows/smoke.py) and one shared Prefect server.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from leod_core.round_layout import stage_order
from flows.server import prefect_server
from flows.stages import STAGES, code_deps
from flows.smoke import MICRO_DETECT_OVERRIDES, apply_overrides, check_outputs, make_repo_copy, repro, stage_env
from flows.verify import EXPECTED_FILE, compare_hashes, expected_hashes, only_expected, output_hashes
from leod_core.config import load_config

REPO = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).parent / "dvc")
ROUND0 = ["synth", "import", "subsample", "pretrain", "evaluate@0"]
DOWNSTREAM_OF_PSEUDO_1 = ["pseudo_label@1", "pseudo_quality@1", "train@1", "evaluate@1", "pseudo_label@2",
                          "pseudo_quality@2", "train@2", "evaluate@2", "report"]
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


def _dvc_names(spec_name: str) -> set[str]:
    """DVC's names of a spec's stages in a ROUNDS-round pipeline (foreach stages: one per round)."""
    spec = next(s for s in STAGES if s.name == spec_name)
    if spec.foreach == "${self_train}":
        return {f"{spec.name}@{k}" for k in range(1, ROUNDS + 1)}
    if spec.foreach == "${all_rounds}":
        return {f"{spec.name}@{k}" for k in range(ROUNDS + 1)}
    return {spec.name}


def _importers(rel: str) -> set[str]:
    """DVC names of the stages whose command's import closure holds ``rel``."""
    return set().union(*(_dvc_names(s.name) for s in STAGES if rel in code_deps(s)))


def _stale_after_edit(repo: Path, env: dict[str, str], rel: str) -> set[str]:
    """Stages ``dvc status`` marks after a comment is appended to ``repo/rel`` (restored after)."""
    path = repo / rel
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"\n# a probe edit\n")
        return set(json.loads(_dvc(repo, env, "status", "--json")))
    finally:
        path.write_bytes(original)


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

        # staleness by construction (flows/stages.py): editing a file marks exactly the stages whose command
        # imports it, a parameter exactly the stages that declare it, and nothing else
        pseudo = {f"pseudo_label@{k}" for k in range(1, ROUNDS + 1)}
        assert _stale_after_edit(repo, env, "leod_core/pseudo/tracker.py") == pseudo
        h5 = _stale_after_edit(repo, env, "leod_core/events/h5_store.py")  # the HDF5 reader training reads through
        assert {"import", "pretrain", "train@1", "evaluate@0"} | pseudo <= h5 and "report" not in h5
        assert h5 == _importers("leod_core/events/h5_store.py")
        config = _stale_after_edit(repo, env, "leod_core/config.py")  # a config default
        assert config == _importers("leod_core/config.py") and "pretrain" in config
        threads = load_config(repo / "params.yaml").train.threads
        apply_overrides(repo, [f"train.threads={threads + 1}"])  # moves round 0 by 1.5 AP on the default run
        assert set(json.loads(_dvc(repo, env, "status", "--json"))) == (
            {"pretrain"} | _dvc_names("train") | _dvc_names("evaluate") | pseudo)
        apply_overrides(repo, [f"train.threads={threads}"])
        assert json.loads(_dvc(repo, env, "status", "--json")) == {}

        # a tracker parameter: only the pseudo-labelling stages and what depends on them are stale
        key = "pseudo.tracker.min_track_len"
        old = load_config(repo / "params.yaml").pseudo.tracker.min_track_len
        apply_overrides(repo, [f"{key}={old + 1}"])
        diff = json.loads(_dvc(repo, env, "params", "diff", "--json"))
        assert {k: diff["params.yaml"][key][k] for k in ("old", "new")} == {"old": old, "new": old + 1}
        status = json.loads(_dvc(repo, env, "status", "--json"))
        assert set(status) == {"pseudo_label@1", "pseudo_label@2"}, status
        dry = repro(repo, env, "--dry", "--force-downstream", timeout_s=120)
        assert dry.returncode == 0 and sorted(dry.ran) == sorted(DOWNSTREAM_OF_PSEUDO_1), dry.output[-2000:]
        # DVC's order among independent stages is its own; the dependencies' order is not
        assert dry.ran[0] == "pseudo_label@1" and dry.ran[-1] == "report", dry.ran
        assert dry.ran.index("train@1") < dry.ran.index("pseudo_label@2") < dry.ran.index("train@2"), dry.ran
        third = repro(repo, env, timeout_s=600)
        assert third.returncode == 0, third.output[-4000:]
        # DVC stops where an output comes out byte-identical, so the tail of the chain may be skipped
        assert third.ran and third.ran[0] == "pseudo_label@1", third.ran
        assert set(third.ran) <= set(DOWNSTREAM_OF_PSEUDO_1), third.ran
        assert json.loads(_dvc(repo, env, "status", "--json")) == {}
