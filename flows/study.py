"""Flow of ``leod study``: the label-ratio x seed study and the ablations (see leod_core/study.py).

Every run executes the stage flows of the main pipeline (subsample, train, evaluate, pseudo-label,
pseudo-quality) as subflows, with its own ``key=value`` overrides, in ``<study>/<run_id>/``; all runs
share one dataset (the ``study.synth_preset`` synthetic dataset under ``<study>/data``, or
``study.dataset``). Finished stages are skipped (``tasks/study.py`` markers), so the study resumes
where it stopped. At the end: ``runs.csv``, ``results.csv``, ``ablations.csv``, ``results.png``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow

from flows.evaluate import evaluate_flow
from flows.import_data import import_flow
from flows.pseudo_label import pseudo_label_flow
from flows.pseudo_quality import pseudo_quality_flow
from flows.runtime import run_flow
from flows.subsample import subsample_flow
from flows.synth import synth_flow
from flows.train import train_flow
from leod_core.config import LeodConfig, load_config
from leod_core.round_layout import ArtifactLayout, round_stages
from leod_core.study import RunSpec, plan_study, run_fingerprint, select_runs, shard_runs
from tasks.study import (check_run_identity, log_run_summary, marker_records, read_marker, run_stage,
                         write_study_outputs)

__all__ = ["study_flow", "StudyContext", "study_context", "run_stages", "pending_stages", "project_seconds",
           "parse_shard", "DEFAULT_STAGE_SECONDS"]

log = logging.getLogger(__name__)

#: fallback time model of the projection, before any stage of the study has finished: seconds per
#: training step (round 0 / self-training, nano, batch 8, L 5, one torch thread) and per stage (small
#: preset): the means over the 290 stages of the default `make study` (2 workers on the 2 shared cores)
DEFAULT_STAGE_SECONDS: dict[str, float] = {
    "train_step@0": 0.89, "train_step@k": 0.9, "subsample": 1.6, "evaluate": 7.4, "pseudo_label": 35.0,
    "pseudo_quality": 1.6, "summary": 0.1, "synth": 18.0, "import": 5.0,
}


@dataclass(frozen=True)
class StudyContext:
    """Where the study lives and what every run inherits."""

    cfg: LeodConfig
    params: str
    root: Path
    dataset: Path
    synthetic: bool
    experiment: str
    common: tuple[str, ...] = field(default=())  # user overrides + the study's own, before a run's keys


def study_context(params: str = "params.yaml", overrides: list[str] | None = None,
                  out: str | None = None) -> StudyContext:
    """Load params and fix the study folder, dataset, MLflow experiment and shared overrides."""
    cfg = load_config(params, overrides)
    st = cfg.study
    root = Path(out) if out else Path(cfg.paths.artifacts) / "study"
    synthetic = not st.dataset
    dataset = root / "data" / "dataset" if synthetic else Path(st.dataset)
    name = f"{cfg.camera.name if not synthetic else 'synth'}-{st.synth_preset if synthetic else dataset.name}"
    experiment = f"{cfg.mlflow.experiment}-study" if cfg.mlflow.experiment else f"study-{name}"
    common = [*(overrides or []), f"paths.dataset={dataset}", f"mlflow.experiment={experiment}",
              f"train.steps={st.steps}", f"train.steps_self_train={st.steps_self_train}",
              "full_labels.steps=0", *st.overrides]  # study.steps for the full-label runs too
    if synthetic:
        common.append("dataset.camera=synth")
    return StudyContext(cfg, params, root, dataset, synthetic, experiment, tuple(common))


def run_overrides(ctx: StudyContext, spec: RunSpec) -> list[str]:
    """The full override list of one run (later keys win)."""
    return [*ctx.common, f"paths.artifacts={ctx.root / spec.run_id}", f"rounds={spec.rounds}", *spec.overrides]


# (stage name, what it is for the projection, round) per run; ablation runs start at round 1 (round 0 shared)
def run_stages(spec: RunSpec) -> list[tuple[str, str, int]]:
    """Stage names of a run in order (``train@0``, ``evaluate@0``, ``pseudo_label@1``, ...), with the
    projection kind and round of each."""
    first = 0 if spec.base is None else 1
    stages = [(s.name, s.kind, k) for k in range(first, spec.rounds + 1) for s in round_stages(k)]
    # named by the round count: a study extended to more rounds logs a new summary of the run
    return stages + [(f"summary@{spec.rounds}", "summary", spec.rounds)]


def pending_stages(ctx: StudyContext, runs: list[RunSpec]) -> list[tuple[RunSpec, str, str, int]]:
    """Stages not yet done, in execution order; an ablation's shared round 0 counts under its base run."""
    by_id = {r.run_id: r for r in plan_study(ctx.cfg)}
    out: list[tuple[RunSpec, str, str, int]] = []
    seen: set[tuple[str, str]] = set()
    for spec in runs:
        chain = [(by_id[spec.base], [s for s in run_stages(by_id[spec.base]) if s[2] == 0 and s[1] != "summary"])] \
            if spec.base else []
        chain.append((spec, run_stages(spec)))
        for owner, stages in chain:
            for name, kind, k in stages:
                if (owner.run_id, name) in seen:
                    continue
                seen.add((owner.run_id, name))
                if read_marker(ctx.root / owner.run_id, name) is None:
                    out.append((owner, name, kind, k))
    return out


