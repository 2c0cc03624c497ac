"""Prefect runtime settings shared by every ``leod`` command: where Prefect keeps its state, which task
runner maps per-sequence work, and how a plain function is mapped as Prefect tasks.

Importing this module does not import Prefect: :func:`prepare_environment` (:mod:`flows.prefect_env`,
re-exported here) must run first, because Prefect reads ``PREFECT_HOME`` once, when it is imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from flows.policies import retry_on_io_error
from flows.prefect_env import api_url, prepare_environment, repo_root
from flows.settings import OrchestrationConfig
from leod_core.config import ConfigError

#: errors that mean the user's input or parameters are wrong: reported as one line, never retried
BAD_INPUT_ERRORS: tuple[type[BaseException], ...] = (ConfigError, FileNotFoundError, ValueError)


class ApiUnreachable(RuntimeError):
    """``PREFECT_API_URL`` names a server that does not answer (checked before a flow starts)."""


#: failures the CLI reports as one line (tracebacks with ``-v``): bad input, and a machine problem the
#: user fixes outside leod (disk full, permission denied, a Prefect server that is down)
ONE_LINE_ERRORS: tuple[type[BaseException], ...] = (*BAD_INPUT_ERRORS, OSError, ApiUnreachable)


class StepFailed(RuntimeError):
    """A mapped step failed for some items; the message names each failing item and its error.
    ``bad_input`` is true when every failure is a bad-input error (the CLI then prints one line)."""

    def __init__(self, message: str, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input

__all__ = ["StepFailed", "BAD_INPUT_ERRORS", "ONE_LINE_ERRORS", "ApiUnreachable", "check_api", "config_for_command", "prepare_environment", "make_task_runner", "map_as_tasks", "task_map_fn", "item_label", "repo_root",
           "api_url", "run_flow", "run_flow_on"]

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

def make_task_runner(orch: OrchestrationConfig) -> Any:
    """The Prefect task runner named by ``orchestration.task_runner``.

    sequential: one thread (tasks run one after another, still visible as tasks); thread: a pool of
    ``max_workers`` threads; dask: prefect-dask on ``dask_address``, or a local cluster of
    ``max_workers`` single-threaded worker processes when no address is given.
    """
    from prefect.task_runners import ThreadPoolTaskRunner

    if orch.task_runner == "sequential":
        return ThreadPoolTaskRunner(max_workers=1)
    if orch.task_runner == "thread":
        return ThreadPoolTaskRunner(max_workers=orch.max_workers)
    if orch.task_runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:  # pragma: no cover - depends on the install
            raise ValueError("orchestration.task_runner=dask needs prefect-dask: pip install -e '.[dask]'") from None
        if orch.dask_address:
            return DaskTaskRunner(address=orch.dask_address)
        # dashboard on a free loopback port: None still means 0.0.0.0:8787, which concurrent stages share
        return DaskTaskRunner(cluster_kwargs={"n_workers": orch.max_workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": "127.0.0.1:0"})
    raise ValueError(f"params: orchestration.task_runner={orch.task_runner!r} is invalid; "
                     "allowed: sequential, thread, dask")


def item_label(item: Any) -> str:
    """A short name for a mapped item: its ``name`` (sequences), its ``spec.name`` (synth jobs), else str."""
    for obj in (item, getattr(item, "spec", None)):
        name = getattr(obj, "name", None)
        if isinstance(name, str):
            return name
    return str(item)


def map_as_tasks(fn: Callable[..., R], items: Iterable[T], *, name: str, label: Callable[[T], str] = item_label,
                 retries: int = 0, **fixed: Any) -> list[R]:
    """Run ``fn(item, **fixed)`` for every item as one mapped Prefect task each, in the current flow's
    task runner, and return the results in item order. ``retries`` apply to I/O errors only
    (:func:`retry_on_io_error`).

    A failing item raises a RuntimeError naming the step and the item (sequence) that failed, after all
    items have finished, so one bad sequence does not hide the others' results in the UI.
    """
    from prefect import task, unmapped
    from prefect.cache_policies import NO_CACHE

    items = list(items)
    if not items:
        return []
    names = [label(x) for x in items]
    first = _first_param(fn)

    def run_name() -> str:  # e.g. "import-sequence[seq_003]": the UI shows which sequence a task is
        from prefect.runtime import task_run

        params = task_run.parameters or {}
        return f"{name}[{label(params[first])}]" if first in params else name

    mapped = task(fn, name=name, retries=retries, retry_delay_seconds=1, task_run_name=run_name,
                  retry_condition_fn=retry_on_io_error if retries else None, cache_policy=NO_CACHE)
    futures = mapped.map(items, **{k: unmapped(v) for k, v in fixed.items()})
    results: list[R] = []
    failed: list[str] = []
    first_exc: BaseException | None = None
    failed_excs: list[BaseException] = []
    for item_name, fut in zip(names, futures):
        try:
            results.append(fut.result())
        except Exception as exc:  # report every failing item by name, raise once below
            # debug only: StepFailed below carries every failure, and the CLI prints it once
            log.debug("%s failed for %s: %s", name, item_name, exc, exc_info=exc)
            failed.append(f"{item_name} ({type(exc).__name__}: {exc})")
            first_exc = first_exc or exc
            failed_excs.append(exc)
    if failed:
        raise StepFailed(f"step {name} failed for {len(failed)}/{len(items)} item(s): " + "; ".join(failed),
                         bad_input=all(isinstance(e, ONE_LINE_ERRORS) for e in failed_excs)) from first_exc
    return results


def task_map_fn(name: str, retries: int = 0) -> Callable[[Callable[[T], R], Iterable[T]], list[R]]:
    """A ``map_fn(fn, items)`` for leod_core functions that take one (``write_synth_dataset``,
    ``import_dataset``): each item becomes a Prefect task of the calling flow."""
    def map_fn(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return map_as_tasks(fn, items, name=name, retries=retries)

    return map_fn


def _first_param(fn: Callable[..., Any]) -> str | None:
    import inspect

    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params[0] if params else None


def check_api(url: str | None = None, timeout_s: float = 5.0) -> None:
    """Raise :class:`ApiUnreachable` unless the Prefect API at ``url`` (default: ``PREFECT_API_URL``)
    answers its health check within ``timeout_s``: a dead server fails the command at once, in one
    line, instead of after the client's retries and a page of traceback. No URL: local (ephemeral) mode."""
    import urllib.error
    import urllib.request

    url = url or api_url()
    if not url:
        return
    health = url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout_s) as resp:
            if resp.status == 200:
                return
            why = f"HTTP {resp.status}"
    except (urllib.error.URLError, OSError) as exc:
        why = str(getattr(exc, "reason", exc))
    raise ApiUnreachable(f"Prefect API at {url} does not answer ({why}); start it (make ui), point "
                         "PREFECT_API_URL at a running server, or unset it to run in local mode")


