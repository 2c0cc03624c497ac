"""Start a test's command the way a shell starts a foreground job."""

from __future__ import annotations

import signal

__all__ = ["as_terminal_job"]


def as_terminal_job() -> None:
    """``preexec_fn``: SIGINT at its default, as a shell gives a foreground job, even when the test run
    itself ignores it (a background job of a non-interactive shell, e.g. ``nohup make test &``, starts with
    SIGINT ignored; the child inherits that, and Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
