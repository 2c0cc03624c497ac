"""Run every benchmark of ``bench/`` once with small, quick arguments and print their outputs.

Usage: .venv/bin/python bench/run_all.py [--only NAME ...] [--list]      (``make bench``)

Each script runs in its own process from the repository root, one after another (the numbers of one
must not be disturbed by another), with arguments chosen so the whole set stays within a few minutes on
a 2-core CPU. Run a script alone with its defaults for the full-size measurement (see its docstring).
Exit status: 0 if every script succeeded, else 1 (the failed ones are listed at the end).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (name, script, quick arguments); order: cheapest and most independent first
BENCHES: list[tuple[str, str, list[str]]] = [
    ("synth", "bench_synth.py", ["--preset", "micro", "--workers", "1"]),
    ("events", "bench_events.py", ["--seconds", "2", "--import-events", "3000000", "--repeats", "1"]),
    ("decode", "bench_decode.py", ["--events", "2000000", "--seconds", "20", "--decoders", "leod (faery)"]),
    ("eval", "bench_eval.py", ["--boxes", "20000"]),
    ("loader", "bench_loader.py", ["--fake", "synth", "--camera", "synth", "--fake-seqs", "4",
                                   "--fake-reprs", "100", "--batches", "10"]),
    ("model", "bench_model.py", ["--presets", "tiny", "small", "--frames", "5", "--train-steps", "2"]),
    ("train", "bench_train.py", ["--L", "5", "--steps", "3", "--warmup", "1", "--threads", "1"]),
    ("pseudo", "bench_pseudo.py", ["--objects", "10", "--seconds", "20", "--reprs", "30"]),
    ("predict", "bench_predict.py", ["--seconds", "2", "--presets", "nano", "--train-steps", "3", "--repeats", "1"]),
]


def run_one(script: str, args: list[str]) -> tuple[int, float]:
    """Run ``bench/<script> args`` with this interpreter, output passed through; returns (rc, seconds)."""
    cmd = [sys.executable, str(ROOT / "bench" / script), *args]
    print(f"\n=== {' '.join(['bench/' + script, *args])}", flush=True)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    return rc, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    names = [n for n, _, _ in BENCHES]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=names, default=names, metavar="NAME",
                        help=f"run only these ({', '.join(names)})")
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    args = parser.parse_args(argv)
    selected = [b for b in BENCHES if b[0] in args.only]
    if args.list:
        for _, script, quick in selected:
            print(" ".join([sys.executable, f"bench/{script}", *quick]))
        return 0
    results: list[tuple[str, int, float]] = []
    for name, script, quick in selected:
        rc, seconds = run_one(script, quick)
        results.append((name, rc, seconds))
    print("\n=== summary")
    for name, rc, seconds in results:
        print(f"{name:8s} {'ok' if rc == 0 else f'FAILED (exit {rc})':16s} {seconds:7.1f} s")
    print(f"total    {sum(s for _, _, s in results):24.1f} s")
    failed = [name for name, rc, _ in results if rc != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
