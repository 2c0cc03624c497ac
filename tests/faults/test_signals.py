"""A killed command takes its temporary Prefect server with it (issue 27).

Each test starts a real command as a user or a scheduler runs it (a subprocess in a session of its own, with
a temporary PREFECT_HOME, a free port and no PREFECT_API_URL, so no user server is touched), waits until its
Prefect server answers, signals the command, and checks that within ``GONE_S`` no process of the test is
left: the command, the server's guard, the server (uvicorn), the command's child. "Of the test" = a process
whose environment carries the test's unique token (every child inherits it; /proc/PID/environ).

- ``leod synth`` in local mode: Prefect's own temporary server (``python -m uvicorn``, the one that was left
  behind), started by Prefect under our guard;
- ``python -m flows.server -- sleep 60``: the server of :func:`flows.server.prefect_server`
  (``prefect server start``) and a command run under it.

SIGTERM / SIGINT: the command exits 143 / 130 within ``EXIT_S``, its last stderr line is
``<prog>: stopped by SIGTERM`` (once, no traceback). SIGKILL of the command: the guard notices (Linux
parent-death signal; a parent-pid poll elsewhere) and stops the server's process group.

Linux only: /proc, and the parent-death signal is Linux's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import LEOD, REPO
from flows.server import as_terminal_job

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG: Linux")

#: a first Prefect start migrates a new database: tens of seconds on two busy cores
START_TIMEOUT_S = 180.0
#: from SIGTERM / SIGINT to the command's exit (by design ~0.3 s; up to ~5 s when a Prefect task is running)
EXIT_S = 10.0
#: from the signal to the last process of the test gone (server and children included)
GONE_S = 10.0
LAUNCHER = [sys.executable, "-m", "flows.server", "--port", "0", "--", "sleep", "60"]
SYNTH = [LEOD, "synth", "out", "--preset", "default"]  # ~60 s on 2 cores: still running when signalled
#: a flow whose task sleeps: Prefect's SIGTERM handler would wait for it (the thread pool's shutdown)
SLOW_TASK = """
import time
from flows.prefect_env import prepare_environment
prepare_environment()
from flows.server import exit_on_signals, guard_ephemeral_server
exit_on_signals("slow-task")
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner
guard_ephemeral_server()


@task
def slow() -> None:
    time.sleep(120)


@flow(task_runner=ThreadPoolTaskRunner(max_workers=1))
def waits_for_slow() -> None:
    slow.submit().result()


waits_for_slow()
"""


class Run:
    """A command started in a temporary folder, its processes recognised by a token in their environment.
    As a context manager: whatever failed, nothing of it stays running."""

    def __init__(self, args: list[str], tmp_path: Path) -> None:
        self.token = f"LEOD_SIGNAL_TEST={uuid.uuid4().hex}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_URL", "MLFLOW_TRACKING"))}
        env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PYTHONPATH=str(REPO),
                   MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
        env.update([self.token.split("=", 1)])
        self.out, self.err = tmp_path / "stdout", tmp_path / "stderr"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:  # files: a full pipe would stall it
            # a session of its own, as a shell gives a job: a terminal's Ctrl-C is SIGINT to that group
            self.proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=out, stderr=err,
                                         start_new_session=True, preexec_fn=as_terminal_job)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def processes(self) -> dict[int, str]:
        """{pid: command line} of the running (not zombie) processes of this run, the command included."""
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if self.token.encode() not in f.read().split(b"\0"):
                        continue
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:  # gone meanwhile, or not ours to read
                continue
            if stat[stat.rfind(b")") + 2:][:1] not in (b"Z", b"X"):
                found[int(name)] = cmdline
        return found

    def wait_running(self, *commands: str, flow: bool = False) -> dict[int, str]:
        """Wait until the run's Prefect server answers and a process runs each of ``commands`` (its command
        line starts so), and with ``flow`` until Prefect has begun the flow run; the run's processes."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"exited with {self.proc.returncode}:\n{self.stderr()[-3000:]}"
            procs = self.processes()
            servers = [c for c in procs.values() if ("-m uvicorn" in c or "-m prefect server start" in c)
                       and " -c " not in c]  # not its guard: python -I -S -c CODE PID GRACE MODE -- SERVER
            if (servers and all(any(c.startswith(n) for c in procs.values()) for n in commands)
                    and (not flow or "Beginning flow run" in self.stderr())):
                port = servers[0].split("--port ")[1].split()[0]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                        if r.status == 200:
                            return procs
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.2)
        raise AssertionError(f"not running within {START_TIMEOUT_S:.0f} s:\n{self.stderr()[-3000:]}")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_gone(self, t0: float) -> dict[int, str]:
        """Wait until no process of the run is left, at most ``GONE_S`` after ``t0``; what is left."""
        while (left := self.processes()) and time.monotonic() - t0 < GONE_S:
            time.sleep(0.1)
        return left


