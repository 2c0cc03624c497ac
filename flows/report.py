"""``leod compare``: table of the self-training rounds (from the round folders' files, or from MLflow),
``rounds.csv`` and ``rounds.png``.

The ``report`` stage's one module: tasks that read one row per round (the round folders' files,
what DVC tracks, by default; or MLflow), write the CSV and the plot; the flow; ``run``, the command.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
from prefect import flow
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.mlflow_log import metric_name
from flows.mlflow_log import stage_run, tracking_uri
from flows.settings import load_config
from flows.stages import stage_config
from leod_core.atomic import atomic_path
from leod_core.round_layout import REPORT_PLOT_FILE, REPORT_TABLE_FILE, ArtifactLayout

__all__ = ["ROUND_COLUMNS", "rounds_from_mlflow", "rounds_from_files", "write_report", "report_flow"]


#: rounds.csv columns; pseudo_* are the quality of the labels that round trained on (NaN for round 0)
ROUND_COLUMNS = ("round", "AP", "AP_50", "AP_75", "pseudo_precision", "pseudo_recall", "pseudo_AP")
_QUALITY_KEYS = {"pseudo_precision": "precision@0.5", "pseudo_recall": "recall@0.5", "pseudo_AP": "AP"}


def _empty_row(k: int) -> dict[str, float]:
    return {c: (k if c == "round" else math.nan) for c in ROUND_COLUMNS}


@task(name="rounds-from-mlflow", cache_policy=NO_CACHE)
def rounds_from_mlflow(tracking_uri: str, experiment: str, split: str, rounds: int) -> pd.DataFrame:
    """Latest finished ``evaluate`` (on ``split``) and ``pseudo_quality`` run per round 0..rounds."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise ValueError(f"MLflow experiment {experiment!r} not found in {tracking_uri}: run the pipeline first")
    runs = client.search_runs([exp.experiment_id], filter_string="attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=5000)
    rows = {k: _empty_row(k) for k in range(rounds + 1)}
    seen: set[tuple[str, int]] = set()
    for r in runs:  # newest first: the first run seen per (stage, round) wins
        stage, rnd = r.data.tags.get("stage"), r.data.tags.get("round")
        if rnd is None or not rnd.isdigit() or int(rnd) not in rows or (stage, int(rnd)) in seen:
            continue
        k, m = int(rnd), r.data.metrics
        if stage == "evaluate" and r.data.tags.get("split", split) == split:
            rows[k].update({c: m.get(c, math.nan) for c in ("AP", "AP_50", "AP_75")})
        elif stage == "pseudo_quality":
            rows[k].update({c: m.get(metric_name(f"pseudo.overall.{q}"), math.nan) for c, q in _QUALITY_KEYS.items()})
        else:
            continue
        seen.add((stage, k))
    return pd.DataFrame([rows[k] for k in sorted(rows)], columns=list(ROUND_COLUMNS))


@task(name="rounds-from-files", cache_policy=NO_CACHE)
def rounds_from_files(artifacts: Path, rounds: int, split: str = "test") -> pd.DataFrame:
    """The same table from each round's evaluation (on ``split``) and pseudo-label quality files."""
    rows = []
    layout = ArtifactLayout(artifacts)
    for k in range(rounds + 1):
        row = _empty_row(k)
        m_path = layout.round(k).metrics(split)
        if m_path.is_file():
            m = json.loads(m_path.read_text())
            row.update({c: math.nan if m.get(c) is None else float(m[c]) for c in ("AP", "AP_50", "AP_75")})
        q_path = layout.round(k).quality
        if q_path.is_file():
            q = json.loads(q_path.read_text())["overall"]
            # a ratio with nothing to count is written as null (NaN in JSON)
            row.update({c: math.nan if q.get(key) is None else float(q[key]) for c, key in _QUALITY_KEYS.items()})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(ROUND_COLUMNS))


@task(name="write-report", cache_policy=NO_CACHE)
def write_report(df: pd.DataFrame, out_dir: Path, title: str) -> tuple[Path, Path]:
    """``rounds.csv`` and ``rounds.png`` (mAP per round, pseudo-label precision beside it) in ``out_dir``."""
    from leod_core.viz.plots import plot_rounds

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / REPORT_TABLE_FILE, out_dir / REPORT_PLOT_FILE
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    plot_rounds(df, png_path, title=title)
    return csv_path, png_path


@flow(name="report", validate_parameters=False)
def report_flow(params: str = "params.yaml", overrides: list[str] | None = None, out: str | None = None,
                source: str = "files") -> pd.DataFrame:
    """Table of rounds 0..``rounds`` (mAP, AP_50, pseudo-label precision/recall) -> rounds.csv + rounds.png.

    Every round must have an evaluation: a missing one means the pipeline did not run it (e.g. rounds.yaml
    is out of step with params.yaml).
    """
    cfg = load_config(params, overrides)
    out_p = Path(out) if out else Path(cfg.paths.artifacts) / "report"
    if source not in ("mlflow", "files"):
        raise ValueError(f"--source must be mlflow or files, got {source!r}")
    core = stage_config(cfg, "report")
    with stage_run(cfg, "report") as run:
        if source == "mlflow":
            df = rounds_from_mlflow(tracking_uri(cfg), cfg.experiment_name(), core.eval.split, core.rounds)
        else:
            df = rounds_from_files(Path(cfg.paths.artifacts), core.rounds, core.eval.split)
        missing = df.loc[df["AP"].isna(), "round"].astype(int).tolist()
        if missing:
            raise ValueError(f"no evaluation found for round(s) {missing} of rounds=0..{cfg.rounds} (source "
                             f"{source}); if params.yaml `rounds` changed, run `python -m flows.dvc_rounds` "
                             "and `dvc repro`")
        csv_path, png_path = write_report(df, out_p, f"{cfg.experiment_name()}: self-training rounds")
        for _, row in df.iterrows():
            run.log_metrics({k: row[k] for k in df.columns if k != "round"}, step=int(row["round"]),
                            prefix="rounds.")
        run.log_artifact(csv_path)
        run.log_artifact(png_path)
    return df


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config

    cfg = load_config(args.params, args.overrides)
    prepare_environment()

    df = run_flow(report_flow, cfg.orchestration, params=args.params, overrides=args.overrides, out=args.out,
                  source=args.source)
    table = Table(title=f"{cfg.experiment_name()}: rounds ({args.source})")
    for col in df.columns:
        table.add_column(col, justify="right")
    for _, row in df.iterrows():
        table.add_row(*(str(int(v)) if c == "round" else ("-" if math.isnan(v) else f"{v:.4f}")
                        for c, v in row.items()))
    Console().print(table)
    print(f"report -> {args.out or cfg.paths.artifacts + '/report'}")
    return 0
