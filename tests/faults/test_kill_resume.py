"""kill -9 in the middle of each stage kind of the micro DAG (import, train, evaluate, pseudo-label),
then ``dvc repro``: it finishes, every output's hash equals the uninterrupted run's (the session's
``plumbing_run`` of the same config, so every output is compared on any CPU kind), DVC never cached a partial output, no temporary file is left, and a second
``dvc repro`` started while one runs is refused by DVC's lock without harming the first. The rerun of the
killed training resumed from its checkpoint's step k > 0 (equal hashes alone would not show it: a fresh
start ends with the same weights): its console says so, and its MLflow run logged steps k+1..N only."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from flows.settings import load_config
from flows.stages import stage_order
from flows.server import prefect_server
from flows.smoke import MICRO_OVERRIDES, apply_overrides, make_repo_copy, stage_env
from flows.verify import compare_hashes, output_hashes

REPO = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).parent / "dvc")

#: (command line of the stage's process, what must exist before the kill, longest delay after that in
#: s): training is stopped the moment its first resume checkpoint appears (no delay: its last 6 micro
#: steps and the publishing that deletes the checkpoint took under 0.3 s on a CI machine), so the rerun
#: has to resume from it; the others restart from scratch
TRAIN_CKPT = "artifacts/.work/round_0/model/.work/last_ckpt.pt"
TARGETS = [
    ("leod import-prophesee", None, 1.5),
    ("leod train --round 0", TRAIN_CKPT, 0.0),
    ("leod evaluate --round 0", None, 1.5),
    ("leod pseudo-label --round 1", None, 1.5),
]


def _processes_in(repo: Path) -> dict[int, str]:
    """{pid: command line} of the processes whose working directory is ``repo``."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if Path(os.readlink(d / "cwd")) != repo:
                continue
            out[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return out


#: the shells DVC runs a stage's command through (``$SHELL -c cmd``, ``/bin/sh`` when SHELL is unset, as
#: under CI): dash forks the command, so the shell's command line matches too and must not be the one killed
_SHELLS = {"sh", "dash", "bash", "zsh", "fish"}


def _is_stage_process(cmd: str, pattern: str) -> bool:
    """``cmd`` runs the stage command ``pattern`` itself: not DVC, not the shell around it (killing the
    shell would leave the command running on, orphaned, to publish its outputs)."""
    argv0 = Path(cmd.split()[0]).name if cmd.split() else ""
    return pattern in cmd and argv0 not in _SHELLS and "dvc" not in argv0


def _kill_first(repo: Path, targets: list[tuple[str, str | None, float]], rng: random.Random,
                stop: threading.Event, killed: list[str], ready_steps: dict[str, int | None]) -> None:
    """SIGKILL the first process of ``repo`` that runs one of ``targets`` (a command line, a file that
    must exist first, the longest delay), a random delay after it is seen; DVC decides the order of
    independent stages. The process is stopped (SIGSTOP) before the kill, so that the step of its
    ``ready`` checkpoint read then is the one the rerun finds (None: it had already deleted it)."""
    from leod_core.train.checkpoint import load_checkpoint

    while not stop.is_set():
        for pid, cmd in _processes_in(repo).items():
            for pattern, ready, max_delay in targets:
                if _is_stage_process(cmd, pattern) and (ready is None or (repo / ready).exists()):
                    time.sleep(rng.uniform(0.0, max_delay))
                    try:
                        os.kill(pid, signal.SIGSTOP)
                    except ProcessLookupError:  # it finished first: look for the next one
                        continue
                    if ready is not None:
                        ready_steps[pattern] = (int(load_checkpoint(repo / ready)["step"])
                                                if (repo / ready).is_file() else None)
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pattern)
                    return
        time.sleep(0.02)


