"""Flow of ``leod study``: the label-ratio x seed study and the ablations (see leod_core/study.py).

Every run is one Prefect task (``study-run``) of this flow, submitted to its task runner: one thread
(``--workers 1``), a process pool (``--workers N``), or a Dask cluster (``orchestration.task_runner=dask``;
with ``orchestration.dask_address``, across machines). Inside, a run executes the stage flows of the main
pipeline (subsample, train, evaluate, pseudo-label, pseudo-quality) as subflows, with its own
``key=value`` overrides, in ``<study>/<run_id>/``; each stage is a task cached by Prefect under the
run's parameters (``tasks/study.py``), so the study resumes where it stopped. All runs share one dataset
(the ``study.synth_preset`` synthetic dataset under ``<study>/data``, or ``study.dataset``). An ablation
waits for the task that makes its base run's round 0. At the end: ``runs.csv``, ``results.csv``,
``gains.csv``, ``ablations.csv``, ``results.png``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.import_data import import_flow
from flows.mlflow_log import prepare_store
from flows.runtime import ONE_LINE_ERRORS, StepFailed, make_task_runner, run_flow, run_flow_on
from flows.settings import OrchestrationConfig, load_config
from flows.stages import round_stages, stage_fingerprints, stage_flow
from flows.study_cache import log_run_summary, run_stage, stage_done, stage_records, write_study_outputs
from flows.study_plan import parallel_seconds, plan_study, select_runs, stage_key
from flows.synth import synth_flow
from leod_core.config import LeodConfig, config_to_dict
from leod_core.round_layout import ArtifactLayout
from leod_core.study import RunSpec

__all__ = ["study_flow", "run_study", "study_task_runner", "StudyContext", "study_context", "run_overrides",
           "run_stages", "run_stage_keys", "pending_stages", "project_seconds", "DEFAULT_STAGE_SECONDS"]


log = logging.getLogger(__name__)

#: fallback time model of the projection, before any stage of the study has finished: seconds per
#: training step (round 0 / self-training, nano, batch 8, L 5, one torch thread) and per stage (small
#: preset): the means over the 290 stages of the default `make study` (2 workers on the 2 shared cores)
DEFAULT_STAGE_SECONDS: dict[str, float] = {
    "train_step@0": 0.89, "train_step@k": 0.9, "subsample": 1.6, "evaluate": 7.4, "pseudo_label": 35.0,
    "pseudo_quality": 1.6, "summary": 0.1, "synth": 18.0, "import": 5.0,
}
#: a stage kind the table above does not know yet (a new stage), until the study has measured it
_UNKNOWN_STAGE_SECONDS = 10.0
#: the shared dataset's stages, run by the flow before the runs
_DATA_STAGES = ("synth", "import")


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
    # the study measures LEOD's protocol: no person's labels (a path that never exists reads as an empty
    # table) unless an override names a table
    common = [f"paths.human_labels={root / 'no_human_labels.parquet'}",
              *(overrides or []), f"paths.dataset={dataset}", f"mlflow.experiment={experiment}",
              f"train.steps={st.steps}", f"train.steps_self_train={st.steps_self_train}",
              "full_labels.steps=0", *st.overrides]  # study.steps for the full-label runs too
    if synthetic:
        common.append("dataset.camera=synth")
    return StudyContext(cfg, params, root, dataset, synthetic, experiment, tuple(common))


def run_overrides(ctx: StudyContext, spec: RunSpec) -> list[str]:
    """The full override list of one run (later keys win)."""
    return [*ctx.common, f"paths.artifacts={ctx.root / spec.run_id}", f"rounds={spec.rounds}", *spec.overrides]


#: the stages of round 0 an ablation shares with its base run (a link to the base's round_0)
_SHARED_ROUND0 = ("subsample", "train@0", "evaluate@0")


def run_stage_keys(ctx: StudyContext, spec: RunSpec) -> dict[str, str]:
    """The cache key of every stage of a run (:func:`run_stages` names): its fingerprint in the run's DAG
    (flows.stages.stage_fingerprints: the stage's declared params and paths, and what it reads), with the
    shared dataset's stages keyed as the study makes them and an ablation's round 0 as its base's."""
    fixed = {s: _data_key(ctx, s) for s in _DATA_STAGES}
    if spec.base is not None:
        base = next(r for r in plan_study(ctx.cfg) if r.run_id == spec.base)
        base_fps = stage_fingerprints(load_config(ctx.params, run_overrides(ctx, base)), base.rounds, fixed)
        fixed |= {name: base_fps[name] for name in _SHARED_ROUND0}
    fps = stage_fingerprints(load_config(ctx.params, run_overrides(ctx, spec)), spec.rounds, fixed)
    keys = {}
    for name, kind, _ in run_stages(spec):
        if kind == "summary":  # it reads every round of the run
            mine = sorted(fps[n] for n, kd, _ in run_stages(spec) if kd != "summary")
            keys[name] = stage_key(hashlib.sha256(json.dumps(mine).encode()).hexdigest()[:16], name)
        else:
            keys[name] = stage_key(fps[name], name)
    return keys


def _data_key(ctx: StudyContext, stage: str) -> str:
    """Cache key of the shared dataset's ``synth`` / ``import``: the synth settings, preset and folder."""
    d = {"synth": config_to_dict(ctx.cfg)["synth"], "preset": ctx.cfg.study.synth_preset, "dataset": str(ctx.dataset)}
    return stage_key(hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16], stage)


