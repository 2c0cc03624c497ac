"""Tasks of ``leod study``: per-stage done markers (resume), run folders, the study's tables, plot and
MLflow summary runs.

A stage of a run is done when ``<run>/.study/<stage>.json`` exists: it is written atomically after the
stage's flow returned, with the stage's wall time and its (small) result. A killed study therefore
re-runs at most the stage that was in progress (and training resumes inside it from its checkpoint).
"""

from __future__ import annotations

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

from leod_core.atomic import atomic_path
from leod_core.config import ConfigError, LeodConfig
from leod_core.study import RAW_COLUMNS, RunSpec, ablation_table, gains_table, results_table
from tasks.report import rounds_from_files
from tasks.mlflow_log import stage_run

__all__ = ["MARKER_DIR", "stage_marker", "read_marker", "run_stage", "check_run_identity", "collect_raw",
           "write_study_outputs", "log_run_summary", "marker_records"]

log = logging.getLogger(__name__)

MARKER_DIR = ".study"


def stage_marker(run_dir: Path, stage: str) -> Path:
    """``<run>/.study/<stage>.json`` (``@`` of ``train@1`` kept: a plain file name)."""
    return Path(run_dir) / MARKER_DIR / f"{stage}.json"


def read_marker(run_dir: Path, stage: str) -> dict | None:
    """The marker of a finished stage, or None when the stage has not finished."""
    p = stage_marker(run_dir, stage)
    return json.loads(p.read_text()) if p.is_file() else None


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


def run_stage(run_dir: Path, stage: str, fn: Callable[[], Any]) -> tuple[dict, bool]:
    """Run ``fn`` unless ``stage`` of ``run_dir`` is done; returns (marker, ran). The marker holds
    ``stage``, ``wall_s``, ``finished`` (unix time) and ``result``."""
    done = read_marker(run_dir, stage)
    if done is not None:
        return done, False
    t0 = time.perf_counter()
    result = fn()
    marker = {"stage": stage, "wall_s": time.perf_counter() - t0, "finished": time.time(),
              "result": _jsonable(result)}
    with atomic_path(stage_marker(run_dir, stage)) as tmp:
        tmp.write_text(json.dumps(marker, indent=1) + "\n")
    log.info("%s: %s done in %.1f s", Path(run_dir).name, stage, marker["wall_s"])
    return marker, True


def check_run_identity(run_dir: Path, identity: Mapping[str, Any]) -> None:
    """Write ``<run>/.study/run.json`` on first use; later, refuse a run folder made with other
    parameters (its finished stages would be silently mixed with new ones)."""
    p = Path(run_dir) / MARKER_DIR / "run.json"
    if p.is_file():
        old = json.loads(p.read_text())
        if old.get("fingerprint") != identity.get("fingerprint"):
            raise ConfigError(f"{run_dir} was made with other parameters (fingerprint {old.get('fingerprint')} != "
                              f"{identity.get('fingerprint')}); delete it to redo the run, or restore its parameters")
        return
    with atomic_path(p) as tmp:
        tmp.write_text(json.dumps(_jsonable(dict(identity)), indent=1) + "\n")


def marker_records(root: Path) -> list[dict]:
    """Every stage marker under the study folder (for timing projections)."""
    out = []
    for p in sorted(Path(root).glob(f"*/{MARKER_DIR}/*.json")):
        if p.name == "run.json":
            continue
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
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
