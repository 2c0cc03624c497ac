"""Reading clips of event representations: open-once HDF5 handles and zero padding to the input size.

A worker opens each sequence file once and keeps it open (``ReprFiles``); a clip ``[start, stop)`` is
one contiguous ``read``. Handles are per process: after a fork (DataLoader workers) the child opens its
own files instead of reusing the parent's (h5py handles must not cross a fork).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

__all__ = ["ReprSource", "ReprFiles", "default_reader_factory", "pad_to_hw", "read_clip_u8", "read_clip"]

log = logging.getLogger(__name__)


class ReprSource(Protocol):
    """What the loaders need from a representation file (``leod_core.events.h5_store.ReprReader``)."""

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> np.ndarray: ...  # uint8 (n, 20, H, W)


ReaderFactory = Callable[[Path], ReprSource]


def default_reader_factory(path: Path) -> ReprSource:
    """Open ``path`` with the project's HDF5 reader (the sole importer of hdf5plugin)."""
    from leod_core.events.h5_store import ReprReader

    return ReprReader(path)


class ReprFiles:
    """Cache of open representation files of one process, keyed by path."""

    def __init__(self, reader_factory: ReaderFactory | None = None) -> None:
        self._factory = reader_factory or default_reader_factory
        self._open: dict[Path, ReprSource] = {}
        self._pid = os.getpid()

    def get(self, path: str | Path) -> ReprSource:
        if os.getpid() != self._pid:  # forked: the parent's handles are not ours to use
            self._open = {}
            self._pid = os.getpid()
        path = Path(path)
        reader = self._open.get(path)
        if reader is None:
            if not path.exists():
                raise FileNotFoundError(f"event representation file not found: {path}")
            reader = self._factory(path)
            self._open[path] = reader
        return reader

    def close(self) -> None:
        """Close every file opened by this process."""
        if os.getpid() == self._pid:
            for reader in self._open.values():
                close = getattr(reader, "close", None)
                if close is not None:
                    close()
                elif hasattr(reader, "__exit__"):
                    reader.__exit__(None, None, None)
        self._open = {}

    def __getstate__(self) -> dict:
        # pickling (spawned workers) carries the factory only; handles are reopened on demand
        return {"_factory": self._factory, "_open": {}, "_pid": -1}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()


def pad_to_hw(ev: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Zero-pad the last two axes at the bottom/right to ``hw`` (RVT "corner" padding)."""
    h, w = ev.shape[-2:]
    ph, pw = hw[0] - h, hw[1] - w
    if ph < 0 or pw < 0:
        raise ValueError(f"representation {h}x{w} is larger than the input size {hw[0]}x{hw[1]}")
    if ph == 0 and pw == 0:
        return ev
    return torch.nn.functional.pad(ev, (0, pw, 0, ph))


def read_clip_u8(reader: ReprSource, start: int, stop: int) -> torch.Tensor:
    """Reprs ``[start, stop)`` as stored: uint8 ``(n, 20, H, W)`` (one contiguous read)."""
    n = len(reader)
    if not 0 <= start < stop <= n:
        raise ValueError(f"clip [{start}, {stop}) outside the sequence's {n} representations")
    return torch.from_numpy(np.ascontiguousarray(reader.read(start, stop)))


def read_clip(reader: ReprSource, start: int, stop: int, input_hw: tuple[int, int] | None = None,
              length: int | None = None) -> torch.Tensor:
    """Reprs ``[start, stop)`` of one sequence as float32 ``(n, 20, H, W)`` (raw counts, no normalisation).

    ``input_hw``: zero-pad bottom/right to this size (``camera.input_hw``). ``length``: zero-pad at the
    back to this many timesteps (the last chunk of a stream). For evaluation/inference reuse.
    """
    ev = read_clip_u8(reader, start, stop).float()
    if length is not None and length > len(ev):
        ev = torch.cat([ev, ev.new_zeros((length - len(ev), *ev.shape[1:]))])
    return pad_to_hw(ev, input_hw) if input_hw is not None else ev
