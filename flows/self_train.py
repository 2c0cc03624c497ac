"""The whole self-training DAG as one Prefect flow that drives the DVC stages.

Each DVC stage is one visible task (``dvc repro <stage>``), in pipeline order, so caching and
staleness stay DVC's: an up-to-date stage returns in about a second. The stage commands themselves run
their own flows, which report to the same Prefect server (``PREFECT_API_URL`` is inherited).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.runtime import StepFailed
from flows.stages import stage_order

__all__ = ["StageFailed", "failure_reason", "dvc_repro", "self_train_flow"]


log = logging.getLogger(__name__)

#: the one line a failing ``leod`` command ends with (flows/cli.py), and DVC's own error line
_LEOD_ERROR = re.compile(r"^leod [\w-]+: error: ")
_DVC_ERROR = re.compile(r"^ERROR: ")


def _tool_env() -> dict[str, str]:
    """This interpreter's bin folder first on PATH, so DVC finds ``leod`` and ``dvc`` of this venv."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


class StageFailed(StepFailed):
    """A DVC stage failed; the message is ``stage <name> failed: <its one-line reason>``.

    Reported by the CLI as one line (``bad_input``): the stage's command already said why in one line,
    and its full output, traceback included, is in the stage task's log.
    """

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"stage {stage} failed: {reason}", bad_input=True)
        self.stage, self.reason = stage, reason

    def __reduce__(self):  # pickled by Prefect with the failed state: rebuild from both fields
        return type(self), (self.stage, self.reason)


def failure_reason(lines: Iterable[str]) -> str | None:
    """The line that says why a stage failed: the last ``leod <cmd>: error: ...`` of its output, else
    DVC's last ``ERROR: ...`` line; None when neither is there."""
    leod_line = dvc_line = None
    for line in lines:
        line = line.strip()
        if _LEOD_ERROR.match(line):
            leod_line = line
        elif _DVC_ERROR.match(line):
            dvc_line = line
    return leod_line or dvc_line


def _stage_logger() -> logging.Logger | logging.LoggerAdapter:
    """The task run's Prefect logger (its lines appear under the task in the UI), or this module's
    logger when called outside a run (``dvc_repro.fn`` in tests)."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return log


@task(name="dvc-repro", task_run_name="dvc repro {stage}", cache_policy=NO_CACHE)
def dvc_repro(stage: str, repo: str, force: bool = False) -> float:
    """``dvc repro <stage>`` in ``repo`` (its upstream is already up to date); returns seconds.

    Every output line goes to the task's log (the Prefect UI shows it per stage); a failure raises with
    the stage's one-line reason, which is what the UI shows on the failed task.
    """
    cmd = [str(Path(sys.executable).parent / "dvc"), "repro", stage] + (["--force", "--single-item"] if force else [])
    logger = _stage_logger()
    t0 = time.perf_counter()
    tail: deque[str] = deque(maxlen=500)  # the reason is near the end; the log has everything
    with subprocess.Popen(cmd, cwd=repo, env=_tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", bufsize=1) as proc:
        for line in proc.stdout:
            line = line.rstrip()
            if line:
                logger.info(line)
                tail.append(line)
    if proc.returncode != 0:
        reason = failure_reason(tail) or f"`{' '.join(cmd[1:])}` exited with code {proc.returncode}"
        raise StageFailed(stage, reason)
    return time.perf_counter() - t0


@flow(name="self-train", validate_parameters=False)
def self_train_flow(repo: str = ".", params: str = "params.yaml", force: bool = False) -> dict[str, float]:
    """Run every stage of ``repo``'s dvc.yaml in order (rounds from ``params``); returns seconds per stage."""
    from flows.dvc_rounds import sync_rounds_file
    from flows.settings import load_config

    repo_p = Path(repo).resolve()
    cfg = load_config(repo_p / params)
    sync_rounds_file(repo_p / params, None, repo_p / "rounds.yaml")
    return {s: dvc_repro(s, str(repo_p), force) for s in stage_order(cfg.rounds)}
