"""The whole self-training DAG as one Prefect flow that drives the DVC stages.

Each DVC stage is one visible task (``dvc repro <stage>``), in pipeline order, so caching and
staleness stay DVC's: an up-to-date stage returns in about a second. The stage commands themselves run
their own flows, which report to the same Prefect server (``PREFECT_API_URL`` is inherited).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

__all__ = ["stage_order", "dvc_repro", "self_train_flow"]


def stage_order(rounds: int) -> list[str]:
    """DVC stage names in pipeline order for ``rounds`` self-training rounds (as dvc.yaml names them)."""
    stages = ["synth", "import", "subsample", "pretrain", "evaluate@0"]
    for k in range(1, rounds + 1):
        stages += [f"pseudo_label@{k}", f"pseudo_quality@{k}", f"train@{k}", f"evaluate@{k}"]
    return stages + ["report"]


def _tool_env() -> dict[str, str]:
    """This interpreter's bin folder first on PATH, so DVC finds ``leod`` and ``dvc`` of this venv."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@task(name="dvc-repro", task_run_name="dvc repro {stage}", cache_policy=NO_CACHE)
def dvc_repro(stage: str, repo: str, force: bool = False) -> float:
    """``dvc repro <stage>`` in ``repo`` (its upstream is already up to date); returns seconds."""
    cmd = [str(Path(sys.executable).parent / "dvc"), "repro", stage] + (["--force", "--single-item"] if force else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, env=_tool_env())
    if proc.returncode != 0:
        raise RuntimeError(f"stage {stage} failed: `{' '.join(cmd[1:])}` exited with code {proc.returncode}")
    return time.perf_counter() - t0


@flow(name="self-train", validate_parameters=False)
def self_train_flow(repo: str = ".", params: str = "params.yaml", force: bool = False) -> dict[str, float]:
    """Run every stage of ``repo``'s dvc.yaml in order (rounds from ``params``); returns seconds per stage."""
    from flows.dvc_rounds import sync_rounds_file
    from leod_core.config import load_config

    repo_p = Path(repo).resolve()
    cfg = load_config(repo_p / params)
    sync_rounds_file(repo_p / params, None, repo_p / "rounds.yaml")
    return {s: dvc_repro(s, str(repo_p), force) for s in stage_order(cfg.rounds)}
