"""``make smoke``: the real pipeline (``dvc repro``, every stage, 2 rounds) on the ``micro`` config in a
temporary copy of the repository; exits non-zero if a stage fails, an output is missing or insane, or the
detectors detect nothing (round AP 0, no pseudo boxes from the model).

The copy is a fresh git repo of the tracked + untracked-but-not-ignored files, with ``params.yaml``
overridden by :data:`MICRO_DETECT_OVERRIDES`; stages run the copy's code (``PYTHONPATH``) with the current
venv's tools. One Prefect server serves all stages (flows.server).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MICRO_OVERRIDES", "MICRO_DETECT_OVERRIDES", "make_repo_copy", "apply_overrides", "repro", "check_outputs", "main"]

log = logging.getLogger(__name__)

#: the plumbing configuration: a 5-sequence synthetic dataset, 12 training steps, one self-training round.
#: Its detectors detect nothing (scores stay under the thresholds); the fault tests use it for speed, as
#: they check that stages run, resume and fail cleanly, not what the detector finds.
MICRO_OVERRIDES = [
    "rounds=1", "synth.preset=micro", "model.preset=nano",
    "train.steps=12", "train.steps_self_train=12", "train.ckpt_every=6", "train.threads=1",
    "data.batch_size=2", "data.sequence_length=5", "eval.num_vis_frames=1", "eval.batch_size=4",
    "pseudo.batch_size=4", "orchestration.task_runner=thread", "orchestration.max_workers=2",
]

#: the micro pipeline of ``make smoke``, ``make verify`` and the end-to-end test: the same dataset trained
#: long enough to detect (round 0 test AP 0.14 on seed 0, ~210 pseudo boxes from the model), with two
#: self-training rounds so that round k >= 2's wiring runs. WSOD 20 % (every 5th label frame, 10 per
#: sequence) instead of 5 %: with 3 labelled frames per sequence 250 steps learn nothing on some seeds.
MICRO_DETECT_OVERRIDES = MICRO_OVERRIDES + [
    "rounds=2", "subsample.ratio=0.2", "train.steps=250", "train.steps_self_train=200", "train.ckpt_every=125",
]


def make_repo_copy(src: Path, dst: Path) -> Path:
    """Copy the files git would commit (tracked + untracked not ignored) into ``dst``; git init + commit."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=src, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        s = src / rel
        if s.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, dst / rel)
    git = ["git", "-c", "user.name=leod", "-c", "user.email=leod@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dst, check=True)
    subprocess.run(git + ["commit", "-qm", "copy"], cwd=dst, check=True)
    return dst


def apply_overrides(repo: Path, overrides: list[str]) -> None:
    """Merge ``key=value`` overrides into ``repo/params.yaml`` (validated) and regenerate rounds.yaml."""
    from omegaconf import OmegaConf

    from flows.dvc_rounds import sync_rounds_file
    from flows.settings import load_config

    params = repo / "params.yaml"
    load_config(params, overrides)  # fail early, one line, on a bad override
    merged = OmegaConf.merge(OmegaConf.load(params), OmegaConf.from_dotlist(overrides))
    params.write_text(OmegaConf.to_yaml(merged))
    sync_rounds_file(params, None, repo / "rounds.yaml")


def stage_env(repo: Path) -> dict[str, str]:
    """Environment for DVC in ``repo``: this venv's tools on PATH, the copy's code first on PYTHONPATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(repo)
    env.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{repo / 'mlflow.db'}")
    env["PREFECT_HOME"] = str(repo / ".prefect")
    return env


@dataclass
class ReproResult:
    returncode: int
    seconds: float
    ran: list[str] = field(default_factory=list)  # stages DVC ran, in order
    output: str = ""


def repro(repo: Path, env: dict[str, str], *args: str, timeout_s: float = 1800) -> ReproResult:
    """``dvc repro [args]`` in ``repo``; parses which stages ran."""
    t0 = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "dvc"), "repro", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=timeout_s)
    out = proc.stdout + proc.stderr
    ran = [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")]
    return ReproResult(proc.returncode, time.perf_counter() - t0, ran, out)


def check_outputs(repo: Path, rounds: int = 1, detects: bool = False) -> list[str]:
    """Problems with the pipeline's outputs (empty list = all good).

    With ``detects`` (the :data:`MICRO_DETECT_OVERRIDES` pipeline) the detectors must have found something:
    every round's test AP > 0, no two rounds with the same AP, every self-training round's label table
    holding boxes made by the model (source ``pseudo``) beside the GT, and the pseudo-label quality
    numbers finite. Without it, only sanity (files present, AP in [0, 1]).
    """
    import math

    from leod_core.cameras import IGNORE_CLASS_ID
    from leod_core.labels.table import read_labels
    from leod_core.round_layout import ArtifactLayout

    problems: list[str] = []
    layout = ArtifactLayout(repo / "artifacts")
    aps: dict[int, float] = {}
    for k in range(rounds + 1):
        r = layout.round(k)
        m = r.metrics()
        if not m.is_file():
            problems.append(f"missing {m}")
            continue
        ap = json.loads(m.read_text()).get("AP")
        if not isinstance(ap, (int, float)) or not 0.0 <= ap <= 1.0:
            problems.append(f"{m}: AP={ap!r} not in [0, 1]")
        elif detects and ap <= 0.0:
            problems.append(f"{m}: AP={ap!r}: round {k}'s detector found nothing")
        else:
            aps[k] = float(ap)
        for path in (r.weights, r.loss_curve, r.pr_table()):
            if not path.is_file():
                problems.append(f"missing {path}")
    if detects and len(set(aps.values())) < len(aps):
        problems.append(f"rounds with identical test AP {aps}: a round's outputs do not depend on its model")
    for k in range(1, rounds + 1):
        r = layout.round(k)
        q = r.quality
        if not q.is_file():
            problems.append(f"missing {q}")
            continue
        overall = json.loads(q.read_text())["overall"]
        for key in ("precision@0.5", "recall@0.5"):
            v = overall.get(key)
            if detects and not (isinstance(v, (int, float)) and math.isfinite(v)):
                problems.append(f"{q}: {key}={v!r} is not a number (no pseudo boxes on withheld frames?)")
            elif v is not None and v == v and not 0.0 <= v <= 1.0:
                problems.append(f"{q}: {key}={v!r} not in [0, 1]")
        if detects:
            labels = r.labels
            if not labels.is_file():
                problems.append(f"missing {labels}")
                continue
            table = read_labels(labels)
            # a pseudo box of the ignore class is one the tracker or the thresholds rejected: it teaches nothing
            kept = table[(table["source"] != "pseudo") | (table["class_id"] != IGNORE_CLASS_ID)]
            sources = kept["source"].value_counts().to_dict()
            if sources.get("pseudo", 0) == 0 or sources.get("gt", 0) == 0:
                problems.append(f"{labels}: boxes by source {sources} (ignore-class boxes left out): round {k} "
                                "needs GT and the model's pseudo boxes")
    for path in (layout.report_table, layout.report_plot):
        if not path.is_file():
            problems.append(f"missing {path}")
    return problems


def main(argv: list[str] | None = None) -> int:
    from flows.server import prefect_server

    parser = argparse.ArgumentParser(prog="python -m flows.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("-S", "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="extra overrides on top of the micro config")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    src = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="leod-smoke-"))
    try:
        repo = make_repo_copy(src, tmp / "repo")
        apply_overrides(repo, MICRO_DETECT_OVERRIDES + args.overrides)
        env = stage_env(repo)
        os.environ["PREFECT_HOME"] = env["PREFECT_HOME"]
        with prefect_server(int(os.environ.get("LEOD_PREFECT_PORT", "4200"))) as url:
            env["PREFECT_API_URL"] = url
            first = repro(repo, env)
            print(first.output[-6000:])
            if first.returncode != 0:
                print(f"smoke: dvc repro failed (exit {first.returncode})", file=sys.stderr)
                return 1
            second = repro(repo, env)
        from flows.settings import load_config

        problems = check_outputs(repo, load_config(repo / "params.yaml").rounds, detects=True)
        if second.ran:
            problems.append(f"second dvc repro ran stages {second.ran} (expected none)")
        for p in problems:
            print(f"smoke: {p}", file=sys.stderr)
        print(f"smoke: {len(first.ran)} stages in {first.seconds:.1f} s; no-op dvc repro {second.seconds:.1f} s; "
              f"{'OK' if not problems else 'FAILED'}")
        return 1 if problems else 0
    finally:
        if args.keep:
            print(f"smoke: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
