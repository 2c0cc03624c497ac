"""Flow of the ``report`` stage: compare the rounds (from MLflow by default)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow

from flows.settings import load_config
from tasks.report import rounds_from_files, rounds_from_mlflow, write_report
from tasks.mlflow_log import stage_run, tracking_uri

__all__ = ["report_flow"]


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
    with stage_run(cfg, "report") as run:
        if source == "mlflow":
            df = rounds_from_mlflow(tracking_uri(cfg), cfg.experiment_name(), cfg.eval.split, cfg.rounds)
        else:
            df = rounds_from_files(Path(cfg.paths.artifacts), cfg.rounds, cfg.eval.split)
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