def run_flow(flow_obj: Any, orch: OrchestrationConfig, **params: Any) -> Any:
    """Call a Prefect flow with the task runner of ``orch`` (the flow's own parameters unchanged)."""
    return run_flow_on(flow_obj, make_task_runner(orch), orch, **params)


def run_flow_on(flow_obj: Any, runner: Any, orch: OrchestrationConfig, **params: Any) -> Any:
    """Call a Prefect flow with the task runner ``runner`` (``orch`` says where a Dask cluster is).

    Worker processes (a local Dask cluster, a process pool) without a Prefect server: Prefect's ephemeral
    API lives inside this process, out of the workers' reach, so each worker would start its own
    throwaway API (~8 s each) and the flow's task runs would be recorded there. One local server
    (flows.server) serves the flow and its workers instead; they inherit ``PREFECT_API_URL`` when spawned.
    """
    from prefect.task_runners import ProcessPoolTaskRunner

    check_api()
    call = flow_obj.with_options(task_runner=runner)
    spawns = isinstance(runner, ProcessPoolTaskRunner) or orch.task_runner == "dask"
    remote_dask = orch.task_runner == "dask" and bool(orch.dask_address)
    if api_url() is None and (not spawns or remote_dask):
        # local mode (Prefect's own temporary server): it dies with this process, however it ends (issue 27)
        from flows.server import guard_ephemeral_server

        guard_ephemeral_server()
    if spawns and api_url() is None:
        if remote_dask:
            log.warning("orchestration.dask_address set but no PREFECT_API_URL: each Dask worker records its "
                        "task runs in a throwaway API; export the URL of a server the workers can reach")
            return call(**params)
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.server import prefect_server

        # Prefect read its settings at import: this process needs the URL in its settings context too
        with prefect_server(0) as url, temporary_settings(updates={PREFECT_API_URL: url}):
            return call(**params)
    return call(**params)


def config_for_command(params_path: str, overrides: list[str], workers: int) -> tuple[str | None, Any, OrchestrationConfig]:
    """(params file or None, validated config, orchestration settings) for a command with ``--workers``.

    Outside a repo there may be no params file: defaults then, with the ``-S`` overrides either way.
    ``workers > 1`` widens the task runner (a sequential runner becomes a thread pool of that size).
    """
    import dataclasses

    from flows.settings import load_config

    if workers < 1:
        raise ValueError(f"--workers must be >= 1 (got {workers})")
    params = params_path if Path(params_path).exists() else None
    cfg = load_config(params, overrides)
    orch = cfg.orchestration
    if workers > 1:
        orch = dataclasses.replace(orch, max_workers=workers,
                                   task_runner="thread" if orch.task_runner == "sequential" else orch.task_runner)
    return params, cfg, orch
