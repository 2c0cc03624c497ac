"""Tasks of ``leod study``: one run's stage as a cached Prefect task (resume), the study's tables, plot and
MLflow summary runs.

A stage's result is persisted by Prefect under ``<study>/.stage-results/<stage>-<fingerprint>`` (its cache
key, :func:`flows.study_plan.stage_key`) once the stage's flow returned, with the stage's wall time: the
next study finds it there and skips the stage. A killed study therefore re-runs at most the stage that
was in progress (and training resumes inside it from its checkpoint).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.mlflow_log import stage_run
from flows.report import rounds_from_files
from leod_core.atomic import atomic_path
from leod_core.config import LeodConfig
from leod_core.study import RAW_COLUMNS, RunSpec, ablation_table, gains_table, results_table

__all__ = ["STAGE_RESULTS_DIR", "stage_results_dir", "run_stage", "stage_done", "stage_records", "collect_raw",
           "write_study_outputs", "log_run_summary"]

log = logging.getLogger(__name__)

#: the engine's persisted stage results (its cache) under the study folder
STAGE_RESULTS_DIR = ".stage-results"


def stage_results_dir(root: Path) -> Path:
    """Where Prefect persists the study's stage results (shared by every worker, so on a shared disk)."""
    return Path(root) / STAGE_RESULTS_DIR


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {k: _jsonable(v) for k, v in asdict(obj).items()}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    return str(obj)


@task(name="study-stage", persist_result=True, result_serializer="json",
      cache_key_fn=lambda _ctx, params: params["key"])
def _stage(stage: str, key: str, call: Callable[[], Any]) -> dict:
    """``call()`` as a task cached under ``key``: {stage, wall_s, finished (unix time), result}."""
    t0 = time.perf_counter()
    result = call()
    return {"stage": stage, "wall_s": time.perf_counter() - t0, "finished": time.time(), "result": _jsonable(result)}


def run_stage(root: Path, label: str, stage: str, key: str, call: Callable[[], Any]) -> tuple[dict, bool]:
    """Run ``call`` as stage ``stage`` unless the study ``root`` holds its result under ``key``; returns
    (record, ran). ``label`` names the task run (``wsod-0.1-s0/train@1``)."""
    from prefect.transactions import CommitMode, transaction

    t = _stage.with_options(result_storage=stage_results_dir(root), task_run_name=label)
    # committed when the stage ends: inside a run's task, Prefect would otherwise keep the result until the
    # whole run succeeded, and a run killed in round 2 would redo its round 0
    with transaction(commit_mode=CommitMode.EAGER):
        state = t(stage, key, call, return_state=True)
    record = state.result()  # a failed stage raises its error here
    ran = state.name != "Cached"
    if ran:
        log.info("%s done in %.1f s", label, record["wall_s"])
    return record, ran


def stage_done(root: Path, key: str) -> bool:
    """Whether the study ``root`` holds the result of the stage cached under ``key``."""
    return (stage_results_dir(root) / key).is_file()


def stage_records(root: Path) -> list[dict]:
    """Every persisted stage result of the study (for the time projection); unreadable ones are skipped."""
    from prefect.results import ResultRecord

    out = []
    for p in sorted(stage_results_dir(root).glob("*")):
        try:
            rec = ResultRecord.deserialize(p.read_bytes()).result
        except Exception:  # a file Prefect is writing, or not one of its records: no timing from it
            continue
        if isinstance(rec, dict) and "wall_s" in rec:
            out.append(rec)
    return out


def collect_raw(root: Path, runs: Sequence[RunSpec]) -> pd.DataFrame:
    """The long per-run table (RAW_COLUMNS) from each run's metrics / quality files."""
    rows = []
    for r in runs:
        df = rounds_from_files.fn(Path(root) / r.run_id, r.rounds)
        for rec in df.to_dict("records"):
            rows.append({"run_id": r.run_id, "kind": r.kind, "setting": r.setting, "ratio": r.ratio,
                         "seed": r.seed, "ablation": r.ablation, **rec})
    raw = pd.DataFrame(rows, columns=list(RAW_COLUMNS))
    raw["round"] = raw["round"].astype(int)
    return raw


@task(name="study-tables", cache_policy=NO_CACHE)
def write_study_outputs(root: Path, runs: Sequence[RunSpec], rounds: int, ablation_rounds: int,
                        title: str) -> dict[str, Path]:
    """runs.csv (raw, one row per run and round), results.csv, gains.csv, ablations.csv and results.png."""
    from leod_core.viz.study import plot_study

    root = Path(root)
    raw = collect_raw(root, runs)
    paths = {"runs": root / "runs.csv", "results": root / "results.csv", "gains": root / "gains.csv",
             "ablations": root / "ablations.csv", "plot": root / "results.png"}
    tables = {"runs": raw, "results": results_table(raw, runs, rounds), "gains": gains_table(raw, runs, rounds),
              "ablations": ablation_table(raw, runs, ablation_rounds)}
    for name, df in tables.items():
        with atomic_path(paths[name]) as tmp:
            df.to_csv(tmp, index=False, float_format="%.6g")
    plot_study(raw, paths["plot"], rounds, title=title)
    return paths


def log_run_summary(cfg: LeodConfig, spec: RunSpec, run_dir: Path) -> None:
    """One MLflow run per finished study run (stage ``study-run``): test AP per round (step = round),
    round-1 pseudo-label quality, tags with the run id, seed and ablation."""
    df = rounds_from_files.fn(Path(run_dir), spec.rounds)
    tags = {"study_run": spec.run_id, "kind": spec.kind, "seed": str(spec.seed), "ablation": spec.ablation or "none"}
    with stage_run(cfg, "study-run", extra_tags=tags) as run:
        for rec in df.to_dict("records"):
            run.log_metrics({k: v for k, v in rec.items() if k != "round"}, step=int(rec["round"]))
