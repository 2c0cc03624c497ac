"""One local Prefect server for a whole pipeline run.

Prefect's ephemeral mode starts an API server inside every process that runs a flow (~8 s each on two
cores, measured in bench/bench_orchestration.py); a DVC pipeline is ~10 processes. Starting one server
on 127.0.0.1 for the whole run and exporting ``PREFECT_API_URL`` to the stages costs ~4 s once (~11 s the
very first time, database migrations) and ~1-2 s per flow after that.

``python -m flows.server -- dvc repro`` runs any command that way; :func:`prefect_server` is the same as a
context manager (``leod self-train`` uses it). When ``PREFECT_API_URL`` is already set (a user's server),
nothing is started and the command reports there. :func:`mlflow_server` does the same for the MLflow UI
(``leod serve`` / ``make ui`` run both).

A started server dies with the command that started it (issue 27). It runs in a session of its own (a Ctrl-C
in the terminal reaches only the command, which stops the server cleanly) under a small guard process
(:func:`_guard`) that leads that session's process group: when the command dies in any way, SIGKILL
included, the guard stops the whole group (SIGTERM, then SIGKILL after a grace period). On Linux the guard
hears of the death at once (a parent-death signal, ``prctl(PR_SET_PDEATHSIG)``); elsewhere (no prctl: macOS,
BSD) it notices within 0.1 s by polling its parent pid. Prefect's own temporary server of local mode (an
ephemeral ``uvicorn`` subprocess, the one seen left behind) runs under the same guard
(:func:`guard_ephemeral_server`), and :func:`exit_on_signals` makes SIGTERM / SIGINT / SIGHUP stop the
servers and child processes of a command and exit at once with one line (status 128 + signal number).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from flows.prefect_env import prepare_environment

__all__ = ["PortTaken", "prefect_server", "mlflow_server", "mlflow_ui_available", "free_port", "require_free_port",
           "wait_healthy", "exit_on_signals", "stop_everything", "guard_ephemeral_server", "as_terminal_job", "main"]

log = logging.getLogger(__name__)

#: a server's clean stop at the end of a block: SIGTERM, then SIGKILL of its process group after this long
STOP_GRACE_S = 10.0
#: on SIGTERM / SIGINT / SIGHUP (:func:`exit_on_signals`): the same, sooner (the user or scheduler waits)
SIGNAL_GRACE_S = 3.0
#: Prefect's ephemeral server: Prefect SIGKILLs the guard after 5 s, so the guard must be done before
EPHEMERAL_GRACE_S = 4.0


class PortTaken(OSError):
    """A server's fixed port is in use (an OSError: the CLI reports it as one line)."""


