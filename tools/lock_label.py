"""``python tools/lock_label.py``: resolve Label Studio into ``requirements-label.lock``.

Label Studio (``make label``, ``make label-check``) lives in its own virtual environment, ``.venv-label``,
never in ``.venv``: it pins Django, pandas, pyarrow, numpy and a hundred more packages at versions that
would fight ``requirements.lock`` (a pyarrow or numpy move would change the bytes, and so the DVC hashes,
of the pipeline's outputs). The two environments talk only through files and HTTP: ``leod export-labels``
writes the tasks, Label Studio serves them, ``leod import-labels`` reads its export.

The lock holds every package of ``.venv-label`` at one exact version with the sha256 of the file pip
chose; the Makefile installs it with ``pip install --require-hashes --no-deps``. pip does the resolution
(``install --dry-run --ignore-installed --report``), as in ``tools/lock.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
from pathlib import Path

__all__ = ["LABEL_LOCK", "LABEL_STUDIO", "label_lock_lines", "main"]

ROOT = Path(__file__).resolve().parents[1]
LABEL_LOCK = ROOT / "requirements-label.lock"
#: the one requirement; everything else in the lock is what it pulls in
LABEL_STUDIO = "label-studio==1.23.2"


def _lock_tool():
    """tools/lock.py as a module (tools/ is not a package): its resolver and lock-line writer."""
    spec = importlib.util.spec_from_file_location("lock_tool", ROOT / "tools" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def label_lock_lines(requirement: str = LABEL_STUDIO) -> list[str]:
    """``name==version --hash=sha256:...`` for Label Studio and all its dependencies, resolved from scratch."""
    lock = _lock_tool()
    return lock.lock_lines(lock.resolve([requirement]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/lock_label.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=LABEL_LOCK)
    args = parser.parse_args(argv)
    lines = label_lock_lines()
    header = [
        f"# {args.out.name}: every package of .venv-label, Label Studio's own virtual environment (generated",
        f"# by `python tools/lock_label.py` from {LABEL_STUDIO}, do not edit). Never installed into .venv:",
        "# `make label` / `make label-check` install it with `pip install --require-hashes --no-deps`.",
        f"# Resolved for CPython {platform.python_version()} on {platform.system()} {platform.machine()}.",
    ]
    _lock_tool().write_lock(args.out, header, lines, "lock_label")
    return 0


if __name__ == "__main__":
    sys.exit(main())
