"""Tasks of ``leod study``: one run's stage as a cached Prefect task (resume), the study's tables, plot and
MLflow summary runs.

A stage's result is persisted by Prefect under ``<study>/.stage-results/<stage>-<fingerprint>`` (its cache
key, :func:`flows.study_plan.stage_key`) once the stage's flow returned, with the stage's wall time: the
next study finds it there and skips the stage. A killed study therefore re-runs at most the stage that
was in progress (and training resumes inside it from its checkpoint).
"""

from __future__ import annotations

import hashlib
import json
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
from leod_core.eval.bootstrap import BOOTSTRAP_SAMPLES
from leod_core.round_layout import ArtifactLayout
from leod_core.study import RAW_COLUMNS, RunSpec, ablation_table, gains_table, main_groups, results_table

__all__ = ["STAGE_RESULTS_DIR", "stage_results_dir", "run_stage", "stage_done", "stage_records", "collect_raw",
           "write_study_outputs", "log_run_summary", "gain_bootstraps", "BOOTSTRAP_CACHE"]

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


#: the study's cache of bootstrap intervals, keyed by the detection files' digests (a resample is cheap,
#: 1 000 of them for five seeds are not: about a minute per row)
BOOTSTRAP_CACHE = "bootstrap.json"


def gain_bootstraps(root: Path, runs: Sequence[RunSpec], rounds: int, truth: Any,
                    samples: int = BOOTSTRAP_SAMPLES) -> dict[tuple[str, float, int], Any]:
    """{(setting, ratio, k): BootstrapCI} of gains.csv's rows: round k - round 0 over the seeds whose
    evaluations of both rounds kept their detections, the test sequences resampled. Cached in
    ``root/bootstrap.json`` under the digests of the files read."""
    from leod_core.eval.bootstrap import BootstrapCI, matched_run, paired_bootstrap

    root = Path(root)
    cache_path = root / BOOTSTRAP_CACHE
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    out: dict[tuple[str, float, int], Any] = {}
    matched: dict[Path, Any] = {}
    new = False
    for (setting, ratio), ids in main_groups(runs).items():
        for k in range(1, rounds + 1):
            layouts = [ArtifactLayout(root / rid) for rid in ids]
            files = [(lay.round(0).detections(), lay.round(k).detections()) for lay in layouts]
            files = [(a, b) for a, b in files if a.is_file() and b.is_file()]
            if not files:
                continue
            digests = [[_sha256(a), _sha256(b)] for a, b in files]
            key = hashlib.sha256(json.dumps([samples, digests]).encode()).hexdigest()
            if key not in cache:
                pairs = []
                for a, b in files:
                    for p in (a, b):
                        if p not in matched:
                            matched[p] = matched_run(truth, p)
                    pairs.append((matched[a], matched[b]))
                ci = paired_bootstrap(pairs, samples=samples)
                cache[key] = None if ci is None else asdict(ci)
                new = True
            out[(setting, ratio, k)] = None if cache[key] is None else BootstrapCI(**cache[key])
    if new:
        with atomic_path(cache_path) as tmp:
            tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@task(name="study-tables", cache_policy=NO_CACHE)
def write_study_outputs(root: Path, runs: Sequence[RunSpec], rounds: int, ablation_rounds: int,
                        title: str, truth: Any = None) -> dict[str, Path]:
    """runs.csv (raw, one row per run and round), results.csv, gains.csv, ablations.csv and results.png.
    ``truth``: the test split's :class:`~leod_core.eval.bootstrap.SplitTruth`, for gains.csv's bootstrap
    over test sequences (None: that column stays empty)."""
    from leod_core.viz.study import plot_study

    root = Path(root)
    raw = collect_raw(root, runs)
    paths = {"runs": root / "runs.csv", "results": root / "results.csv", "gains": root / "gains.csv",
             "ablations": root / "ablations.csv", "plot": root / "results.png"}
    boot = gain_bootstraps(root, runs, rounds, truth) if truth is not None else None
    tables = {"runs": raw, "results": results_table(raw, runs, rounds),
              "gains": gains_table(raw, runs, rounds, boot), "ablations": ablation_table(raw, runs, ablation_rounds)}
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
