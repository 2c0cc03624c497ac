"""Retry policy shared by I/O tasks."""

from __future__ import annotations

from typing import Any

__all__ = ["retry_on_io_error"]


def retry_on_io_error(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry I/O failures (OSError: NFS hiccup, disk busy) only; a bad
    parameter or bad data (ValueError, KeyError, ...) or a missing input fails at once, since a retry
    cannot help."""
    try:
        state.result()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    except Exception:
        return False
    return False
