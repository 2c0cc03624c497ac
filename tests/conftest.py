"""Shared pytest fixtures: Prefect and MLflow isolation (no test touches ~/.prefect or ./mlflow.db)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PlumbingRun:
    """A finished ``leod self-train`` of the plumbing micro config (flows.smoke.MICRO_OVERRIDES)."""

    repo: Path
    env: dict[str, str]
    stdout: str
    stderr: str

    def copy_to(self, dst: Path) -> tuple[Path, dict[str, str]]:
        """A copy of the finished repository (outputs, DVC cache and lock) at ``dst`` for a test to change,
        with its stage environment (its own MLflow store and Prefect home; no Prefect server yet)."""
        import shutil

        from flows.smoke import stage_env

        shutil.copytree(self.repo, dst, symlinks=True)
        env = stage_env(dst)
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{dst / 'mlflow.db'}"
        env.pop("PREFECT_API_URL", None)
        return dst, env


@pytest.fixture(scope="session")
def plumbing_run(tmp_path_factory: pytest.TempPathFactory) -> PlumbingRun:
    """``leod self-train`` (the console script, its own temporary Prefect server) on the plumbing micro config
    in a copy of the repository, run once per session: test_self_train_e2e checks the run, the kill test
    compares its own killed-and-resumed run with this uninterrupted one, output by output."""
    import subprocess
    import sys

    from flows.server import free_port
    from flows.smoke import MICRO_OVERRIDES, apply_overrides, make_repo_copy, stage_env

    repo = make_repo_copy(Path(__file__).resolve().parents[1], tmp_path_factory.mktemp("plumbing") / "repo")
    # the port is no stage's parameter: the outputs equal those of any other run of the same config
    apply_overrides(repo, MICRO_OVERRIDES + [f"orchestration.prefect_port={free_port(0)}"])
    env = stage_env(repo)
    env.pop("PREFECT_API_URL", None)  # the command starts (and stops) its own server
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{repo / 'mlflow.db'}"
    proc = subprocess.run([str(Path(sys.executable).parent / "leod"), "self-train", "--repo", str(repo)], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return PlumbingRun(repo, env, proc.stdout, proc.stderr)
