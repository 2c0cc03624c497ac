"""requirements-docs.lock (the `docs` extra, `make docs`) is installed with --no-deps on top of the venv:
it must only add packages, never another version of a package requirements.lock (or an on-demand UI
extra's lock) holds, and it must cover the extra's requirements within their floors."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lock_files import read_lock

REPO = Path(__file__).resolve().parents[2]
DOCS_LOCK = REPO / "requirements-docs.lock"


_locked = read_lock


def test_docs_lock_never_moves_a_main_lock_package():
    docs = _locked(DOCS_LOCK)
    main = _locked(REPO / "requirements.lock")
    moved = {n: (str(main[n][0]), str(v)) for n, (v, _) in docs.items() if n in main and main[n][0] != v}
    assert not moved, f"requirements-docs.lock has other versions of requirements.lock packages: {moved}"
    assert not set(docs) & set(main), "requirements-docs.lock repeats packages of requirements.lock"


def test_docs_lock_agrees_with_the_ui_locks():
    """`make ui` and `make docs` may both install into one venv: a package both add has one version."""
    docs = _locked(DOCS_LOCK)
    for path in sorted(REPO.glob("requirements-ui*.lock")):
        other = _locked(path)
        differ = {n: (str(other[n][0]), str(docs[n][0])) for n in set(docs) & set(other) if other[n][0] != docs[n][0]}
        assert not differ, f"{path.name} and requirements-docs.lock disagree: {differ}"


def test_docs_extra_is_locked_within_its_floors_with_hashes():
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["docs"]
    available = {**_locked(REPO / "requirements.lock"), **_locked(DOCS_LOCK)}
    for text in extra:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in available, f"{req.name} (docs extra) is in no lock: python tools/lock_docs.py"
        assert req.specifier.contains(available[name][0], prereleases=True), f"{name}=={available[name][0]} vs {req}"
        for extra_name in req.extras:  # mkdocstrings[python] -> mkdocstrings-python
            assert canonicalize_name(f"{req.name}-{extra_name}") in available, f"{req.name}[{extra_name}]"
    assert all(len(digest) == 64 for _, digest in _locked(DOCS_LOCK).values())