def _stop_by(run: Run, sig: signal.Signals, to_group: bool, prog: str) -> None:
    """Send ``sig``, then check the exit status, the one line and that nothing is left."""
    t0 = time.monotonic()
    (os.killpg if to_group else os.kill)(run.proc.pid, sig)
    try:
        run.proc.wait(timeout=EXIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {EXIT_S:.0f} s after {sig.name}")
    exited_s = time.monotonic() - t0
    left = run.wait_gone(t0)
    print(f"{prog}: exited {exited_s:.2f} s after {sig.name}, all gone after {time.monotonic() - t0:.2f} s")
    err = run.stderr()
    assert not left, f"left running {GONE_S:.0f} s after {sig.name}: {left}"
    assert run.proc.returncode == 128 + sig, f"exit {run.proc.returncode}:\n{err[-3000:]}"
    assert err.rstrip().splitlines()[-1] == f"{prog}: stopped by {sig.name}", err[-3000:]
    assert err.count("stopped by") == 1 and "Traceback" not in err, err[-3000:]


def test_sigterm_stops_leod_and_its_temporary_prefect_server(tmp_path: Path) -> None:
    """``timeout``, CI runners and schedulers send SIGTERM to the command only, not to its server. Sent while
    the flow runs: Prefect's own SIGTERM handler is then in place, and hands the signal on."""
    with Run(SYNTH, tmp_path) as run:
        procs = run.wait_running(flow=True)
        assert any("-m uvicorn" in c for c in procs.values()), procs  # Prefect's own temporary server
        _stop_by(run, signal.SIGTERM, to_group=False, prog="leod synth")


def test_sigint_stops_the_launcher_its_server_and_command(tmp_path: Path) -> None:
    """Ctrl-C: SIGINT to the terminal's foreground group, which the server (own session) is not in."""
    with Run(LAUNCHER, tmp_path) as run:
        procs = run.wait_running("sleep 60")
        assert any("-m prefect server start" in c for c in procs.values()), procs
        _stop_by(run, signal.SIGINT, to_group=True, prog="python -m flows.server")


def test_sigterm_during_a_long_prefect_task_exits_soon(tmp_path: Path) -> None:
    """During a flow Prefect's SIGTERM handler raises in the flow and unwinds it, which waits for the running
    task (here 120 s): the watcher thread stops the command anyway, ~2 s after the signal."""
    with Run([sys.executable, "-c", SLOW_TASK], tmp_path) as run:
        run.wait_running(flow=True)
        time.sleep(0.5)  # the task is under way
        _stop_by(run, signal.SIGTERM, to_group=False, prog="slow-task")


@pytest.mark.parametrize("args,children", [(SYNTH, ()), (LAUNCHER, ("sleep 60",))], ids=["leod-synth", "launcher"])
def test_sigkill_of_the_command_takes_its_server_along(args: list[str], children: tuple[str, ...],
                                                      tmp_path: Path) -> None:
    """SIGKILL cannot be handled: the server's guard notices its parent's death and stops the server's group;
    the launcher's command dies by its own parent-death signal."""
    with Run(args, tmp_path) as run:
        run.wait_running(*children)
        t0 = time.monotonic()
        run.proc.kill()
        run.proc.wait()
        left = run.wait_gone(t0)
        print(f"{args[1]}: all gone {time.monotonic() - t0:.2f} s after SIGKILL")
    assert not left, f"left running {GONE_S:.0f} s after SIGKILL of the command: {left}"


def test_guard_whose_parent_is_already_gone_starts_nothing(tmp_path: Path) -> None:
    """The race of the parent-death signal: the parent died before the guard set it (its parent pid is then
    no longer the one it was given). The guard must exit at once without starting the server."""
    from flows.server import _guard_cmd

    marker = tmp_path / "started"
    for mode in ("tree", "exec"):
        cmd, env = _guard_cmd(["touch", str(marker)], 3, mode)
        parent = cmd.index("--") - 3  # python -I -S -c CODE PARENT_PID GRACE_S MODE -- CMD
        assert cmd[parent] == str(os.getpid())
        cmd[parent] = "1"  # as if re-parented to init
        t0 = time.monotonic()
        proc = subprocess.run(cmd, env=env, timeout=30, start_new_session=True)
        assert proc.returncode != 0 and not marker.exists(), mode
        assert time.monotonic() - t0 < 5
        cmd[parent] = str(os.getpid())  # the same with the right parent does run it
        proc = subprocess.run(cmd, env=env, timeout=30, start_new_session=True)
        assert proc.returncode == 0 and marker.exists(), mode
        marker.unlink()