def _stage_rates(ctx: StudyContext) -> dict[str, float]:
    """The time model: measured means from the study's markers where there are some, else the defaults."""
    sums: dict[str, list[float]] = {}
    for m in marker_records(ctx.root):  # runs and data/ (synth, import)
        stage, wall = str(m.get("stage", "")), float(m.get("wall_s", 0.0))
        kind, _, k = stage.partition("@")
        if kind == "train":
            steps = (m.get("result") or {}).get("steps") or 0
            resumed = (m.get("result") or {}).get("resumed_from") or 0
            if steps - resumed > 0:
                sums.setdefault(f"train_step@{'0' if k == '0' else 'k'}", []).append(wall / (steps - resumed))
        else:
            sums.setdefault(kind, []).append(wall)
    rates = dict(DEFAULT_STAGE_SECONDS)
    rates.update({k: sum(v) / len(v) for k, v in sums.items() if v})
    return rates


def project_seconds(ctx: StudyContext, pending: list[tuple[RunSpec, str, str, int]]) -> tuple[float, int]:
    """(projected seconds of the pending stages, how many finished stages the time model rests on)."""
    rates = _stage_rates(ctx)
    total = 0.0
    for spec, _, kind, k in pending:
        if kind == "train":
            steps = ctx.cfg.study.steps if k == 0 else ctx.cfg.study.steps_self_train
            total += steps * rates["train_step@0" if k == 0 else "train_step@k"]
        else:
            total += rates[kind]
    if ctx.synthetic:
        for stage in ("synth", "import"):
            if read_marker(ctx.root / "data", stage) is None:
                total += rates[stage]
    return total, len(marker_records(ctx.root))


def _prepare_dataset(ctx: StudyContext, overrides: list[str] | None) -> None:
    """The shared dataset: synthesise + import once (markers in ``<study>/data``), or check the given one."""
    if not ctx.synthetic:
        if not (ctx.dataset / "train").is_dir() or not (ctx.dataset / ctx.cfg.eval.split).is_dir():
            raise FileNotFoundError(f"study.dataset {ctx.dataset} has no train/ and {ctx.cfg.eval.split}/ split")
        return
    import fcntl

    data = ctx.root / "data"
    st, cfg = ctx.cfg.study, ctx.cfg
    data.mkdir(parents=True, exist_ok=True)
    with open(data / ".lock", "w") as lock:  # parallel workers: one synthesises, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        check_run_identity(data, {"synth_preset": st.synth_preset, "synth_seed": cfg.synth.seed,
                                  "fingerprint": f"{st.synth_preset}-{cfg.synth.seed}"})
        ov = [*(overrides or []), f"mlflow.experiment={ctx.experiment}"]
        raw = data / "raw"
        run_stage(data, "synth", lambda: run_flow(synth_flow, cfg.orchestration, dst=str(raw),
                                                  preset=st.synth_preset, seed=cfg.synth.seed, params=ctx.params,
                                                  overrides=ov))
        run_stage(data, "import", lambda: run_flow(import_flow, cfg.orchestration, src=str(raw),
                                                   dst=str(ctx.dataset), camera="synth", params=ctx.params,
                                                   overrides=ov))


def _stage_call(name: str, flow_obj: Any, orch: Any, **kw: Any) -> Callable[[], Any]:
    return lambda: run_flow(flow_obj, orch, **kw)