def as_terminal_job() -> None:
    """``preexec_fn`` of a command that is later stopped with Ctrl-C (SIGINT), by a test or a check: SIGINT
    at its default, as a shell gives a foreground job, even where the caller ignores it (a background job
    of a non-interactive shell, e.g. ``nohup make test &``, starts with SIGINT ignored; children inherit
    that, and Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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


def _guard(argv: list[str]) -> int:
    """The guard's program, run by ``python -I -S`` (standard library only, no globals: :func:`_guard_cmd`).

    ``argv``: PARENT_PID GRACE_S MODE -- CMD ... The guard exits at once if its parent is no longer
    PARENT_PID (the parent died before the death signal was set: the race of prctl).

    MODE ``tree`` (a server, started in a session of its own): run CMD as a child in this process group, exit
    with its status when it exits; when the parent dies, or on SIGTERM / SIGINT, stop the whole group:
    SIGTERM, up to GRACE_S for CMD to exit, then SIGKILL (this guard included). Uvicorn and any process the
    server starts are in that group. Linux's parent-death signal (SIGHUP here) fires when the *thread* that
    started the guard ends: a SIGHUP while the parent lives is ignored, and the parent-pid poll (0.1 s) is
    what notices its death afterwards, as it does where there is no prctl.

    MODE ``exec`` (a command in the caller's process group: Ctrl-C reaches it as usual): become CMD with
    SIGTERM as its parent-death signal. Linux only; elsewhere CMD simply runs. The caller must start it from
    a thread that outlives it (:func:`_popen_guarded` uses it from the main thread only).
    """
    import os
    import signal
    import sys
    import time

    parent, grace_s, mode, cmd = int(argv[0]), float(argv[1]), argv[2], argv[4:]

    def orphaned() -> bool:  # re-parented to init or a subreaper: the parent has died
        return os.getppid() != parent

    def set_parent_death_signal(sig: int) -> None:
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
            except (OSError, AttributeError):  # no prctl (an odd libc): the ppid poll of tree mode remains
                pass

    if mode == "exec":
        set_parent_death_signal(signal.SIGTERM)
        if orphaned():
            return 143
        for name in ("SIGPIPE", "SIGXFSZ"):  # as subprocess restores them: Python ignores both
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        try:
            os.execvp(cmd[0], cmd)
        except OSError as exc:
            print(f"{cmd[0]}: {exc.strerror}", file=sys.stderr)
            return 127

    stop: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if signum != signal.SIGHUP or orphaned():
            stop.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    set_parent_death_signal(signal.SIGHUP)
    if orphaned():
        return 1
    import subprocess

    child = subprocess.Popen(cmd)
    while not stop and not orphaned():
        if child.poll() is not None:
            return child.returncode if child.returncode >= 0 else 128 - child.returncode
        time.sleep(0.1)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(0, signal.SIGKILL)  # whatever is left of the group, this guard included
    return 137  # not reached


#: the guard's code, marshalled (the very code loaded here, whatever the file holds now): in the guard's
#: environment, not on its command line (``ps``); the same interpreter reads it back
_GUARD_VAR = "LEOD_GUARD_CODE"
_GUARD_BOOT = ("import base64, marshal, os, sys, types; sys.exit(types.FunctionType(marshal.loads(base64.b64decode("
               f"os.environ.pop({_GUARD_VAR!r}))), globals())(sys.argv[1:]))")


def _guard_cmd(cmd: list[str], grace_s: float, mode: str,
               env: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that run ``cmd`` under :func:`_guard` as a child of this process; ``env``: the
    environment ``cmd`` gets (default: ours)."""
    import base64
    import marshal

    code = base64.b64encode(marshal.dumps(_guard.__code__)).decode()
    argv = [sys.executable, "-I", "-S", "-c", _GUARD_BOOT, str(os.getpid()), f"{grace_s:g}", mode, "--",
            *map(str, cmd)]
    return argv, {**(os.environ if env is None else env), _GUARD_VAR: code}


#: every guarded process this process started, by pid: (process, leads its own process group)
_LIVE: dict[int, tuple[subprocess.Popen, bool]] = {}


class _GuardedPopen(subprocess.Popen):
    """``subprocess.Popen(args, ...)`` of a server: ``args`` run under :func:`_guard` in a session of their own
    (the guard's pid is the process group to stop); ``grace_s`` is the guard's clean-stop period."""

    def __init__(self, args: list[str], *a, grace_s: float = STOP_GRACE_S, **kwargs) -> None:
        if os.name != "posix":  # no sessions, process groups or SIGKILL (Windows): the server as it is
            super().__init__(args, *a, **kwargs)
            return
        kwargs["start_new_session"] = True
        argv, kwargs["env"] = _guard_cmd(list(args), grace_s, "tree", kwargs.get("env"))
        super().__init__(argv, *a, **kwargs)
        _LIVE[self.pid] = (self, True)


def _popen_guarded(cmd: list[str], **kwargs) -> subprocess.Popen:
    """A command (not a server) in this process group that dies with this process: SIGTERM when it dies
    (Linux). Only from the main thread (the death signal follows the thread that forks); else plain."""
    if threading.current_thread() is not threading.main_thread() or not sys.platform.startswith("linux"):
        proc = subprocess.Popen(cmd, **kwargs)
    else:
        argv, kwargs["env"] = _guard_cmd(cmd, 0, "exec", kwargs.get("env"))
        proc = subprocess.Popen(argv, **kwargs)
    _LIVE[proc.pid] = (proc, False)
    return proc


def _stop_guarded(proc: subprocess.Popen, timeout_s: float) -> None:
    """Stop a server started by :class:`_GuardedPopen`: SIGTERM to its guard (which stops the group, cleanly
    then hard), and SIGKILL to the group if the guard is not done within ``timeout_s``."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if proc.pid in _LIVE:  # guarded (POSIX): the whole group
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        proc.wait()
    _LIVE.pop(proc.pid, None)


def _process_table() -> dict[int, tuple[int, int, str]]:
    """{pid: (parent pid, process group, state letter)} of every process, from /proc; {} without /proc."""
    table: dict[int, tuple[int, int, str]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
            table[int(name)] = (int(fields[1]), int(fields[2]), fields[0].decode())
    return table


def _descendants(table: dict[int, tuple[int, int, str]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not; a child of ours is reaped here)."""
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def stop_everything(grace_s: float = SIGNAL_GRACE_S) -> None:
    """Stop every server and child process this process started, at once: SIGTERM to each (a server's
    guard stops its group), up to ``grace_s`` for them to exit, then SIGKILL to what is left.

    Servers and commands started here are known by pid; other descendants (Dask or process-pool workers,
    DVC stages) are found in /proc (Linux; elsewhere only the known ones are stopped).
    """
    # liveness by waitpid/proc, not Popen.poll(): the main thread may be inside a Popen.wait() that holds
    # the object's lock (the handler of exit_on_signals interrupts it); a child reaped here is never used again
    live = [(p.pid, group) for p, group in list(_LIVE.values()) if p.returncode is None and _alive(p.pid)]
    groups = {pid for pid, group in live if group}
    table = _process_table()
    # processes of a guarded group are the guard's to stop
    others = [pid for pid in _descendants(table, os.getpid()) if table[pid][1] not in groups
              and pid not in {pid for pid, _ in live}]
    pids = [pid for pid, _ in live] + others
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(map(_alive, pids)):
        time.sleep(0.05)
    for pid in groups:  # the guard exits last (it SIGKILLs its group): it may be gone, its group not
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    for pid in pids:
        if pid not in groups and _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


_exiting = threading.Lock()
#: the signals :func:`exit_on_signals` handles (no SIGHUP on Windows)
_EXIT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))


