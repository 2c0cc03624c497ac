"""``leod pseudo-quality --round K``: precision/recall/AP of round K's pseudo labels vs the withheld GT.

Reads <artifacts>/round_K/labels/labels.parquet and <artifacts>/round_0/labels/withheld.parquet (leaving
out the frames a person reviewed, paths.human_labels); writes <artifacts>/round_K/quality/quality.json and quality.png.

The stage's one module: the task that measures and writes the files, the flow that logs them to
MLflow, and ``run``, the command (which prints the table).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.mlflow_log import stage_run
from flows.settings import load_config
from flows.stages import check_round, stage_config
from leod_core.cameras import CameraSpec
from leod_core.round_layout import QUALITY_FILE, QUALITY_PLOT_FILE
from leod_core.round_layout import QUALITY_FILE, QUALITY_PLOT_FILE

__all__ = ["measure_quality", "pseudo_quality_flow"]


@task(name="pseudo-quality", cache_policy=NO_CACHE)
def measure_quality(labels: Path, withheld: Path, camera: CameraSpec, out_dir: Path, round_idx: int,
                    human: Path | None = None) -> dict:
    """Compare the tables (leaving out the frames the ``human`` table reviewed), write ``quality.json`` and
    ``quality.png`` under ``out_dir``; return the dict."""
    from leod_core.eval.box_files import write_json
    from leod_core.eval.quality import pseudo_label_quality
    from leod_core.labels.human import read_human
    from leod_core.labels.table import read_labels
    from leod_core.viz.plots import plot_quality

    reviewed = read_human(human).keys if human is not None else ()
    q = pseudo_label_quality(read_labels(labels), read_labels(withheld), camera, reviewed)
    out_dir = Path(out_dir)
    write_json(q, out_dir / QUALITY_FILE)
    plot_quality(q, out_dir / QUALITY_PLOT_FILE, title=f"round {round_idx} pseudo labels vs withheld GT")
    return q


@flow(name="pseudo-quality", validate_parameters=False)
def pseudo_quality_flow(round_idx: int, params: str = "params.yaml", overrides: list[str] | None = None,
                        labels: str | None = None, withheld: str | None = None, out: str | None = None) -> dict:
    """Quality of round ``round_idx``'s pseudo labels (default paths: the round layout; frames a person
    reviewed, ``paths.human_labels``, are not scored); returns the quality record plus ``out`` (the folder
    written)."""
    cfg = load_config(params, overrides)
    r = cfg.layout.round(check_round("pseudo_quality", round_idx))
    labels_p = Path(labels) if labels else r.labels
    withheld_p = Path(withheld) if withheld else cfg.layout.withheld
    out_p = Path(out) if out else r.quality_dir
    human_p = Path(cfg.paths.human_labels)
    with stage_run(cfg, "pseudo_quality", round_idx,
                   deps=[str(labels_p.parent), str(withheld_p.parent), str(human_p)]) as run:
        camera = stage_config(cfg, "pseudo_quality", round_idx).camera
        q = measure_quality(labels_p, withheld_p, camera, out_p, round_idx, human_p)
        run.log_metrics({"overall": q["overall"], "per_class": q["per_class"], "counts": q["counts"]},
                        step=round_idx, prefix="pseudo.")
        run.log_artifact(out_p / QUALITY_FILE)
        run.log_artifact(out_p / QUALITY_PLOT_FILE)
    return q | {"out": str(out_p)}


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from flows.stages import check_round
    from leod_core.eval.quality import IOU_THRESHOLDS

    cfg = load_config(args.params, args.overrides)
    k = check_round("pseudo_quality", args.round_idx)  # before Prefect starts
    prepare_environment()

    q = run_flow(pseudo_quality_flow, cfg.orchestration, round_idx=k, params=args.params, overrides=args.overrides,
                 labels=args.labels, withheld=args.withheld, out=args.out)

    table = Table(title=f"Pseudo-label quality, round {k} ({q['counts']['withheld_frames']} withheld frames)")
    table.add_column("class")
    cols = [f"{m}@{t}" for m in ("recall", "precision") for t in IOU_THRESHOLDS] + ["AP", "num_gt", "num_pseudo"]
    for c in cols:  # short headers: R@.5 = recall at IoU .5, P@.5 = precision
        head = c.replace("recall@0", "R@").replace("precision@0", "P@").replace("num_", "#")
        table.add_column(head, justify="right")
    for name, d in [*q["per_class"].items(), ("all", q["overall"])]:
        table.add_row(name, *(f"{d[c]:.3f}" if isinstance(d[c], float) else str(d[c]) for c in cols))
    Console().print(table)
    c = q["counts"]
    human = f" + {c['human']} human on {c['reviewed_frames']} reviewed frames" if c["reviewed_frames"] else ""
    print(f"pseudo-quality round {k}: {c['pseudo']} pseudo, {c['ignore']} ignore, {c['inpainted']} inpainted, "
          f"{c['gt']} GT{human} boxes -> {q['out']}")
    return 0
