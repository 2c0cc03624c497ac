"""Shared pytest fixtures: Prefect and MLflow isolation (no test touches ~/.prefect or ./mlflow.db)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


#: fixtures shared by a core test folder and tests/commands or tests/tasks (one definition: a session-scoped
#: dataset is built once per run, whichever folders use it)
pytest_plugins = ["sample_data"]

_OWN_PREFECT_HOME = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    # Prefect reads PREFECT_HOME once, at import: set it before any test module imports prefect.
    if "PREFECT_HOME" not in os.environ or not os.environ.get("LEOD_KEEP_PREFECT_HOME"):
        os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="leod-prefect-home-")
        config.stash[_OWN_PREFECT_HOME] = os.environ["PREFECT_HOME"]
    os.environ.pop("PREFECT_API_URL", None)  # never report test runs to a user's server
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the first ephemeral server of a session creates and migrates its database: on 2 busy cores that
    # once took longer than the commands' 180 s start-up limit (a CI run failed on it)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "600")
    # Prefect's temporary server logs its shutdown from an atexit hook, after pytest has closed the captured
    # stream: without this, a "--- Logging error ---" traceback follows pytest's summary line.
    logging.raiseExceptions = False


def pytest_unconfigure(config: pytest.Config) -> None:
    # the session's Prefect database (a few MB) would otherwise pile up in /tmp, one per test run
    home = config.stash.get(_OWN_PREFECT_HOME, None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API + database for the whole session (Prefect's recommended harness)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for the test, restored afterwards (CPU results then do not depend on the core
    count, and tests running beside each other do not fight for cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite MLflow store for one test, exported as MLFLOW_TRACKING_URI."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
