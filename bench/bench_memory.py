"""Peak memory of the evaluator and the pseudo-labeller at 1x and Nx a dataset: bounded by a sequence,
not by the dataset.

Usage: .venv/bin/python bench/bench_memory.py --dataset data/dataset --ckpt artifacts/round_0/model/last.pt
           [--split test] [--scales 1 10] [--what evaluate pseudo-label] [-S key=value ...]
The Nx dataset is the split's sequences N times over (symlinked, nothing copied; for pseudo-labelling
they form the train split, with no ground truth kept). Each run is ``leod evaluate`` / ``leod
pseudo-label`` in a fresh process; printed: sequences, wall seconds, and the peak RSS of that process.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flows.server import prefect_server
from leod_core.cameras import CameraSpec
from flows.settings import load_config
from leod_core.labels.rvt_labels import build_labels_full
from leod_core.labels.table import empty_labels, write_labels

LEOD = str(Path(sys.executable).parent / "leod")
_SPLIT_FOR = {"evaluate": None, "pseudo-label": "train"}  # None: the measured split itself


def scaled_dataset(src: Path, split: str, scale: int, dst: Path, as_split: str, camera: CameraSpec) -> int:
    """``dst/as_split`` = every sequence of ``src/split`` ``scale`` times (symlinks); returns the count."""
    out = dst / as_split
    out.mkdir(parents=True)
    seqs = sorted(p for p in (src / split).iterdir() if p.is_dir())
    for i in range(scale):
        for seq in seqs:
            (out / f"{seq.name}_x{i}").symlink_to(seq.resolve(), target_is_directory=True)
    build_labels_full(dst, as_split, camera)  # the split's GT table, as the import writes it
    return len(seqs) * scale


def peak_rss_of(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall s, peak RSS MiB, exit code) of ``cmd`` run alone in a wrapper process."""
    probe = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss_kib, rc = proc.stdout.split()[-2:]
    if int(rc) != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return wall, int(rss_kib) / 1024, int(rc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("data/dataset"))
    parser.add_argument("--ckpt", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--what", nargs="+", default=["evaluate", "pseudo-label"], choices=list(_SPLIT_FOR))
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    src, ckpt = args.dataset.resolve(), args.ckpt.resolve()
    camera = load_config(None, args.overrides).camera
    with prefect_server(0):  # one server for every run: start-up is not what is measured
        _measure(args, src, ckpt, camera)
    return 0


def _measure(args: argparse.Namespace, src: Path, ckpt: Path, camera: CameraSpec) -> None:
    print(f"{'command':<14} {'scale':>5} {'sequences':>9} {'wall s':>8} {'peak RSS MiB':>13}")
    for what in args.what:
        for scale in args.scales:
            with tempfile.TemporaryDirectory(prefix="leod-mem-") as tmp:
                work = Path(tmp)
                as_split = _SPLIT_FOR[what] or args.split
                n = scaled_dataset(src, args.split, scale, work / "dataset", as_split, camera)
                over = [f"paths.artifacts={work / 'artifacts'}", *args.overrides]
                sets = [a for o in over for a in ("-S", o)]
                if what == "evaluate":
                    cmd = [LEOD, "evaluate", "--round", "0", "--split", as_split, "--ckpt", str(ckpt),
                           "--dataset", str(work / "dataset"), "--out", str(work / "eval"), *sets]
                else:
                    cfg = load_config(None, over)
                    write_labels(empty_labels(), Path(cfg.paths.artifacts) / "round_0" / "labels" / "labels.parquet")
                    cmd = [LEOD, "pseudo-label", "--round", "1", "--ckpt", str(ckpt), "--dataset",
                           str(work / "dataset"), "--out", str(work / "pseudo"), *sets]
                env_cwd = Path(os.getcwd())
                wall, rss, rc = peak_rss_of(cmd, env_cwd)
                status = "" if rc == 0 else f"  (exit {rc})"
                print(f"{what:<14} {scale:>5} {n:>9} {wall:>8.1f} {rss:>13.0f}{status}", flush=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    raise SystemExit(main())