# (stage name, what it is for the projection, round) per run; ablation runs start at round 1 (round 0 shared)
def run_stages(spec: RunSpec) -> list[tuple[str, str, int]]:
    """Stage names of a run in order (``train@0``, ``evaluate@0``, ``pseudo_label@1``, ...), with the
    projection kind and round of each."""
    first = 0 if spec.base is None else 1
    stages = [(s.name, s.kind, k) for k in range(first, spec.rounds + 1) for s in round_stages(k)]
    # named by the round count: a study extended to more rounds logs a new summary of the run
    return stages + [(f"summary@{spec.rounds}", "summary", spec.rounds)]


def _round0(spec: RunSpec) -> list[tuple[str, str, int]]:
    return [s for s in run_stages(spec) if s[2] == 0 and s[1] != "summary"]


def _units(plan: list[RunSpec], todo: list[RunSpec]) -> list[tuple[RunSpec, list[tuple[str, str, int]]]]:
    """(run, its stages) in submission order: the round 0 of an ablation's base that is not selected
    itself first (once per base), then every selected run in plan order."""
    by_id = {r.run_id: r for r in plan}
    picked = {r.run_id for r in todo}
    bases = dict.fromkeys(r.base for r in todo if r.base and r.base not in picked)
    return [(by_id[b], _round0(by_id[b])) for b in bases] + [(r, run_stages(r)) for r in todo]


def pending_stages(ctx: StudyContext, runs: list[RunSpec]) -> list[tuple[RunSpec, str, str, int]]:
    """Stages whose result the study does not hold yet, in submission order; an ablation's shared round
    0 counts under its base run."""
    out: list[tuple[RunSpec, str, str, int]] = []
    for owner, stages in _units(plan_study(ctx.cfg), runs):
        keys = run_stage_keys(ctx, owner)
        out += [(owner, name, kind, k) for name, kind, k in stages if not stage_done(ctx.root, keys[name])]
    return out


def _stage_rates(ctx: StudyContext) -> tuple[dict[str, float], int]:
    """The time model (measured means from the study's persisted stage results where there are some, else
    the defaults) and how many results it rests on."""
    sums: dict[str, list[float]] = {}
    records = stage_records(ctx.root)
    for m in records:  # runs and data (synth, import)
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
    return rates, len(records)


