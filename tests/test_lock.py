"""requirements.lock against pyproject.toml: every declared dependency is locked, at a version its floor
admits, with a hash; torch is the CPU build (a CUDA build would pull gigabytes)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from lock_files import read_lock

REPO = Path(__file__).resolve().parents[1]


def _locked(path: Path = REPO / "requirements.lock") -> dict[str, tuple[Version, str]]:
    return read_lock(path)


def test_every_dependency_is_locked_within_its_floor():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    locked = _locked()
    for text in declared:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is declared in pyproject.toml but not in requirements.lock (make lock)"
        version, digest = locked[name]
        assert req.specifier.contains(version, prereleases=True), f"lock has {name}=={version}, pyproject asks {req}"
        assert len(digest) == 64, f"{name}: no sha256 in the lock"


def test_torch_is_the_cpu_build():
    version, _ = _locked()["torch"]
    assert str(version) == "2.13.0+cpu"


def test_ui_extras_are_locked_apart_and_never_move_a_base_package():
    """make ui / make ui-check install requirements-ui*.lock with --no-deps on top of requirements.lock:
    each extra's dependencies are there within their floors, none is also in the base lock (so the
    pipeline's packages, and the DVC hashes of its outputs, stay as locked), and the MLflow server is the
    version of the MLflow client."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lock_tool", REPO / "tools" / "lock.py")
    lock_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock_tool)
    EXTRA_LOCKS = lock_tool.EXTRA_LOCKS
    base = _locked()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    seen: dict = {}
    for extra, path in EXTRA_LOCKS.items():
        locked = _locked(path)
        assert not set(locked) & set(base), f"{path.name} repeats packages of requirements.lock"
        seen.update(locked)
        for text in project["optional-dependencies"][extra]:
            req = Requirement(text)
            version, digest = seen[canonicalize_name(req.name)]
            assert req.specifier.contains(version, prereleases=True) and len(digest) == 64, f"{path.name}: {req}"
    assert seen["mlflow"][0] == base["mlflow-skinny"][0]