def _exit_now(prog: str, signum: int, grace_s: float) -> None:
    """:func:`stop_everything`, one line on stderr, ``os._exit(128 + signum)``; once (a second caller waits)."""
    main = threading.current_thread() is threading.main_thread()
    _exiting.acquire()
    if main:  # a second Ctrl-C during the stop does not start another one
        for sig in _EXIT_SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, signal.SIG_IGN)
    logging.disable(logging.CRITICAL)  # no failure reports of the flow whose server goes away
    try:
        stop_everything(grace_s)
    finally:
        if main:  # elsewhere the main thread may hold a stream's lock (a write to a full pipe): no flush
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):  # a write interrupted by the signal: may not flush
                    stream.flush()
        with contextlib.suppress(OSError):
            os.write(2, f"{prog}: stopped by {signal.Signals(signum).name}\n".encode())
        os._exit(128 + signum)


def exit_on_signals(prog: str, grace_s: float = SIGNAL_GRACE_S, flow_grace_s: float = 2.0) -> None:
    """From now on, SIGTERM (``timeout``, CI runners, cluster schedulers, ``kill``), SIGINT (Ctrl-C) and
    SIGHUP (a closed terminal) end this process quickly: :func:`stop_everything`, then one line
    ``<prog>: stopped by SIGTERM`` on stderr and exit status 128 + the signal's number (143, 130, 129),
    without the exit hooks (Prefect's would report to a server that is gone; every output is written
    atomically, so nothing half-written is left where a result belongs).

    While a flow runs, Prefect replaces the SIGTERM handler with its own: it raises in the flow, reports the
    run as crashed, then sends the signal again to the handler it replaced (this one). Unwinding can wait
    for running tasks to finish (the thread pool's shutdown), so a watcher thread, woken through Python's
    signal wakeup fd whatever handler runs, stops everything itself if the process still lives
    ``flow_grace_s`` after the signal. Worst case from the signal to the exit: about
    ``flow_grace_s + grace_s`` (5 s).

    A signal that is ignored (``nohup``, ``cmd &`` in a script) or already handled by the program stays as it
    is. Only the main thread can set signal handlers: elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    handled = [sig for sig in _EXIT_SIGNALS
               if signal.getsignal(sig) in (signal.SIG_DFL, signal.default_int_handler)]
    for sig in handled:
        signal.signal(sig, lambda signum, frame: _exit_now(prog, signum, grace_s))
    if not handled:
        return

    def in_forked_child() -> None:
        # a worker forked from this process (no exec) is not this command: Python's own signal handling
        # again, no wakeup fd shared with the parent's watcher, none of the parent's servers to stop
        _LIVE.clear()
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(-1)
            for sig in handled:
                signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)

    os.register_at_fork(after_in_child=in_forked_child)
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except ValueError:  # pragma: no cover - not the main thread (checked above)
        os.close(r)
        os.close(w)
        return
    wanted = {int(sig) for sig in handled}

    def watch() -> None:
        while True:
            try:
                data = os.read(r, 64)
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            if not data:
                return
            signum = next((b for b in data if b in wanted), None)
            if signum is not None:
                time.sleep(flow_grace_s)
                _exit_now(prog, signum, grace_s)

    threading.Thread(target=watch, name="leod-exit-on-signals", daemon=True).start()


class _SubprocessWithGuard:
    """Stands for the ``subprocess`` module inside ``prefect.server.api.server``: its ``Popen`` starts the
    ephemeral API server under the guard. Everything else is the module's."""

    def __init__(self, module: object) -> None:
        self._module = module

    def __getattr__(self, name: str) -> object:
        return getattr(self._module, name)

    class Popen(_GuardedPopen):
        def __init__(self, args: list[str], *a, **kwargs) -> None:
            super().__init__(args, *a, grace_s=EPHEMERAL_GRACE_S, **kwargs)


