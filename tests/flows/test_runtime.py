"""Task runners and mapping of per-item work as Prefect tasks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.runtime import make_task_runner, map_as_tasks, prepare_environment, repo_root
from flows.settings import OrchestrationConfig


def _square(x: int, offset: int = 0) -> int:
    if x < 0:
        raise ValueError(f"negative item {x}")
    return x * x + offset


def test_prepare_environment_keeps_user_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert repo_root(sub) == tmp_path
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    applied = prepare_environment(sub)
    assert os.environ["PREFECT_HOME"] == str(tmp_path / ".prefect") == applied["PREFECT_HOME"]
    monkeypatch.setenv("PREFECT_HOME", "/elsewhere")
    assert "PREFECT_HOME" not in prepare_environment(sub)


def test_make_task_runner_kinds():
    from prefect.task_runners import ThreadPoolTaskRunner

    seq = make_task_runner(OrchestrationConfig(task_runner="sequential"))
    thr = make_task_runner(OrchestrationConfig(task_runner="thread", max_workers=3))
    assert isinstance(seq, ThreadPoolTaskRunner) and seq._max_workers == 1
    assert isinstance(thr, ThreadPoolTaskRunner) and thr._max_workers == 3
    with pytest.raises(ValueError, match="task_runner"):
        make_task_runner(OrchestrationConfig(task_runner="mpi"))


def test_map_as_tasks_thread_runner(prefect_harness):
    from prefect import flow

    @flow(task_runner=make_task_runner(OrchestrationConfig(task_runner="thread", max_workers=2)))
    def f(items):
        return map_as_tasks(_square, items, name="square", offset=1)

    assert f([3, 1, 2]) == [10, 2, 5]
    assert f([]) == []


def test_map_as_tasks_names_failing_items(prefect_harness):
    from prefect import flow

    @flow(task_runner=make_task_runner(OrchestrationConfig(task_runner="sequential")))
    def f(items):
        return map_as_tasks(_square, items, name="square", label=lambda x: f"seq_{x}")

    with pytest.raises(RuntimeError, match=r"step square failed for 2/3 item\(s\): seq_-1 .*negative item -1.*seq_-2"):
        f([-1, 2, -2])