def _execute(ctx: StudyContext, spec: RunSpec, stages: list[tuple[str, str, int]]) -> int:
    """Run the not-done ``stages`` of ``spec`` in its folder; returns how many ran."""
    ov = run_overrides(ctx, spec)
    cfg = load_config(ctx.params, ov)
    run_dir = ctx.root / spec.run_id
    check_run_identity(run_dir, {"run_id": spec.run_id, "fingerprint": run_fingerprint(cfg), "overrides": ov})
    flows = {"subsample": subsample_flow, "train": train_flow, "evaluate": evaluate_flow,
             "pseudo_label": pseudo_label_flow, "pseudo_quality": pseudo_quality_flow}
    ran = 0
    for name, kind, k in stages:
        if kind == "summary":
            fn: Callable[[], Any] = lambda: log_run_summary(cfg, spec, run_dir)  # noqa: E731
        elif kind == "subsample":
            fn = _stage_call(name, subsample_flow, cfg.orchestration, params=ctx.params, overrides=ov)
        else:
            fn = _stage_call(name, flows[kind], cfg.orchestration, round_idx=k, params=ctx.params, overrides=ov)
        ran += run_stage(run_dir, name, fn)[1]
    return ran


def _link_round0(ctx: StudyContext, spec: RunSpec) -> None:
    """``<run>/round_0`` -> ``../<base>/round_0`` (relative symlink): the ablation's shared round 0."""
    link = ArtifactLayout(ctx.root / spec.run_id).round(0).root
    target = Path("..") / str(spec.base) / link.name
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    if link.exists() or link.is_symlink():
        raise FileExistsError(f"{link} exists and is not the link to {target}; delete {link.parent} to redo the run")
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".round_0.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target, target_is_directory=True)
    os.replace(tmp, link)


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """``"i/N"`` -> (i, N) with 0 <= i < N; None stays None."""
    if shard is None:
        return None
    try:
        i, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 0/2), got {shard!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard {shard}: need 0 <= I < N")
    return i, n


@flow(name="study", validate_parameters=False)
def study_flow(params: str = "params.yaml", overrides: list[str] | None = None, only: str | None = None,
               out: str | None = None, shard: str | None = None, mode: str = "all") -> dict[str, Any]:
    """Run (or resume) the study's runs matching ``only`` (regex on run ids; all when None), then write
    the tables and the plot over every run of the plan. Returns {"ran": {run_id: stages run}, "paths": ...}.

    ``shard="i/N"``: only worker i's share of the selected runs (:func:`leod_core.study.shard_runs`), for
    N worker processes. ``mode``: ``all``; ``data`` (only prepare the shared dataset); ``tables`` (only
    write the tables from what has finished).
    """
    if mode not in ("all", "data", "tables"):
        raise ValueError(f"study mode must be all, data or tables, got {mode!r}")
    ctx = study_context(params, overrides, out)
    plan = plan_study(ctx.cfg)
    todo = select_runs(plan, only)
    part = parse_shard(shard)
    if part is not None:
        st = ctx.cfg.study
        todo = shard_runs(todo, part[1], st.steps, st.steps_self_train)[part[0]]
    by_id = {r.run_id: r for r in plan}
    ran: dict[str, int] = {}
    title = f"{ctx.experiment}: {ctx.cfg.model.preset}, {ctx.cfg.study.steps}+{ctx.cfg.study.steps_self_train} steps"
    if mode != "tables":
        _prepare_dataset(ctx, overrides)
    if mode == "data":
        return {"ran": ran, "paths": {}}
    try:
        for i, spec in enumerate(todo if mode == "all" else [], 1):
            log.info("study run %d/%d: %s", i, len(todo), spec.run_id)
            n = 0
            if spec.base is not None:  # the shared round 0 first, in the base run's folder
                base = by_id[spec.base]
                n += _execute(ctx, base, [s for s in run_stages(base) if s[2] == 0 and s[1] != "summary"])
                _link_round0(ctx, spec)
            n += _execute(ctx, spec, run_stages(spec))
            ran[spec.run_id] = n
    finally:  # tables of whatever has finished, also when a run fails
        paths = write_study_outputs(ctx.root, plan, ctx.cfg.study.rounds, ctx.cfg.study.ablation_rounds, title)
    return {"ran": ran, "paths": {k: str(v) for k, v in paths.items()}}
