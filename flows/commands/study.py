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

from flows.cli import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="list the runs and project the remaining time")
    parser.add_argument("--only", default=None, metavar="REGEX",
                        help="run only the runs whose id matches (e.g. 'wsod-0.01' or 's0$')")
    parser.add_argument("--out", default=None, help="study folder (default: <paths.artifacts>/study)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the runs (balanced; one torch thread each unless "
                             "train.threads is set); logs in <study>/logs/")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="run only worker I's share of N (--workers uses it)")


def _hms(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def dry_run(args: argparse.Namespace) -> int:
    """Print the run list (stages done / total) and the projected time of what is left."""
    from flows.study import pending_stages, project_seconds, run_stages, study_context
    from leod_core.study import plan_study, select_runs

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
        from leod_core.study import shard_runs

        shares = shard_runs(runs, args.workers, st.steps, st.steps_self_train)
        longest = max(project_seconds(ctx, pending_stages(ctx, share))[0] for share in shares if share)
        print(f"with --workers {args.workers} (one core each): about {_hms(longest)} (the longest share)")
    return 0


def _worker_argv(args: argparse.Namespace, i: int, n: int) -> list[str]:
    """``leod study`` arguments of worker ``i`` of ``n``."""
    argv = ["study", "--shard", f"{i}/{n}", "--params", args.params]
    overrides = list(args.overrides)
    if not any(o.startswith("train.threads=") for o in overrides):
        overrides.append("train.threads=1")  # N processes on N cores: no intra-op threads fighting
    for o in overrides:
        argv += ["-S", o]
    if args.only:
        argv += ["--only", args.only]
    if args.out:
        argv += ["--out", args.out]
    return argv


def run_workers(args: argparse.Namespace, cfg) -> int:
    """The shared dataset first, then ``--workers`` processes over balanced shares of the runs, all
    reporting to one local Prefect server; then the tables."""
    import subprocess
    import sys

    from flows.runtime import run_flow
    from flows.server import prefect_server
    from flows.study import study_context

    ctx = study_context(args.params, args.overrides, args.out)
    logs = ctx.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with prefect_server(cfg.orchestration.prefect_port):
        from flows.study import study_flow  # Prefect reads PREFECT_API_URL at import

        common = dict(params=args.params, overrides=args.overrides, only=args.only, out=args.out)
        run_flow(study_flow, cfg.orchestration, mode="data", **common)
        procs = []
        for i in range(args.workers):
            log_path = logs / f"worker_{i}.log"
            with open(log_path, "w") as fh:
                procs.append((i, log_path, subprocess.Popen([sys.executable, "-m", "flows.cli",
                                                             *_worker_argv(args, i, args.workers)],
                                                            stdout=fh, stderr=subprocess.STDOUT)))
            print(f"study worker {i}: pid {procs[-1][2].pid}, log {log_path}")
        failed = []
        try:
            for i, log_path, proc in procs:
                if proc.wait() != 0:
                    failed.append(f"worker {i} (exit {proc.returncode}, see {log_path})")
        except KeyboardInterrupt:  # stop our own workers; their finished stages stay done
            for _, _, proc in procs:
                proc.terminate()
            raise
        out = run_flow(study_flow, cfg.orchestration, mode="tables", **common)
    if failed:
        print("study: failed: " + "; ".join(failed), file=sys.stderr)
        return 1
    print(f"study: {args.workers} workers done")
    for name in ("results", "ablations", "runs", "plot"):
        print(f"  {name:10s} {out['paths'][name]}")
    return 0


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment, run_flow
    from flows.study import parse_shard
    from leod_core.config import load_config
    from leod_core.study import plan_study, select_runs

    cfg = load_config(args.params, args.overrides)
    select_runs(plan_study(cfg), args.only)  # a bad --only fails here, in one line
    parse_shard(args.shard)
    if args.workers < 1 or (args.workers > 1 and args.shard):
        raise ValueError("--workers must be >= 1, and --shard is for one worker (do not combine them)")
    if args.dry_run:
        return dry_run(args)
    prepare_environment()
    if args.workers > 1:
        return run_workers(args, cfg)
    from flows.study import study_flow

    out = run_flow(study_flow, cfg.orchestration, params=args.params, overrides=args.overrides, only=args.only,
                   out=args.out, shard=args.shard)
    ran = sum(out["ran"].values())
    print(f"study: {len(out['ran'])} runs, {ran} stages run (the others were done)")
    for name in ("results", "ablations", "runs", "plot"):
        print(f"  {name:10s} {out['paths'][name]}")
    return 0