def guard_ephemeral_server() -> None:
    """Run Prefect's ephemeral API server (local mode: no ``PREFECT_API_URL``) under the guard, so that it dies
    with the command. Prefect 3 starts it as a plain ``python -m uvicorn`` child (``SubprocessASGIServer``),
    stopped by an exit hook only, which SIGTERM or SIGKILL skip: it stayed for 40 minutes. Its ``stop()``
    SIGTERMs the guard, which stops the server within :data:`EPHEMERAL_GRACE_S`. Idempotent; a Prefect
    without that class or module attribute is left as it is."""
    try:
        from prefect.server.api import server as prefect_api_server
    except ImportError:  # pragma: no cover - depends on the Prefect version
        return
    module = getattr(prefect_api_server, "subprocess", None)
    if module is subprocess and hasattr(prefect_api_server, "SubprocessASGIServer"):
        prefect_api_server.subprocess = _SubprocessWithGuard(subprocess)


@contextlib.contextmanager
def _server_process(cmd: list[str], health_url: str, name: str, timeout_s: float, log_path: Path,
                    cwd: Path | None = None, env: dict[str, str] | None = None,
                    wait: bool = True) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` (output to ``log_path``, ``env`` added to ours) until the block ends; yield once
    ``health_url`` answers (at once without ``wait``: the caller starts another server meanwhile)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log_path, "ab") as out:
        # own session, under the guard: a Ctrl-C in the terminal reaches only us, and we stop the server
        # cleanly below; if we die without doing so, the guard does
        proc = _GuardedPopen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                             env={**os.environ, **(env or {})})
    try:
        if wait:
            wait_healthy(health_url, timeout_s, proc, name)
            log.info("%s up at %s in %.1f s (log: %s)", name, health_url, time.monotonic() - t0, log_path)
        yield proc
    finally:
        _stop_guarded(proc, STOP_GRACE_S + 5)


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
    if cmd and argv is None:
        # SIGTERM / SIGINT: the command and the server stopped, one line, 143 / 130 (without a command,
        # Ctrl-C is how the foreground server ends: below)
        exit_on_signals(parser.prog)
    with prefect_server(args.port, services=args.services or not cmd, ui=args.ui or not cmd) as url:
        if not cmd:
            print(f"Prefect API at {url} (UI at {url[:-4]}); Ctrl-C stops it", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
        proc = _popen_guarded(cmd)  # dies with us, even by SIGKILL (Linux)
        try:
            return proc.wait()
        finally:
            _LIVE.pop(proc.pid, None)


if __name__ == "__main__":
    sys.exit(main())
