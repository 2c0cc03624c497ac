"""MLflow logging for pipeline stages: one run per stage execution.

A local store by default (``mlflow.tracking_uri`` in params, ``sqlite:///mlflow.db``; the
``MLFLOW_TRACKING_URI`` environment variable wins), one experiment per dataset + setting
(``cfg.experiment_name()``), runs tagged with ``round``, ``stage``, ``setting``, the git commit and the
DVC hashes of the stage's inputs (read from ``dvc.lock``, so nothing is re-hashed).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leod_core.config import LeodConfig, config_to_dict

__all__ = ["metric_name", "run_name", "StageRun", "stage_run", "flatten", "dvc_hashes", "git_commit", "tracking_uri", "StepLogger"]

log = logging.getLogger(__name__)

_MAX_PARAMS_PER_CALL = 100  # MLflow's log_batch limit
_BAD_NAME_CHARS = re.compile(r"[^\w\-. /]")  # MLflow metric names: letters, digits, _ - . space /


def metric_name(key: str) -> str:
    """``overall.precision@0.5`` -> ``overall.precision_0.5`` (``@`` is not allowed in MLflow names)."""
    return _BAD_NAME_CHARS.sub("_", key)


def run_name(stage: str, round_idx: int | None = None) -> str:
    """``round 1 / evaluate`` (how runs are listed in the MLflow UI, sorted by round); ``stage`` alone
    for stages outside the rounds (synth, import, report)."""
    return stage if round_idx is None else f"round {round_idx} / {stage}"


def tracking_uri(cfg: LeodConfig) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``cfg.mlflow.tracking_uri``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or cfg.mlflow.tracking_uri


def prepare_store(cfg: LeodConfig) -> None:
    """Create (or migrate) the tracking store now, in this process: worker processes that all open a
    fresh SQLite store at once race on its schema migration (``table _alembic_tmp_tags already exists``)."""
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=tracking_uri(cfg)).search_experiments(max_results=1)


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become their string form."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v if isinstance(v, (int, float, str, bool)) or v is None else str(list(v))
    return out


def git_commit(cwd: Path | None = None) -> str:
    """HEAD's commit hash, with ``-dirty`` when tracked files changed; ``unknown`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def dvc_hashes(paths: list[str | Path], lock_path: Path = Path("dvc.lock")) -> dict[str, str]:
    """DVC's md5 of each path as recorded in ``dvc.lock`` (the outs of upstream stages; ``dvc repro``
    updates the lock file after every stage, so upstream hashes are there when a stage runs)."""
    if not lock_path.exists() or not paths:
        return {}
    import yaml  # a dependency of dvc and mlflow

    try:
        lock = yaml.safe_load(lock_path.read_text()) or {}
    except yaml.YAMLError:
        return {}
    known: dict[str, str] = {}
    for stage in (lock.get("stages") or {}).values():
        for entry in (stage.get("outs") or []) + (stage.get("deps") or []):
            if "path" in entry and "md5" in entry:
                known.setdefault(str(entry["path"]).rstrip("/"), str(entry["md5"]))
    wanted = {str(Path(p)).rstrip("/") for p in paths}
    return {p: known[p] for p in sorted(wanted) if p in known}


class StepLogger:
    """Thread-safe ``callback(step, metrics)`` for the trainer: buffers per-step metrics and sends them
    to MLflow in batches (one SQLite transaction per ``flush_every`` steps, not per step)."""

    def __init__(self, client: Any, run_id: str, flush_every: int = 50) -> None:
        self._client, self._run_id, self._flush_every = client, run_id, flush_every
        self._buf: list[Any] = []
        self._steps = 0
        self._lock = threading.Lock()

    def __call__(self, step: int, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        with self._lock:
            self._buf.extend(Metric(metric_name(k), float(v), ts, int(step)) for k, v in metrics.items()
                             if _is_number(v) and not math.isnan(float(v)))
            self._steps += 1
            if self._steps % self._flush_every == 0:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        while self._buf:
            chunk, self._buf = self._buf[:1000], self._buf[1000:]
            self._client.log_batch(self._run_id, metrics=chunk)


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


@dataclass
class StageRun:
    """An open MLflow run of one stage execution."""

    client: Any
    run_id: str
    experiment_id: str
    tags: dict[str, str] = field(default_factory=dict)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None, prefix: str = "") -> None:
        """Numeric entries of ``metrics`` (nested dicts flattened with dots; others skipped)."""
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        flat = flatten(metrics)
        batch = [Metric(metric_name(f"{prefix}{k}"), float(v), ts, step or 0) for k, v in flat.items()
                 if not isinstance(v, bool) and _is_number(v) and not math.isnan(float(v))]
        for i in range(0, len(batch), 1000):
            self.client.log_batch(self.run_id, metrics=batch[i:i + 1000])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """A file or a folder (recursively); missing paths are skipped with a warning."""
        p = Path(path)
        if not p.exists():
            log.warning("artifact %s not found; not logged", p)
        elif p.is_dir():
            self.client.log_artifacts(self.run_id, str(p), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(p), artifact_path)

    def log_dict(self, data: Mapping[str, Any], name: str) -> None:
        self.client.log_text(self.run_id, json.dumps(data, indent=2, default=str), name)

    def step_logger(self, flush_every: int = 50) -> StepLogger:
        return StepLogger(self.client, self.run_id, flush_every)


@contextlib.contextmanager
def stage_run(cfg: LeodConfig, stage: str, round_idx: int | None = None, deps: list[str | Path] = (),
              extra_tags: Mapping[str, str] | None = None) -> Iterator[StageRun]:
    """Open one MLflow run for a stage execution; ended FINISHED, or FAILED if the block raises.

    Named :func:`run_name`. Tags: ``stage``, ``round`` (when given), ``setting``, ``ratio``, ``camera``,
    ``git_commit``, ``dvc.<dep path>`` = md5 of each dep known to dvc.lock. Params: the whole flattened
    config, plus ``round``.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri(cfg))
    name = cfg.experiment_name()
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(name)
    tags = {"stage": stage, "setting": cfg.subsample.setting, "ratio": f"{cfg.subsample.ratio:g}",
            "camera": cfg.camera.name, "git_commit": git_commit(),
            "mlflow.runName": run_name(stage, round_idx)}
    if round_idx is not None:
        tags["round"] = str(round_idx)
    tags.update({f"dvc.{p}": h for p, h in dvc_hashes(list(deps)).items()})
    tags.update(extra_tags or {})
    run = client.create_run(exp_id, tags=tags)
    run_id = run.info.run_id
    from mlflow.entities import Param

    flat = flatten(config_to_dict(cfg))
    if round_idx is not None:
        # a param, not only a tag: MLflow's compare view plots metrics against params (x = round)
        flat["round"] = round_idx
    params = [Param(k, str(v)[:6000]) for k, v in flat.items()]
    for i in range(0, len(params), _MAX_PARAMS_PER_CALL):
        client.log_batch(run_id, params=params[i:i + _MAX_PARAMS_PER_CALL])
    sr = StageRun(client, run_id, exp_id, tags)
    try:
        yield sr
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
