"""``leod self-train`` end to end: the whole DAG as one Prefect flow, run as a user runs it (the console
script, its own temporary Prefect server), on the plumbing micro config in a temporary copy of the repo
(the session fixture ``plumbing_run``).

The detecting micro pipeline is checked by test_e2e.py through ``dvc repro``; this test is about the flow:
every stage runs once in pipeline order, its outputs are there, and a second call runs nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flows.smoke import check_outputs
from flows.stages import stage_order

LEOD = str(Path(sys.executable).parent / "leod")


def _ran(output: str) -> list[str]:
    """Stages DVC ran (its ``Running stage 'x':`` lines, forwarded to the task logs)."""
    return [line.split("Running stage '")[1].split("'")[0] for line in output.splitlines() if "Running stage '" in line]


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def test_leod_self_train_runs_every_stage_once_then_nothing(plumbing_run):
    repo, env = plumbing_run.repo, plumbing_run.env
    out = plumbing_run.stdout + plumbing_run.stderr
    order = stage_order(1)
    # the summary lists every stage in pipeline order, and DVC ran each of them exactly once
    summary = [line.split()[0] for line in plumbing_run.stdout.splitlines()
               if line.strip().endswith(" s") and not line.startswith("self-train:")]
    assert summary == order, plumbing_run.stdout
    assert f"self-train: {len(order)} stages" in plumbing_run.stdout
    assert sorted(_ran(out)) == sorted(order), _ran(out)
    assert check_outputs(repo, 1) == []
    status = subprocess.run([str(Path(sys.executable).parent / "dvc"), "status", "--json"], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and json.loads(status.stdout) == {}, status.stdout + status.stderr

    before = _mtimes(repo / "artifacts")
    lock = (repo / "dvc.lock").read_bytes()
    second = subprocess.run([LEOD, "self-train", "--repo", str(repo)], cwd=repo, env=env, capture_output=True,
                            text=True, timeout=900)
    out2 = second.stdout + second.stderr
    assert second.returncode == 0, out2[-4000:]
    assert _ran(out2) == [], _ran(out2)
    assert f"self-train: {len(order)} stages" in second.stdout
    assert (repo / "dvc.lock").read_bytes() == lock
    assert _mtimes(repo / "artifacts") == before, "a second self-train rewrote outputs"
