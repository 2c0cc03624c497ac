"""``make lock``: resolve the project's dependencies afresh and write ``requirements.lock``.

The lock pins every package ``make install`` puts in the venv (runtime, test extra, the build backend)
to one exact version with the sha256 of the file pip chose, so ``pip install --require-hashes`` on a
later clone installs byte-for-byte what the README's numbers were measured with. It is resolved for the
interpreter that runs this script (CPython 3.11 on Linux x86_64 here, torch from the 2.13.0 CPU wheel on
disk); on another platform ``make install LOCK=0`` installs from ``pyproject.toml``'s floors instead.

pip does the resolution (``install --dry-run --ignore-installed --report``): no second resolver with its
own idea of where torch comes from.

The optional extras ``ui`` and ``ui-check`` are locked apart (:data:`EXTRA_LOCKS`), each file holding only
the packages the venv does not have yet: ``make ui`` / ``make ui-check`` install them on demand with
``--no-deps``, so the pipeline's packages stay at requirements.lock's versions even where the extra asks
for another (mlflow 3.17 wants pyarrow<26; a pyarrow downgrade would change the bytes of every parquet
file the pipeline writes, and with them the DVC hashes). ``--extras-only`` re-resolves only those files.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["LOCK_FILE", "REQUIREMENTS", "EXTRA_LOCKS", "resolve", "lock_lines", "read_lock", "extra_lock_lines", "main"]

ROOT = Path(__file__).resolve().parents[1]
LOCK_FILE = ROOT / "requirements.lock"
#: what the venv is made of: torch's CPU build first (never a CUDA build), the project with its test
#: extra, and the build backend so the editable install needs nothing unlocked
REQUIREMENTS = ["torch==2.13.0", ".[test]", "setuptools>=68", "wheel"]
#: the project itself is installed from the working tree, not from the lock
_SELF = "leod"
#: lock file of each optional extra installed on demand, in install order (each on top of the ones before)
EXTRA_LOCKS: dict[str, Path] = {"ui": ROOT / "requirements-ui.lock", "ui-check": ROOT / "requirements-ui-check.lock"}
#: packages that must have the version of another, already locked one (the MLflow server and its client)
_SAME_VERSION = {"mlflow": "mlflow-skinny"}


def resolve(requirements: list[str], cwd: Path = ROOT) -> list[dict]:
    """pip's installation report for ``requirements`` resolved from scratch (nothing installed counts)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--dry-run",
               "--ignore-installed", "--report", str(report), *requirements]
        subprocess.run(cmd, cwd=cwd, check=True)
        return json.loads(report.read_text())["install"]


def lock_lines(install: list[dict]) -> list[str]:
    """``name==version --hash=sha256:...`` per resolved package, sorted by name, the project left out."""
    lines = []
    for item in install:
        meta = item["metadata"]
        name = meta["name"].lower().replace("_", "-")
        if name == _SELF:
            continue
        hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
        if "sha256" not in hashes:
            raise SystemExit(f"lock: {name} {meta['version']} has no sha256 in pip's report "
                             f"({item['download_info'].get('url')}); cannot lock it")
        lines.append(f"{name}=={meta['version']} --hash=sha256:{hashes['sha256']}")
    return sorted(lines, key=lambda line: line.split("==")[0])


def _name(line: str) -> str:
    return line.split("==")[0]


def read_lock(path: Path) -> dict[str, str]:
    """{package: lock line} of a lock file written by this script."""
    return {_name(line): line for line in path.read_text().splitlines() if line and not line.startswith("#")}


def extra_lock_lines(extras: list[str], base: dict[str, str]) -> tuple[list[str], list[str]]:
    """(lines to lock, notes) for the project with ``extras`` on top of the packages in ``base``.

    Only packages missing from ``base`` are locked; a base package the extras would resolve to another
    version stays at the base's version, and is named in the notes.
    """
    pins = [f"{pkg}=={base[src].split('==')[1].split()[0]}" for pkg, src in _SAME_VERSION.items() if src in base]
    resolved = {_name(line): line for line in lock_lines(resolve(REQUIREMENTS + [f".[test,{','.join(extras)}]"] + pins))}
    lines = [line for name, line in resolved.items() if name not in base]
    notes = [f"{name}: kept at {base[name].split()[0]} (the extra alone would take {line.split()[0]})"
             for name, line in resolved.items() if name in base and line != base[name]]
    return lines, notes


def write_lock(path: Path, header: list[str], lines: list[str], tool: str = "lock") -> None:
    """Write a lock file (comment header, then one package a line) atomically; say how many packages."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(header + lines) + "\n")
    tmp.replace(path)
    print(f"{tool}: {len(lines)} packages -> {path}")


def write_extra_locks(base_file: Path = LOCK_FILE) -> None:
    """Every file of :data:`EXTRA_LOCKS`, each against the base lock plus the extras locked before it."""
    base = read_lock(base_file)
    done: list[str] = []
    for extra, path in EXTRA_LOCKS.items():
        done.append(extra)
        lines, notes = extra_lock_lines(done, base)
        header = [
            f"# {path.name}: the packages the optional extra `{extra}` adds to {base_file.name}"
            + (f" and {', '.join(EXTRA_LOCKS[e].name for e in done[:-1])}" if done[:-1] else "")
            + " (generated",
            "# by `make lock`, do not edit); installed on demand with `pip install --require-hashes --no-deps`.",
            *(f"# {n}" for n in notes),
        ]
        write_lock(path, header, lines)
        base.update({_name(line): line for line in lines})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/lock.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=LOCK_FILE)
    parser.add_argument("--extras-only", action="store_true",
                        help="re-resolve only the optional extras' lock files, against the current requirements.lock")
    args = parser.parse_args(argv)
    if args.extras_only:
        write_extra_locks(args.out)
        return 0
    lines = lock_lines(resolve(REQUIREMENTS))
    header = [
        "# requirements.lock: every package of the venv, exact version + sha256 (generated by `make lock`,",
        "# do not edit). `make install` installs it with `pip install --require-hashes --no-deps`.",
        f"# Resolved for CPython {platform.python_version()} on {platform.system()} {platform.machine()};",
        "# elsewhere use `make install LOCK=0` (pyproject.toml's floors).",
    ]
    write_lock(args.out, header, lines)
    write_extra_locks(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
