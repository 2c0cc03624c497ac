"""Fault-injection helpers: the ``leod`` CLI as a user runs it (a subprocess, its real console), one
Prefect server for the module, and a digest of a folder to prove that a failure changed nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE

REPO = Path(__file__).resolve().parents[2]
LEOD = str(Path(sys.executable).parent / "leod")


@pytest.fixture(scope="module")
def prefect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One local Prefect server for a module's CLI runs (~3 s per command instead of ~20 s ephemeral)."""
    from flows.server import prefect_server

    with prefect_server(0) as url:
        yield url


def run_leod(args: list[str], cwd: Path, api_url: str | None, timeout_s: float = 300,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``leod ARGS`` in ``cwd`` at the default log level, reporting to ``api_url`` (None: local mode)."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{cwd / 'mlflow.db'}"
    env["PYTHONPATH"] = str(REPO)
    env.update(extra_env or {})
    return subprocess.run([LEOD, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)


def assert_one_error_line(proc: subprocess.CompletedProcess, command: str, *needles: str) -> str:
    """Exit code 1, and the console's failure report is exactly one line ``leod <command>: error: ...``,
    the last one, naming every needle: no traceback, no Prefect failure report, nothing after it."""
    console = (proc.stdout + proc.stderr).splitlines()
    assert proc.returncode == 1, f"exit {proc.returncode}:\n" + "\n".join(console[-30:])
    errors = [line for line in console if line.startswith(f"leod {command}: error:")]
    assert len(errors) == 1, "\n".join(console[-30:])
    assert proc.stderr.rstrip().splitlines()[-1] == errors[0]
    noise = [line for line in console if "Traceback" in line or line.startswith(("ERROR", "CRITICAL"))
             or "Encountered exception" in line or "in state Failed" in line]
    assert not noise, "\n".join(noise)
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def tree_digest(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``root`` (temporary files included, so a leftover
    ``.tmp`` shows up as a difference)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def write_raw_sequence(split_dir: Path, name: str, seed: int = 0, n: int = 3000) -> tuple[Path, Path]:
    """A valid 160x120 ``NAME_td.dat`` + ``NAME_bbox.npy`` pair (0.3 s, two labelled frames)."""
    split_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, EVENT_DTYPE)
    ev["t"] = np.sort(rng.integers(0, 300_000, n))
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 160, n), rng.integers(0, 120, n), rng.integers(0, 2, n)
    dat = write_dat(split_dir / f"{name}_td.dat", ev, 120, 160)
    boxes = np.zeros(2, PROPHESEE_BBOX_DTYPE)
    boxes["t"], boxes["x"], boxes["y"], boxes["w"], boxes["h"], boxes["class_id"] = (
        [150_000, 200_000], 10, 10, 30, 20, [0, 1])
    bbox = split_dir / f"{name}_bbox.npy"
    np.save(bbox, boxes)
    return dat, bbox
