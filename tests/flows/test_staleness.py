"""Staleness by construction (flows/stages.py), probed on a finished pipeline: editing a file marks exactly
the stages whose command imports it, a parameter exactly the stages that declare it, and nothing else;
``dvc repro`` then reruns the stale stage and at most what follows it.

It runs on a copy of the session's plumbing run (``plumbing_run``: the whole DAG of the 12-step micro
config, one self-training round): what DVC marks stale depends on the graph, the code and the parameters,
not on how long the detectors trained, and every probe costs only ``dvc status``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.server import prefect_server
from flows.smoke import apply_overrides, repro
from flows.stages import STAGES, code_deps
from flows.settings import load_config

DVC = str(Path(sys.executable).parent / "dvc")
ROUNDS = 1  # the plumbing run's


def _dvc(repo: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([DVC, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"dvc {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def _status(repo: Path, env: dict[str, str]) -> set[str]:
    return set(json.loads(_dvc(repo, env, "status", "--json")))


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
        return _status(repo, env)
    finally:
        path.write_bytes(original)


def test_an_edit_or_a_parameter_marks_exactly_the_stages_that_read_it(plumbing_run, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    repo, env = plumbing_run.copy_to(tmp_path / "repo")
    assert _status(repo, env) == set()

    pseudo = _dvc_names("pseudo_label")
    assert _stale_after_edit(repo, env, "leod_core/pseudo/tracker.py") == pseudo
    h5 = _stale_after_edit(repo, env, "leod_core/events/h5_store.py")  # the HDF5 reader training reads through
    assert {"import", "pretrain", "evaluate@0"} | _dvc_names("train") | pseudo <= h5 and "report" not in h5
    assert h5 == _importers("leod_core/events/h5_store.py")
    config = _stale_after_edit(repo, env, "leod_core/config.py")  # a config default
    assert config == _importers("leod_core/config.py") and "pretrain" in config
    threads = load_config(repo / "params.yaml").train.threads
    apply_overrides(repo, [f"train.threads={threads + 1}"])  # moves round 0 by 1.5 AP on the default run
    assert _status(repo, env) == {"pretrain"} | _dvc_names("train") | _dvc_names("evaluate") | pseudo
    apply_overrides(repo, [f"train.threads={threads}"])
    assert _status(repo, env) == set()

    # a tracker parameter: only the pseudo-labelling stages and what depends on them are stale
    key = "pseudo.tracker.min_track_len"
    old = load_config(repo / "params.yaml").pseudo.tracker.min_track_len
    apply_overrides(repo, [f"{key}={old + 1}"])
    diff = json.loads(_dvc(repo, env, "params", "diff", "--json"))
    assert {k: diff["params.yaml"][key][k] for k in ("old", "new")} == {"old": old, "new": old + 1}
    assert _status(repo, env) == pseudo
    downstream = sorted(pseudo | _dvc_names("pseudo_quality") | _dvc_names("train")
                        | (_dvc_names("evaluate") - {"evaluate@0"}) | {"report"})
    dry = repro(repo, env, "--dry", "--force-downstream", timeout_s=120)
    assert dry.returncode == 0 and sorted(dry.ran) == downstream, dry.output[-2000:]
    # DVC's order among independent stages is its own; the dependencies' order is not
    assert dry.ran[0] == "pseudo_label@1" and dry.ran[-1] == "report", dry.ran
    assert dry.ran.index("pseudo_label@1") < dry.ran.index("train@1") < dry.ran.index("evaluate@1"), dry.ran
    monkeypatch.setenv("PREFECT_HOME", env["PREFECT_HOME"])  # the server's database lives in the copy
    with prefect_server(0) as url:  # port 0: a free port, never a user's server on 4200
        env["PREFECT_API_URL"] = url
        third = repro(repo, env, timeout_s=600)
    assert third.returncode == 0, third.output[-4000:]
    # DVC stops where an output comes out byte-identical, so the tail of the chain may be skipped
    assert third.ran and third.ran[0] == "pseudo_label@1", third.ran
    assert set(third.ran) <= set(downstream), third.ran
    assert _status(repo, env) == set()
