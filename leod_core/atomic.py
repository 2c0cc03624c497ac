"""Atomic outputs: write to a temporary sibling path, rename into place only when complete.

A killed process therefore never leaves a half-written file or folder for DVC to cache. Temporary names
carry the writer's pid (``.NAME.<pid>.<random>.tmp``): the next writer of the same output removes the
leftovers of writers that are no longer alive (a ``kill -9`` cannot clean up after itself).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_dir", "remove_stale_temporaries"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temporaries(folder: Path, name: str) -> list[Path]:
    """Delete the temporaries ``folder/.NAME.<pid>.*.tmp*`` of writers that are dead; returns them."""
    removed = []
    for p in folder.glob(f".{name}.*.tmp*") if folder.is_dir() else []:
        fields = p.name[len(name) + 2:].split(".")
        if not fields[0].isdigit() or _alive(int(fields[0])):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(dst: str | Path) -> Iterator[Path]:
    """Yield a temporary file path next to ``dst``; on success it replaces ``dst`` atomically.

    The temporary name keeps ``dst``'s suffix so writers that dispatch on it (numpy, pyarrow) behave.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dst.parent, dst.stem)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem}.{os.getpid()}.", suffix=f".tmp{dst.suffix}", dir=dst.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dst)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(dst: str | Path) -> Iterator[Path]:
    """Yield a temporary directory next to ``dst``; on success it replaces ``dst`` (old one removed)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dst.parent, dst.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.{os.getpid()}.", suffix=".tmp", dir=dst.parent))
    try:
        yield tmp
        if dst.exists():
            old = dst.with_name(f".{dst.name}.old{os.getpid()}")
            os.replace(dst, old)
            os.replace(tmp, dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
