"""A Prefect API that does not answer: the command fails fast, in one line, and writes nothing
(documented choice: no silent fallback to local mode, because the user asked for that server)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from conftest import REPO, assert_one_error_line, run_leod


def _dead_port() -> int:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_api_fails_fast_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_dead_port()}/api"
    t0 = time.monotonic()
    proc = run_leod(["subsample", "--params", str(REPO / "params.yaml"), "--out", str(tmp_path / "labels")],
                    tmp_path, url, timeout_s=60)
    elapsed = time.monotonic() - t0
    assert_one_error_line(proc, "subsample", url, "unset it to run in local mode")
    assert elapsed < 30, f"took {elapsed:.1f} s"
    assert not (tmp_path / "labels").exists()


def _server_pids(port: int) -> list[int]:
    """pids of the ``prefect server start`` processes serving ``port``."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "server" in cmd and "start" in cmd and str(port) in cmd:
                pids.append(int(d.name))
    return pids


def test_server_killed_mid_run_stops_the_command_in_one_line(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from flows.server import prefect_server

    with prefect_server(0) as url:
        port = int(url.split(":")[2].split("/")[0])
        env = dict(os.environ, PREFECT_API_URL=url, PYTHONPATH=str(REPO),
                   MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
        proc = subprocess.Popen([str(Path(sys.executable).parent / "leod"), "synth", "raw", "--preset", "micro"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not (tmp_path / "mlflow.db").exists() and time.monotonic() < deadline:  # the flow is under way
            time.sleep(0.1)
        time.sleep(1.0)
        assert _server_pids(port) and proc.poll() is None
        for pid in _server_pids(port):
            os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=180)
        elapsed = time.monotonic() - t0
    lines = err.rstrip().splitlines()
    assert proc.returncode == 1, err[-3000:]
    assert lines[-1].startswith("leod synth: error: lost the Prefect API at") and url in lines[-1]
    assert "Traceback" not in err
    assert elapsed < 120, f"took {elapsed:.1f} s after the server died"
