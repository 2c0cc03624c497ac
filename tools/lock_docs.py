"""``python tools/lock_docs.py``: resolve the ``docs`` extra (pyproject.toml) into ``requirements-docs.lock``.

Like the ``ui`` extras of ``tools/lock.py``, the file holds only the packages the venv does not have yet,
each an exact version with the sha256 of the file pip chose, and ``make docs`` installs it on top of the
venv with ``pip install --require-hashes --no-deps``. Here every package already locked
(``requirements.lock``, ``requirements-ui.lock``, ``requirements-ui-check.lock``) is a *constraint* of the
resolution at its locked version: pip resolves the documentation tools against the pipeline's packages
as they are, so the docs lock only ever adds packages and never needs another version of a locked one
(a conflict stops the resolution instead of moving a pipeline package, whose version could change the
bytes, and so the DVC hashes, of the pipeline's outputs). ``tests/docs/test_docs_lock.py`` checks it.

pip does the resolution (``install --dry-run --ignore-installed --report``), as in ``tools/lock.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import tempfile
import tomllib
from pathlib import Path

__all__ = ["DOCS_LOCK", "BASE_LOCKS", "docs_requirements", "docs_lock_lines", "main"]

ROOT = Path(__file__).resolve().parents[1]
DOCS_LOCK = ROOT / "requirements-docs.lock"
#: the locks whose versions the docs extra must take as they are: the venv's, then the on-demand extras'
BASE_LOCKS = [ROOT / "requirements.lock", ROOT / "requirements-ui.lock", ROOT / "requirements-ui-check.lock"]


def _lock_tool():
    """tools/lock.py as a module (tools/ is not a package): its resolver and lock-file helpers."""
    spec = importlib.util.spec_from_file_location("lock_tool", ROOT / "tools" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def docs_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The ``docs`` extra's requirements as pyproject.toml declares them."""
    return list(tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["docs"])


def docs_lock_lines(base_locks: list[Path] = BASE_LOCKS) -> list[str]:
    """Lock lines of the packages the docs extra adds to ``base_locks`` (resolved with those as constraints)."""
    lock = _lock_tool()
    base: dict[str, str] = {}
    for path in base_locks:
        base.update(lock.read_lock(path))
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text("".join(line.split()[0] + "\n" for line in base.values()))
        install = lock.resolve(["-c", str(constraints), *docs_requirements()])
    resolved = {line.split("==")[0]: line for line in lock.lock_lines(install)}
    moved = [f"{name}: {base[name].split()[0]} locked, {line.split()[0]} resolved"
             for name, line in resolved.items() if name in base and line.split()[0] != base[name].split()[0]]
    if moved:  # cannot happen with the constraints; kept as the guarantee this file makes
        raise SystemExit("lock_docs: the docs extra would move locked packages: " + "; ".join(moved))
    return [line for name, line in resolved.items() if name not in base]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/lock_docs.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS_LOCK)
    args = parser.parse_args(argv)
    lines = docs_lock_lines()
    header = [
        f"# {args.out.name}: the packages the optional extra `docs` adds to "
        + ", ".join(p.name for p in BASE_LOCKS) + " (generated",
        "# by `python tools/lock_docs.py`, do not edit), resolved with those locks' versions as constraints;",
        "# `make docs` installs it on demand with `pip install --require-hashes --no-deps`.",
        f"# Resolved for CPython {platform.python_version()} on {platform.system()} {platform.machine()}.",
    ]
    _lock_tool().write_lock(args.out, header, lines, "lock_docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
