"""Where Prefect keeps this project's state, set before Prefect is imported (it reads its settings once).

The environment's one home: the commands (:mod:`flows.runtime`) and the server launcher
(:mod:`flows.server`) both read it, so neither imports the other for it. Imports no Prefect.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["repo_root", "prepare_environment", "api_url"]

# Prefect state (profiles, local database of ephemeral runs) lives under the repo, git-ignored, so runs
# of this project never touch ~/.prefect and two clones never share a database.
_PREFECT_DIR = ".prefect"


def repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding dvc.yaml or .git; else cwd."""
    here = (start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "dvc.yaml").exists() or (p / ".git").exists():
            return p
    return here


def prepare_environment(root: Path | None = None) -> dict[str, str]:
    """Set Prefect defaults in ``os.environ`` (never overriding the user's) and return what was set.

    - ``PREFECT_HOME`` = ``<repo>/.prefect`` unless set.
    - Without ``PREFECT_API_URL`` (no user or launcher server) flows run in Prefect's ephemeral mode.
    - Analytics off, and no "open the UI" hints printed into DVC's logs.
    """
    defaults = {
        "PREFECT_HOME": str(repo_root(root) / _PREFECT_DIR),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",  # busy cores: a slow start beats a failed stage
        "PREFECT_CLIENT_MAX_RETRIES": "2",  # a server gone mid-run fails the command sooner (5 by default)
    }
    # the Prefect client logs every API call through httpx at INFO: keep DVC's stage logs readable
    logging.getLogger("httpx").setLevel(logging.WARNING)
    applied = {}
    for key, value in defaults.items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied


def api_url() -> str | None:
    """The Prefect API this process reports to (None: ephemeral server started in-process)."""
    return os.environ.get("PREFECT_API_URL") or None
