"""`leod serve --cron` as a user runs it: the self-training deployment is registered with the schedule (read
back from the Prefect API), served, and one Ctrl-C stops everything, servers included.

The console script runs in a temporary repo (a copy of params.yaml) with a temporary PREFECT_HOME, MLflow
store and free ports, so no user server, database or port is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from flows.commands.serve import DEPLOYMENT_NAME
from flows.server import as_terminal_job, free_port, mlflow_ui_available

REPO = Path(__file__).resolve().parents[2]
LEOD = Path(sys.executable).with_name("leod")
CRON = "0 3 * * *"
#: a first Prefect start migrates a new database: tens of seconds on two busy cores
START_TIMEOUT_S = 240.0
#: from the Ctrl-C to leod's exit (it drains Prefect's logs, then stops each server, up to 15 s, by design)
STOP_TIMEOUT_S = 30.0
#: after leod's exit: its servers should already be gone (it waits for them); a few seconds of slack
GONE_TIMEOUT_S = 5.0


def _deployment(api: str) -> dict | None:
    """The served deployment as the Prefect API returns it; None while it is not there."""
    try:
        with urllib.request.urlopen(f"{api}/deployments/name/self-train/{DEPLOYMENT_NAME}", timeout=2) as r:
            return json.load(r)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def test_serve_registers_the_cron_schedule_and_ctrl_c_stops_everything(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(REPO / "params.yaml", repo / "params.yaml")
    prefect_port, mlflow_port = free_port(0), free_port(0)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    cmd = [str(LEOD), "serve", "--repo", str(repo), "--cron", CRON,
           "-S", f"orchestration.prefect_port={prefect_port}", "-S", f"mlflow.port={mlflow_port}"]
    api = f"http://127.0.0.1:{prefect_port}/api"
    t0 = time.monotonic()
    # its own process group, as a shell gives a foreground job: Ctrl-C is SIGINT to that group
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=as_terminal_job)
    servers: list[psutil.Process] = []
    try:
        # served = registered, and the runner has polled for its runs (the API then marks it READY)
        dep = None
        while time.monotonic() - t0 < START_TIMEOUT_S and proc.poll() is None:
            dep = _deployment(api)
            if dep is not None and dep.get("status") == "READY":
                break
            time.sleep(0.3)
        assert proc.poll() is None, f"leod serve exited with {proc.returncode}:\n{proc.communicate()[0]}"
        assert dep is not None and dep["status"] == "READY", f"not served within {START_TIMEOUT_S:.0f} s"
        started_s = time.monotonic() - t0

        assert [(s["schedule"].get("cron"), s["active"]) for s in dep["schedules"]] == [(CRON, True)]
        assert dep["parameters"] == {"repo": str(repo), "params": "params.yaml"}

        servers = psutil.Process(proc.pid).children(recursive=True)
        cmdlines = [" ".join(p.cmdline()) for p in servers]
        assert any(f"prefect server start --host 127.0.0.1 --port {prefect_port}" in c for c in cmdlines), cmdlines
        assert any("mlflow server" in c for c in cmdlines) == mlflow_ui_available(), cmdlines

        t1 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=STOP_TIMEOUT_S)
        # the servers run in sessions of their own (the Ctrl-C reaches only leod): leod must stop them
        exited_s = time.monotonic() - t1
        _, alive = psutil.wait_procs(servers, timeout=GONE_TIMEOUT_S)
        print(f"served in {started_s:.1f} s; after Ctrl-C: leod exited in {exited_s:.1f} s, "
              f"all gone in {time.monotonic() - t1:.1f} s")
    finally:  # whatever failed: nothing of this test stays running
        with contextlib.suppress(psutil.NoSuchProcess):
            servers = servers or psutil.Process(proc.pid).children(recursive=True)
        proc.kill()
        proc.wait()
        for p in servers:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()

    assert proc.returncode == 0, out  # Ctrl-C is how serve is meant to end
    assert "Traceback" not in out, out
    # LEFTOVER PROCESSES: a server still running after leod exited (killed above, so nothing leaks)
    assert not alive, f"left running after Ctrl-C: {[' '.join(p.cmdline()) for p in alive]}"
    assert free_port(prefect_port) == prefect_port, "the Prefect port is still taken"
    lines = out.splitlines()
    assert f"Prefect UI at http://127.0.0.1:{prefect_port}: deployment self-train/{DEPLOYMENT_NAME} " \
           f"(cron {CRON!r}); Ctrl-C stops" in lines, out
    if mlflow_ui_available():
        assert any(line.startswith(f"MLflow UI at http://127.0.0.1:{mlflow_port} ") for line in lines), out
        assert free_port(mlflow_port) == mlflow_port, "the MLflow port is still taken"
    else:  # the venv has mlflow-skinny only: serve says so and starts no MLflow server
        assert any(line.startswith("MLflow UI: not installed") for line in lines), out
