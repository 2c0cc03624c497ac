"""``leod labelling-study``: does suggesting frames pay? Suggested vs LEOD's uniform frames at equal budget.

Per seed and budget ratio r (B = the frames LEOD's WSOD r keeps): the *uniform* arm trains round 0 on
LEOD's B frames and self-trains one round; the *suggest* arm trains round 0' on every other of them
(B // 2), lets ``leod suggest-frames`` with round 0' pick B - B // 2 more, "labels" them with their
withheld ground truth (a simulated labeller), then trains round 0 on exactly B frames and self-trains one
round. Writes <out>/runs.csv, results.csv (each arm's test AP, the paired difference suggest - uniform with
its 95 % t interval and a verdict) and paired.png; a second call resumes where the first stopped.
"""

from __future__ import annotations

import argparse

from flows.cli_args import add_params_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_params_arguments(parser)
    parser.add_argument("--out", default="artifacts/labelling_study",
                        help="study folder (default: artifacts/labelling_study)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="seeds: subsample.split_offset and train.seed of each pair of arms (default 0 1 2 3 4)")
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.05],
                        help="WSOD ratios whose kept frames set the budget (default 0.05; add 0.01)")
    parser.add_argument("--preset", default="small", help="synthetic dataset preset (default: small, as leod study)")
    parser.add_argument("--steps", type=int, default=150, help="training steps per round (default 150, as leod study)")


def run(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment, run_flow
    from flows.settings import load_config
    from leod_core.synth.presets import SYNTH_PRESETS

    if args.preset not in SYNTH_PRESETS:
        raise ValueError(f"--preset must be one of {sorted(SYNTH_PRESETS)}, got {args.preset!r}")
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    bad = [r for r in args.ratios if not 0 < r <= 0.5]
    if bad:
        raise ValueError(f"--ratios must lie in (0, 0.5] (WSOD ratios), got {bad[0]:g}")
    if any(s < 0 for s in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds must be distinct and >= 0, got {args.seeds}")
    cfg = load_config(args.params, args.overrides)
    prepare_environment()
    from flows.labelling_study import labelling_study_flow

    out = run_flow(labelling_study_flow, cfg.orchestration, params=args.params, overrides=args.overrides,
                   out=args.out, preset=args.preset, steps=args.steps, seeds=list(args.seeds),
                   ratios=list(dict.fromkeys(args.ratios)))
    print(f"labelling-study: {out['ran']} stages run (the others were done)")
    for name, path in out["paths"].items():
        print(f"  {name:8s} {path}")
    return 0
