"""Bit-exact resume of the REAL detector after a SIGKILL (issue 27): the nano detector trained on a tiny
synth-sized dataset for 8 steps without a break, and again in another folder killed (SIGKILL, no clean-up
of any kind) after its step-3 checkpoint, then started again with the same command in a fresh process.
The second process must start from the on-disk checkpoint (step 3, not 0), train only steps 4..8, and
end with the same weights, optimizer state, schedule, RNG / loader / RNN states and loss history, bit for
bit, as the uninterrupted run.

Each run is a fresh interpreter running this file as a script (``python test_real_resume.py OUT ...``):
the kill is a real ``SIGKILL`` the process sends itself from the training callback after step
``LEOD_TEST_KILL_AT_STEP`` (an environment variable read by this script only, so the killed and the
resumed run have the same command line).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KILL_ENV = "LEOD_TEST_KILL_AT_STEP"
SEED_ENV = "LEOD_TEST_SEED_GLOBAL_RNG"

#: 8 steps of the real nano detector, batches of 2 x 3 reprs, a checkpoint every 3 steps (3, 6 and 8)
STEPS, CKPT_EVERY, KILL_AT = 8, 3, 5
OVERRIDES = (f"train.steps={STEPS}", f"train.ckpt_every={CKPT_EVERY}", "train.threads=1",
             "data.batch_size=2", "data.sequence_length=3", "model.preset=nano")
RESUME_AT = KILL_AT - KILL_AT % CKPT_EVERY  # the last checkpoint before the kill: steps 4, 5 are redone


def _child(out: Path, dataset: Path, labels: Path) -> None:
    """One training process: ``train_round`` into ``out`` (resuming from ``out/.work``); prints the steps
    this process trained and its result as one JSON line."""
    import logging

    from leod_core.train.loop import train_round
    from tiny_config import tiny_config

    logging.basicConfig(level=logging.INFO)  # the trainer's "resuming round 0 from ... at step k/N" line
    if SEED_ENV in os.environ:
        # python's and numpy's global RNGs: the trainer neither seeds nor draws from them, but saves and
        # restores them; seeded here in the first runs, left to OS entropy in the resumed process
        import random

        import numpy as np

        random.seed(int(os.environ[SEED_ENV]))
        np.random.seed(int(os.environ[SEED_ENV]))
    kill_at = int(os.environ.get(KILL_ENV, "0"))
    seen: list[int] = []

    def callback(step: int, metrics: dict[str, float]) -> None:
        seen.append(step)
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # as `kill -9`: no finally, no atexit, no flush

    res = train_round(tiny_config(*OVERRIDES), 0, labels, dataset, out, callback=callback)
    print(json.dumps({"steps_seen": seen, "resumed_from": res.resumed_from, "steps": res.steps}))


def _start(out: Path, dataset: Path, labels: Path, kill_at: int | None = None,
           fresh_process_rng: bool = False) -> subprocess.Popen:
    """``fresh_process_rng``: leave python's and numpy's global RNGs as a new interpreter seeds them (OS
    entropy) instead of seeding them with 7, so the resumed run's only way to match is the checkpoint."""
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    env.pop(KILL_ENV, None)
    env.pop(SEED_ENV, None)
    if kill_at is not None:
        env[KILL_ENV] = str(kill_at)
    if not fresh_process_rng:
        env[SEED_ENV] = "7"
    return subprocess.Popen([sys.executable, __file__, str(out), str(dataset), str(labels)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, dict[str, Any] | None, str]:
    out, err = proc.communicate(timeout=300)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return proc.returncode, json.loads(lines[-1]) if lines else None, err


def _assert_identical(a: Any, b: Any, where: str = "") -> None:
    """Recursive bit-exact equality of checkpoint contents (tensors, arrays, containers, numbers)."""
    import numpy as np
    import torch

    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                     and torch.equal(a.nan_to_num(), b.nan_to_num())), where
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _assert_identical(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_real_detector_killed_then_resumed_is_bit_identical(tmp_path: Path) -> None:
    import csv

    from leod_core.train.checkpoint import load_checkpoint
    from train_fakes import write_tiny_synth_dataset

    t0 = time.perf_counter()
    dataset = tmp_path / "ds"
    labels = write_tiny_synth_dataset(dataset)
    full_dir, killed_dir = tmp_path / "full", tmp_path / "killed"
    # the uninterrupted run and the run to be killed side by side (one torch thread each)
    full, killed = _start(full_dir, dataset, labels), _start(killed_dir, dataset, labels, kill_at=KILL_AT)
    rc_killed, _, err_killed = _finish(killed)
    assert rc_killed == -signal.SIGKILL, f"exit {rc_killed}:\n{err_killed[-3000:]}"
    ckpt_path = killed_dir / ".work" / "last_ckpt.pt"
    assert load_checkpoint(ckpt_path)["step"] == RESUME_AT
    assert not (killed_dir / "last.pt").exists()

    # the same command again, in a fresh process: it must continue from the step-3 checkpoint
    rc_resumed, resumed, err_resumed = _finish(_start(killed_dir, dataset, labels, fresh_process_rng=True))
    assert rc_resumed == 0, err_resumed[-3000:]
    rc_full, uninterrupted, err_full = _finish(full)
    assert rc_full == 0, err_full[-3000:]
    assert uninterrupted == {"steps_seen": list(range(1, STEPS + 1)), "resumed_from": 0, "steps": STEPS}
    # started at the checkpoint's step, not 0: only steps 4..8 trained (STEPS - RESUME_AT of them)
    assert resumed == {"steps_seen": list(range(RESUME_AT + 1, STEPS + 1)), "resumed_from": RESUME_AT,
                       "steps": STEPS}
    assert f"at step {RESUME_AT}/{STEPS}" in err_resumed  # the "resuming round 0 from ... at step k/N" log line
    assert json.loads((killed_dir / "timing.json").read_text())["resumed_from"] == RESUME_AT

    # final weights: the published file's tensors, then the whole final training state
    w_full, w_resumed = load_checkpoint(full_dir / "last.pt"), load_checkpoint(killed_dir / "last.pt")
    assert w_full["model"].keys() == w_resumed["model"].keys() and len(w_full["model"]) > 100  # the real detector
    _assert_identical(w_full["model"], w_resumed["model"], "last.pt model")
    s_full, s_resumed = load_checkpoint(full_dir / ".work" / "last_ckpt.pt"), load_checkpoint(ckpt_path)
    assert s_full["step"] == s_resumed["step"] == STEPS
    assert s_full["optimizer"]["state"] and all(int(v["step"]) == STEPS for v in s_full["optimizer"]["state"].values())
    for key in ("model", "optimizer", "scheduler", "scaler", "history", "ranks", "best_ap"):
        _assert_identical(s_full[key], s_resumed[key], key)
    # the loss history: every step's row, the same numbers, the same bytes on disk
    with open(full_dir / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    assert all(math.isfinite(float(r["loss"])) for r in rows)
    for name in ("loss.csv", "last.pt", "metrics.json"):
        a, b = (full_dir / name).read_bytes(), (killed_dir / name).read_bytes()
        if name == "metrics.json":  # names its own run folder
            a, b = a.replace(str(full_dir).encode(), b"OUT"), b.replace(str(killed_dir).encode(), b"OUT")
        assert a == b, name
    print(f"real-detector kill/resume test: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    _child(*map(Path, sys.argv[1:4]))
