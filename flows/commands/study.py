"""``leod study``: the label-ratio x seed study and the ablations as one resumable Prefect flow.

Runs WSOD/SSOD at ``study.wsod_ratios`` / ``study.ssod_ratios`` x ``study.seeds`` (round 0, then
``study.rounds`` self-training rounds), a full-label run per seed and the ``study.ablations`` on a
smaller dataset (``study.synth_preset``) with ``study.steps`` training steps; writes
``<artifacts>/study/{results.csv,runs.csv,ablations.csv,results.png}`` and logs every stage to MLflow.
Stopped and started again, it skips every finished stage. ``--dry-run`` lists the runs and projects
the remaining time.
"""

from __future__ import annotations

import argparse

from flows.cli_args import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="list the runs and project the remaining time")
    parser.add_argument("--only", default=None, metavar="REGEX",
                        help="run only the runs whose id matches (e.g. 'wsod-0.01' or 's0$')")
    parser.add_argument("--out", default=None, help="study folder (default: <paths.artifacts>/study)")
    parser.add_argument("--workers", type=int, default=1,
                        help="runs at once, as worker processes of the flow's task runner (one torch thread "
                             "each unless train.threads is set); orchestration.task_runner=dask with "
                             "orchestration.dask_address spreads them over machines")
    parser.add_argument("--shard", default=None, help=argparse.SUPPRESS)  # removed: one-line error below


def _hms(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def dry_run(args: argparse.Namespace) -> int:
    """Print the run list (stages done / total) and the projected time of what is left."""
    from flows.study import pending_stages, project_seconds, run_stages, study_context
    from flows.study_plan import plan_study, select_runs

    ctx = study_context(args.params, args.overrides, args.out)
    plan = plan_study(ctx.cfg)
    runs = select_runs(plan, args.only)
    pending = pending_stages(ctx, runs)
    left: dict[str, int] = {}
    for owner, *_ in pending:
        left[owner.run_id] = left.get(owner.run_id, 0) + 1
    st = ctx.cfg.study
    source = f"synth preset {st.synth_preset}" if ctx.synthetic else "given"
    print(f"study in {ctx.root}: dataset {ctx.dataset} ({source}), "
          f"model {ctx.cfg.model.preset}, {st.steps} + {st.steps_self_train} steps, MLflow experiment {ctx.experiment}")
    print(f"{'run':34s} {'kind':9s} {'rounds':>6s} {'stages left':>12s}")
    for r in runs:
        n = len(run_stages(r))
        print(f"{r.run_id:34s} {r.kind:9s} {r.rounds:6d} {left.get(r.run_id, 0):5d} / {n:<5d}")
    seconds, measured = project_seconds(ctx, pending)
    basis = f"{measured} finished stages of this study" if measured else "the built-in CPU time model"
    print(f"{len(runs)} runs ({len(plan)} in the plan), {len(pending)} stages left: projected {_hms(seconds)} "
          f"in one process (from {basis})")
    if args.workers > 1:
        print(f"with --workers {args.workers} (one core each): about "
              f"{_hms(project_seconds(ctx, pending, args.workers)[0])} (runs taken in order by the first free worker)")
    return 0


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment
    from flows.settings import load_config
    from flows.study_plan import plan_study, select_runs

    if args.shard is not None:
        raise ValueError("--shard was removed: the runs are tasks of one flow; --workers N runs N at once, and "
                         "orchestration.task_runner=dask with orchestration.dask_address spreads them over machines")
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    cfg = load_config(args.params, args.overrides)
    select_runs(plan_study(cfg), args.only)  # a bad --only fails here, in one line
    if args.dry_run:
        return dry_run(args)
    prepare_environment()
    from flows.study import run_study

    out = run_study(args.params, args.overrides, only=args.only, out=args.out, workers=args.workers)
    ran = sum(out["ran"].values())
    print(f"study: {len(out['ran'])} runs, {ran} stages run (the others were done)")
    for name in ("results", "ablations", "runs", "plot"):
        print(f"  {name:10s} {out['paths'][name]}")
    return 0
