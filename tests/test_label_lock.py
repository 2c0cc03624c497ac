"""Label Studio's environment (make label, make label-check) is apart from the pipeline's: its lock,
requirements-label.lock, is complete and hashed, is installed into .venv-label only, and the main lock
holds none of Label Studio's stack, so it cannot move a pipeline package. (Label Studio itself runs in
make label-check, which drives it over HTTP and in a browser: tools/label_check.py.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from lock_files import read_lock

REPO = Path(__file__).resolve().parents[1]
LABEL_LOCK = REPO / "requirements-label.lock"


def _lock_label():
    spec = importlib.util.spec_from_file_location("lock_label", REPO / "tools" / "lock_label.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_label_lock_pins_label_studio_with_hashes():
    locked = read_lock(LABEL_LOCK)
    name, version = _lock_label().LABEL_STUDIO.split("==")
    assert locked[canonicalize_name(name)][0] == Version(version)
    assert {"django", "djangorestframework", "label-studio-sdk"} <= set(locked)
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for _, digest in locked.values())


def test_label_studio_stays_out_of_the_pipeline_venv():
    main = read_lock(REPO / "requirements.lock")
    assert not {"label-studio", "django", "label-studio-sdk"} & set(main)
    for extra in sorted(REPO.glob("requirements-*.lock")):
        if extra != LABEL_LOCK:
            assert "label-studio" not in read_lock(extra), extra.name


def test_make_installs_the_lock_into_its_own_venv_with_hashes_only():
    make = (REPO / "Makefile").read_text()
    recipe = make.split("$(LABEL_STAMP): requirements-label.lock", 1)[1].split("\n\n", 1)[0]
    assert "$(PYTHON) -m venv $(LABEL_VENV)" in recipe
    assert "$(LABEL_VENV)/bin/python -m pip install" in recipe
    assert "--require-hashes --no-deps" in recipe and "-r requirements-label.lock" in recipe
    assert re.search(r"^LABEL_VENV := \.venv-label$", make, re.M)
    assert ".venv-label/" in (REPO / ".gitignore").read_text().splitlines()