def _repro(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([DVC, "repro"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def _cached_objects(repo: Path) -> set[str]:
    root = repo / ".dvc" / "cache" / "files" / "md5"
    return {p.parent.name + p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _referenced_objects(repo: Path) -> set[str]:
    """md5 of every cached out in dvc.lock, with the files of directory outs."""
    refs = set()
    root = repo / ".dvc" / "cache" / "files" / "md5"
    for md5s in output_hashes(repo).values():
        for md5 in md5s.values():
            refs.add(md5)
            if md5.endswith(".dir") and (root / md5[:2] / md5[2:]).is_file():
                refs |= {e["md5"] for e in json.loads((root / md5[:2] / md5[2:]).read_text())}
    return refs


def _temporaries(repo: Path) -> list[str]:
    return [str(p.relative_to(repo)) for top in ("data", "artifacts") for p in (repo / top).rglob("*")
            if ".tmp" in p.name and ".work" not in p.parts]


def _train_runs(uri: str, round_idx: int) -> list:
    """MLflow runs of ``leod train --round K`` (a killed one stays RUNNING)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              filter_string=f"tags.stage = 'train' and tags.round = '{round_idx}'")
    return [(r, [m.step for m in client.get_metric_history(r.info.run_id, "lr")]) for r in runs]


def _assert_resumed_at_checkpoint(repo: Path, uri: str, ckpt_step: int | None, outputs: list[str]) -> None:
    """The killed round-0 training was rerun from its checkpoint's step k > 0, not from 0: the rerun's
    console line says ``resumed at step k``, and its MLflow run (the one that finished) holds
    ``resumed_from`` = k and one logged step for each of k+1..N only."""
    total = load_config(repo / "params.yaml").train.steps
    assert ckpt_step is not None and 0 < ckpt_step <= total, ckpt_step
    done = [line for out in outputs for line in out.splitlines() if line.startswith("train round 0: ")]
    assert len(done) == 1, "\n".join(done) or "no finished `leod train --round 0` in the reruns' output"
    assert done[0].startswith(f"train round 0: {total} steps") and f"resumed at step {ckpt_step} " in done[0], done[0]
    runs = _train_runs(uri, 0)
    finished = [(r, steps) for r, steps in runs if r.info.status == "FINISHED"]
    assert len(finished) == 1 and len(runs) == 2, [(r.info.status, steps) for r, steps in runs]
    run, steps = finished[0]
    assert run.data.metrics["resumed_from"] == ckpt_step
    assert steps == list(range(ckpt_step + 1, total + 1)), steps  # total - k steps trained, none redone


def test_kill9_in_every_stage_kind_then_repro_equals_uninterrupted(tmp_path: Path, plumbing_run) -> None:
    repo = make_repo_copy(REPO, tmp_path / "repo").resolve()
    apply_overrides(repo, MICRO_OVERRIDES)
    env = stage_env(repo)
    env["SHELL"] = "/bin/sh"  # as on CI (SHELL unset): dash forks the stage's command
    env["MLFLOW_TRACKING_URI"] = uri = f"sqlite:///{repo / 'mlflow.db'}"
    rng = random.Random(1234)
    ckpt_step: int | None = None  # the step of the killed training's checkpoint
    after_train_kill: list[str] = []  # console of every repro after it
    with prefect_server(0) as url:
        env["PREFECT_API_URL"] = url
        remaining = list(TARGETS)
        while remaining:
            killed: list[str] = []
            ready_steps: dict[str, int | None] = {}
            stop = threading.Event()
            watcher = threading.Thread(target=_kill_first, args=(repo, remaining, rng, stop, killed, ready_steps))
            watcher.start()
            proc = _repro(repo, env)
            stop.set()
            watcher.join()
            if ckpt_step is not None:
                after_train_kill.append(proc.stdout + proc.stderr)
            assert len(killed) == 1, f"none of {remaining} was killed mid-run:\n{proc.stdout[-2000:]}"
            assert proc.returncode != 0, proc.stdout[-2000:]
            if killed[0] == "leod train --round 0":
                ckpt_step = ready_steps[killed[0]]
                assert ckpt_step is not None, "training had published its model (checkpoint deleted) when killed"
            remaining = [t for t in remaining if t[0] != killed[0]]
            # DVC committed nothing of the killed stage: all it cached belongs to the finished stages
            assert _cached_objects(repo) <= _referenced_objects(repo), killed

        # the run that finishes; a second repro started meanwhile is refused by DVC's lock
        first = subprocess.Popen([DVC, "repro"], cwd=repo, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while not any("leod " in cmd for cmd in _processes_in(repo).values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        second = _repro(repo, env)
        out_first = first.communicate(timeout=600)[0]
        assert second.returncode != 0 and "lock" in (second.stdout + second.stderr).lower(), second.stdout
        assert first.returncode == 0, out_first[-3000:]
        after_train_kill.append(out_first + second.stdout + second.stderr)

    _assert_resumed_at_checkpoint(repo, uri, ckpt_step, after_train_kill)

    expected = output_hashes(plumbing_run.repo)
    assert sum(map(len, expected.values())) >= 23, expected  # every output of the 10 stages
    mismatches = compare_hashes(expected, output_hashes(repo), stage_order(1))
    assert not mismatches, "\n".join(map(str, mismatches))
    assert _cached_objects(repo) <= _referenced_objects(repo)
    assert _temporaries(repo) == []
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(stage_order(1))
