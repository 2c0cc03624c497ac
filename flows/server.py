"""One local Prefect server for a whole pipeline run.

Prefect's ephemeral mode starts an API server inside every process that runs a flow (~8 s each on two
cores, measured in bench/bench_orchestration.py); a DVC pipeline is ~10 processes. Starting one server
on 127.0.0.1 for the whole run and exporting ``PREFECT_API_URL`` to the stages costs ~4 s once (~11 s the
very first time, database migrations) and ~1-2 s per flow after that.

``python -m flows.server -- dvc repro`` runs any command that way; :func:`prefect_server` is the same as a
context manager (``leod self-train`` uses it). When ``PREFECT_API_URL`` is already set (a user's server),
nothing is started and the command reports there.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from flows.runtime import prepare_environment

__all__ = ["prefect_server", "free_port", "wait_healthy", "main"]

log = logging.getLogger(__name__)


def free_port(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` when nothing listens there, else a free port the OS picks."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free TCP port")  # pragma: no cover


def wait_healthy(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    """Poll ``<url>/health`` until it answers; raise RuntimeError on timeout or if ``proc`` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with code {proc.returncode} before answering at {url}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prefect server did not answer at {url} within {timeout_s:.0f} s")


def _drain_prefect_services(timeout_s: float = 10.0) -> None:
    """Send this process's queued Prefect logs and events while the server still answers.

    Left to Prefect's exit hook, they would be sent after the server has stopped, and the process would
    retry for about a minute before exiting ("Error logging to API").
    """
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        try:
            service.drain_all(timeout=timeout_s)
        except Exception as exc:  # best effort: never hide the block's own outcome
            log.debug("draining %s failed: %s", service.__name__, exc)


@contextlib.contextmanager
def prefect_server(port: int = 4200, *, services: bool = False, ui: bool = False,
                   timeout_s: float = 120.0, log_path: Path | None = None) -> Iterator[str]:
    """Run ``prefect server start`` on 127.0.0.1 for the duration of the block; yield its API URL and
    export it as ``PREFECT_API_URL`` (restored afterwards).

    If ``PREFECT_API_URL`` is already set, yield it and start nothing. ``services`` (scheduler, late
    runs, ...) are only needed for deployments and schedules; a pipeline run leaves them off to save CPU.
    """
    prepare_environment()
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        log.info("reporting to the Prefect server at %s", existing)
        yield existing
        return
    port = free_port(port)
    url = f"http://127.0.0.1:{port}/api"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
           "--analytics-off", "--ui" if ui else "--no-ui"]
    if not services:
        cmd.append("--no-services")
    log_path = Path(log_path or Path(os.environ["PREFECT_HOME"]) / "server.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log_path, "ab") as out:
        # own session: a Ctrl-C in the terminal reaches us, and we stop the server cleanly below
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(url, timeout_s, proc)
        log.info("prefect server up at %s in %.1f s (log: %s)", url, time.monotonic() - t0, log_path)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        _drain_prefect_services()
        os.environ.pop("PREFECT_API_URL", None)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    """``python -m flows.server [--port N] [--ui --services] -- CMD ...``: run CMD with one shared server.

    Without CMD the server runs in the foreground until interrupted (``make ui``).
    """
    parser = argparse.ArgumentParser(prog="python -m flows.server", description=main.__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("LEOD_PREFECT_PORT", "4200")))
    parser.add_argument("--ui", action="store_true", help="serve the Prefect UI too")
    parser.add_argument("--services", action="store_true", help="run scheduler/late-run services (deployments)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command to run (after --)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    with prefect_server(args.port, services=args.services or not cmd, ui=args.ui or not cmd) as url:
        if not cmd:
            print(f"Prefect API at {url} (UI at {url[:-4]}); Ctrl-C stops it", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
        return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