def project_seconds(ctx: StudyContext, pending: list[tuple[RunSpec, str, str, int]],
                    workers: int = 1) -> tuple[float, int]:
    """(projected wall seconds of the pending stages on ``workers`` workers taking runs in order, how many
    finished stages the time model rests on). The shared dataset comes first, on one worker."""
    rates, measured = _stage_rates(ctx)
    per_run: dict[str, float] = {}
    for spec, _, kind, k in pending:
        if kind == "train":
            steps = ctx.cfg.study.steps if k == 0 else ctx.cfg.study.steps_self_train
            s = steps * rates["train_step@0" if k == 0 else "train_step@k"]
        else:
            s = rates.get(kind, _UNKNOWN_STAGE_SECONDS)
        per_run[spec.run_id] = per_run.get(spec.run_id, 0.0) + s
    data = sum(rates[s] for s in _DATA_STAGES if ctx.synthetic and not stage_done(ctx.root, _data_key(ctx, s)))
    return data + parallel_seconds(list(per_run.values()), workers), measured


def _prepare_dataset(ctx: StudyContext, overrides: list[str] | None) -> None:
    """The shared dataset: synthesise + import once (cached stages), or check the given one."""
    if not ctx.synthetic:
        if not (ctx.dataset / "train").is_dir() or not (ctx.dataset / ctx.cfg.eval.split).is_dir():
            raise FileNotFoundError(f"study.dataset {ctx.dataset} has no train/ and {ctx.cfg.eval.split}/ split")
        return
    st, cfg = ctx.cfg.study, ctx.cfg
    ov = [*(overrides or []), f"mlflow.experiment={ctx.experiment}"]
    raw = ctx.root / "data" / "raw"
    calls = {"synth": _stage_call(synth_flow, cfg.orchestration, dst=str(raw), preset=st.synth_preset,
                                  seed=cfg.synth.seed, params=ctx.params, overrides=ov),
             "import": _stage_call(import_flow, cfg.orchestration, src=str(raw), dst=str(ctx.dataset),
                                   camera="synth", params=ctx.params, overrides=ov)}
    for stage in _DATA_STAGES:
        run_stage(ctx.root, f"data/{stage}", stage, _data_key(ctx, stage), calls[stage])


def _stage_call(flow_obj: Any, orch: Any, **kw: Any) -> Callable[[], Any]:
    return lambda: run_flow(flow_obj, orch, **kw)


def _execute(ctx: StudyContext, spec: RunSpec, stages: list[tuple[str, str, int]]) -> int:
    """Run the stages of ``spec`` in its folder (those the study holds a result of are skipped); returns
    how many ran."""
    ov = run_overrides(ctx, spec)
    cfg = load_config(ctx.params, ov)
    keys = run_stage_keys(ctx, spec)
    run_dir = ctx.root / spec.run_id
    ran = 0
    for name, kind, k in stages:
        if kind == "summary":
            fn: Callable[[], Any] = lambda: log_run_summary(cfg, spec, run_dir)  # noqa: E731
        else:  # the stage's own flow (its spec in flows/stages.py), given the round when it takes one
            flow_obj, by_round = stage_flow(kind, k)
            fn = _stage_call(flow_obj, cfg.orchestration, params=ctx.params, overrides=ov, **by_round)
        ran += run_stage(ctx.root, f"{spec.run_id}/{name}", name, keys[name], fn)[1]
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


@task(name="study-run", cache_policy=NO_CACHE)
def study_run(ctx: StudyContext, spec: RunSpec, stages: list[tuple[str, str, int]]) -> int:
    """One run's ``stages`` (an ablation's after linking its base's round 0); returns how many ran."""
    if spec.base is not None and stages and stages[0][2] > 0:
        _link_round0(ctx, spec)
    return _execute(ctx, spec, stages)


def study_task_runner(orch: OrchestrationConfig, workers: int) -> Any:
    """The runner the study's runs are submitted to: Dask (``orchestration.task_runner=dask``: its address,
    or a local cluster of ``workers`` processes), else one thread, or a pool of ``workers`` processes (a
    run holds the process's torch state: never two in one process)."""
    import dataclasses

    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    if orch.task_runner == "dask":
        return make_task_runner(dataclasses.replace(orch, max_workers=workers))
    return ThreadPoolTaskRunner(max_workers=1) if workers == 1 else ProcessPoolTaskRunner(max_workers=workers)


