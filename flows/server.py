"""One local Prefect server for a whole pipeline run.

Prefect's ephemeral mode starts an API server inside every process that runs a flow (~8 s each on two
cores, measured in bench/bench_orchestration.py); a DVC pipeline is ~10 processes. Starting one server
on 127.0.0.1 for the whole run and exporting ``PREFECT_API_URL`` to the stages costs ~4 s once (~11 s the
very first time, database migrations) and ~1-2 s per flow after that.

``python -m flows.server -- dvc repro`` runs any command that way; :func:`prefect_server` is the same as a
context manager (``leod self-train`` uses it). When ``PREFECT_API_URL`` is already set (a user's server),
nothing is started and the command reports there. :func:`mlflow_server` does the same for the MLflow UI
(``leod serve`` / ``make ui`` run both).
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

from flows.prefect_env import prepare_environment

__all__ = ["PortTaken", "prefect_server", "mlflow_server", "mlflow_ui_available", "free_port", "require_free_port",
           "wait_healthy", "main"]

log = logging.getLogger(__name__)


class PortTaken(OSError):
    """A server's fixed port is in use (an OSError: the CLI reports it as one line)."""


def free_port(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` when nothing listens there, else a free port the OS picks."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # as the servers bind: a port whose last connections linger in TIME_WAIT (a UI just
            # stopped, a browser's sockets) is free for them; one with a listener is not
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free TCP port")  # pragma: no cover


def require_free_port(port: int, what: str, setting: str, host: str = "127.0.0.1") -> int:
    """``port`` if it can be bound on ``host``; else :class:`PortTaken` naming ``what`` wanted it and
    the ``setting`` that chooses another (a UI's address is printed and bookmarked: never move it silently)."""
    if free_port(port, host) != port:
        raise PortTaken(f"port {port} on {host} is taken ({what}): stop what uses it, or choose another "
                        f"port with {setting}")
    return port


def wait_healthy(url: str, timeout_s: float, proc: subprocess.Popen | None = None,
                 name: str = "prefect server") -> None:
    """Poll ``<url>/health`` until it answers; raise RuntimeError on timeout or if ``proc`` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode} before answering at {url}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer at {url} within {timeout_s:.0f} s")


@contextlib.contextmanager
def _server_process(cmd: list[str], health_url: str, name: str, timeout_s: float, log_path: Path,
                    cwd: Path | None = None, env: dict[str, str] | None = None,
                    wait: bool = True) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` (output to ``log_path``, ``env`` added to ours) until the block ends; yield once
    ``health_url`` answers (at once without ``wait``: the caller starts another server meanwhile)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log_path, "ab") as out:
        # own session: a Ctrl-C in the terminal reaches only us, and we stop the server cleanly below
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                env={**os.environ, **(env or {})})
    try:
        if wait:
            wait_healthy(health_url, timeout_s, proc, name)
            log.info("%s up at %s in %.1f s (log: %s)", name, health_url, time.monotonic() - t0, log_path)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
def prefect_server(port: int = 4200, *, services: bool = False, ui: bool = False, strict_port: bool = False,
                   timeout_s: float = 120.0, log_path: Path | None = None) -> Iterator[str]:
    """Run ``prefect server start`` on 127.0.0.1 for the duration of the block; yield its API URL and
    export it as ``PREFECT_API_URL`` (restored afterwards).

    If ``PREFECT_API_URL`` is already set, yield it and start nothing. ``services`` (scheduler, late
    runs, ...) are only needed for deployments and schedules; a pipeline run leaves them off to save CPU.
    A taken ``port`` is replaced by a free one, or refused (:class:`PortTaken`) when ``strict_port``.
    """
    prepare_environment()
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        log.info("reporting to the Prefect server at %s", existing)
        yield existing
        return
    if strict_port:
        require_free_port(port, "Prefect server", "PREFECT_PORT or -S orchestration.prefect_port=N")
    else:
        port = free_port(port)
    url = f"http://127.0.0.1:{port}/api"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
           "--analytics-off", "--ui" if ui else "--no-ui"]
    if not services:
        cmd.append("--no-services")
    log_path = Path(log_path or Path(os.environ["PREFECT_HOME"]) / "server.log")
    # the UI's own idea of the API: 127.0.0.1:4200 unless told, so on any other port the UI would show
    # "Can't connect to Server API"
    ui_env = {"PREFECT_SERVER_UI_API_URL": url} if ui and "PREFECT_SERVER_UI_API_URL" not in os.environ else {}
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with _server_process(cmd, url, "prefect server", timeout_s, log_path, env=ui_env):
        os.environ["PREFECT_API_URL"] = url  # for child processes
        try:
            # and for this one: Prefect read the environment when it was imported, so without this a flow
            # run in this process would start an ephemeral server of its own (tens of seconds under load)
            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield url
        finally:
            _drain_prefect_services()
            os.environ.pop("PREFECT_API_URL", None)


def mlflow_ui_available() -> bool:
    """Whether the full ``mlflow`` package (its tracking server and UI) is installed, not only
    ``mlflow-skinny`` (the client the pipeline logs with)."""
    import importlib.util

    return importlib.util.find_spec("flask") is not None and importlib.util.find_spec("mlflow.server") is not None


@contextlib.contextmanager
def mlflow_server(port: int, backend_uri: str, *, cwd: Path | None = None, timeout_s: float = 120.0,
                  log_path: Path | None = None, wait: bool = True) -> Iterator[str]:
    """The MLflow tracking server + UI on 127.0.0.1:``port`` over ``backend_uri`` (e.g. the pipeline's
    ``sqlite:///mlflow.db``, relative to ``cwd``) for the duration of the block; yields its URL.

    Runs logged to a local store keep their artifacts where the client wrote them (absolute paths in the
    store); the server reads them from there. One worker: a UI for one person, on two cores. Without
    ``wait`` it yields at once (``wait_healthy(url, ...)`` later), so another server can start meanwhile.
    """
    require_free_port(port, "MLflow UI", "MLFLOW_PORT or -S mlflow.port=N")
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", backend_uri, "--workers", "1"]
    log_path = Path(log_path or Path(cwd or Path.cwd()) / ".mlflow-server.log")
    # no usage telemetry from a local UI (MLflow 3 sends it unless told not to)
    with _server_process(cmd, url, "mlflow server", timeout_s, log_path, cwd=cwd,
                         env={"MLFLOW_DISABLE_TELEMETRY": "true"}, wait=wait) as proc:
        yield url
        if proc.poll() is not None:
            log.warning("mlflow server exited with code %s (log: %s)", proc.returncode, log_path)


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