def _test_truth(ctx: StudyContext) -> Any:
    """The evaluated split's ground truth of the study's dataset (None before it exists): what gains.csv's
    bootstrap over test sequences resamples."""
    from leod_core.cameras import get_camera
    from leod_core.eval.bootstrap import SplitTruth
    from leod_core.eval.detections import split_ground_truth
    from leod_core.layout import labels_full_path

    split = ctx.cfg.eval.split
    if not labels_full_path(ctx.dataset, split).is_file():
        return None
    camera = get_camera("synth") if ctx.synthetic else ctx.cfg.camera
    return SplitTruth(split_ground_truth(ctx.dataset, split, camera)[0], camera)


@flow(name="study", validate_parameters=False)
def study_flow(params: str = "params.yaml", overrides: list[str] | None = None, only: str | None = None,
               out: str | None = None) -> dict[str, Any]:
    """Run (or resume) the study's runs matching ``only`` (regex on run ids; all when None) as tasks of
    this flow's task runner, then write the tables and the plot over every run of the plan. Returns
    {"ran": {run_id: stages run}, "paths": ...}; a failed run fails the flow after the tables."""
    ctx = study_context(params, overrides, out)
    plan = plan_study(ctx.cfg)
    todo = select_runs(plan, only)
    title = f"{ctx.experiment}: {ctx.cfg.model.preset}, {ctx.cfg.study.steps}+{ctx.cfg.study.steps_self_train} steps"
    ran: dict[str, int] = {}
    failed: dict[str, BaseException] = {}
    not_started: list[str] = []  # runs whose base failed (the engine does not start them)
    try:
        prepare_store(ctx.cfg)  # before the workers: a resumed study may start none of its own stages here
        _prepare_dataset(ctx, overrides)
        futures: dict[str, Any] = {}  # run id -> the future that made (or makes) its round 0
        submitted = []
        for spec, stages in _units(plan, todo):
            wait = [futures[spec.base]] if spec.base is not None and spec.base in futures else None
            fut = study_run.with_options(task_run_name=f"study-run[{spec.run_id}]").submit(ctx, spec, stages,
                                                                                          wait_for=wait)
            futures.setdefault(spec.run_id, fut)
            submitted.append((spec, fut))
        for spec, fut in submitted:
            if spec.base in failed:
                fut.wait()
                not_started.append(spec.run_id)
                continue
            try:
                n = fut.result()
            except Exception as exc:  # the other runs go on; every failure is reported below
                failed[spec.run_id] = exc
                continue
            if spec in todo:
                ran[spec.run_id] = n
    finally:  # tables of whatever has finished, also when a run fails
        paths = write_study_outputs(ctx.root, plan, ctx.cfg.study.rounds, ctx.cfg.study.ablation_rounds, title,
                                    truth=_test_truth(ctx))
    if failed:
        why = "; ".join(f"{rid} ({type(e).__name__}: {e})" for rid, e in failed.items())
        rest = f"; not started (base run failed): {', '.join(not_started)}" if not_started else ""
        raise StepFailed(f"study: {len(failed)}/{len(todo)} run(s) failed: {why}{rest}",
                         bad_input=all(isinstance(e, ONE_LINE_ERRORS) for e in failed.values())) \
            from next(iter(failed.values()))
    return {"ran": ran, "paths": {k: str(v) for k, v in paths.items()}}


def run_study(params: str, overrides: list[str] | None = None, only: str | None = None, out: str | None = None,
              workers: int = 1) -> dict[str, Any]:
    """:func:`study_flow` on :func:`study_task_runner`. Every run trains on one torch thread unless
    ``train.threads`` is given, whatever ``workers`` is: the thread count changes the floats (by up to
    1.5 AP after 1 000 steps), so a study's numbers must not depend on how many runs went at once."""
    overrides = list(overrides or [])
    if not any(o.startswith("train.threads=") for o in overrides):
        overrides.append("train.threads=1")
    orch = load_config(params, overrides).orchestration
    if orch.task_runner == "dask":  # a run's own stages on its worker's threads, not back onto the cluster
        overrides.append("orchestration.task_runner=thread")
    return run_flow_on(study_flow, study_task_runner(orch, workers), orch, params=params, overrides=overrides,
                       only=only, out=out)
