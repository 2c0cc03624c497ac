"""HDF5 files: event representations (RVT layout) and RVT's re-packaged raw events.

This is the only module importing ``hdf5plugin`` (it registers the Blosc filter 32001 with h5py, needed
to read RVT's files: docs/REFERENCE.md 1b and section 10 item 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import h5py
import hdf5plugin
import numpy as np

from leod_core.atomic import atomic_path
from leod_core.events.event_chunk import EventChunk

__all__ = [
    "REPR_KEY", "blosc_zstd", "write_representations", "ReprReader",
    "EventH5Info", "read_event_h5_info", "iter_event_h5_chunks", "write_event_h5",
]

REPR_KEY = "data"
_WRITE_BLOCK = 16  # frames buffered per HDF5 resize+write


def blosc_zstd() -> hdf5plugin.Blosc:
    """RVT's compression: Blosc zstd, level 1, byte shuffle = filter 32001 opts (0,0,0,0,1,1,5)."""
    return hdf5plugin.Blosc(cname="zstd", clevel=1, shuffle=hdf5plugin.Blosc.SHUFFLE)


def _open(path: Path, what: str) -> h5py.File:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:  # h5py reports non-HDF5 and truncated files as OSError
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from None


def write_representations(path: str | Path, frames: Iterable[np.ndarray], hw: tuple[int, int],
                          num_frames: int | None = None, channels: int = 20) -> int:
    """Write uint8 ``(channels, H, W)`` frames into dataset ``data`` ``(T, channels, H, W)``, atomically.

    Frames are consumed lazily (memory holds a few frames). If ``num_frames`` is given the count must match.
    Returns the number of frames written.
    """
    path = Path(path)
    shape = (channels, *hw)
    written = 0
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            ds = f.create_dataset(REPR_KEY, shape=(0, *shape), maxshape=(None, *shape), chunks=(1, *shape),
                                  dtype=np.uint8, **blosc_zstd())
            block: list[np.ndarray] = []

            def flush() -> None:
                nonlocal written
                if block:
                    ds.resize(written + len(block), axis=0)
                    ds[written:written + len(block)] = np.stack(block)
                    written += len(block)
                    block.clear()

            for frame in frames:
                if frame.shape != shape or frame.dtype != np.uint8:
                    raise ValueError(f"{path}: frame {written + len(block)} is {frame.dtype} {frame.shape}, "
                                     f"expected uint8 {shape}")
                block.append(frame)
                if len(block) == _WRITE_BLOCK:
                    flush()
            flush()
        if num_frames is not None and written != num_frames:
            raise ValueError(f"{path}: wrote {written} frames, expected {num_frames}")
    return written


class ReprReader:
    """Read access to an event-representation HDF5; the file stays open until :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = _open(self.path, "representation file")
        ds = self._file.get(REPR_KEY)
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 4 or ds.dtype != np.uint8:
            self._file.close()
            raise ValueError(f"{self.path}: expected uint8 dataset '{REPR_KEY}' of shape (T, C, H, W)")
        self._ds = ds

    def __len__(self) -> int:
        return int(self._ds.shape[0])

    @property
    def hw(self) -> tuple[int, int]:
        return int(self._ds.shape[2]), int(self._ds.shape[3])

    @property
    def channels(self) -> int:
        return int(self._ds.shape[1])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` as uint8 ``(n, C, H, W)``; raises IndexError outside ``[0, len]``."""
        if not 0 <= start <= stop <= len(self):
            raise IndexError(f"{self.path}: frames {start}:{stop} outside 0:{len(self)}")
        try:
            return self._ds[start:stop]
        except OSError as exc:  # corrupt chunk / missing filter
            raise ValueError(f"{self.path}: cannot read frames {start}:{stop} ({exc})") from None

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ReprReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass(frozen=True)
class EventH5Info:
    """Size of an RVT raw-event HDF5 (group ``events`` with ``x y p t``, optional ``height``/``width``)."""

    num_events: int
    height: int | None
    width: int | None


def read_event_h5_info(path: str | Path) -> EventH5Info:
    """Number of events and declared sensor size (None if not stored) of a raw-event HDF5."""
    path = Path(path)
    with _open(path, "event file") as f:
        group = _event_group(f, path)
        size = {k: int(group[k][()]) if k in group else None for k in ("height", "width")}
        return EventH5Info(int(group["t"].shape[0]), size["height"], size["width"])


def _event_group(f: h5py.File, path: Path) -> h5py.Group:
    group = f.get("events")
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{path}: no 'events' group")
    for key in ("x", "y", "p", "t"):
        if key not in group:
            raise ValueError(f"{path}: 'events' group lacks dataset '{key}'")
    n = group["t"].shape[0]
    if any(group[k].shape[0] != n for k in ("x", "y", "p")):
        raise ValueError(f"{path}: event datasets x, y, p, t differ in length")
    return group


def iter_event_h5_chunks(path: str | Path, n_events: int) -> Iterator[EventChunk]:
    """Yield event chunks of at most ``n_events`` (p clipped to >= 0 like RVT's H5Reader).

    Timestamps are returned as stored; repairing non-monotonic ones is the caller's job.
    """
    if n_events <= 0:
        raise ValueError(f"n_events must be positive, got {n_events}")
    path = Path(path)
    with _open(path, "event file") as f:
        group = _event_group(f, path)
        n = group["t"].shape[0]
        for start in range(0, n, n_events):
            stop = min(start + n_events, n)
            try:
                cols = {k: np.asarray(group[k][start:stop], dtype=np.int64) for k in ("x", "y", "p", "t")}
            except OSError as exc:
                raise ValueError(f"{path}: cannot read events {start}:{stop} ({exc})") from None
            if stop > start and (cols["x"].min() < 0 or cols["y"].min() < 0
                                 or cols["x"].max() >= 1 << 16 or cols["y"].max() >= 1 << 16):
                raise ValueError(f"{path}: event coordinates out of range")
            if stop > start and cols["p"].max() > 1:
                raise ValueError(f"{path}: event polarity > 1")
            # RVT stores -1/1 in some files: clip to 0/1
            yield EventChunk(t=cols["t"], x=cols["x"].astype(np.uint16), y=cols["y"].astype(np.uint16),
                             p=np.maximum(cols["p"], 0).astype(np.uint8))


def write_event_h5(path: str | Path, events: np.ndarray, height: int, width: int) -> Path:
    """Write events in RVT's raw HDF5 layout (Blosc-compressed), atomically. Mainly for tests and tools."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("events")
            for key, dtype in (("x", np.uint16), ("y", np.uint16), ("p", np.int8), ("t", np.int64)):
                g.create_dataset(key, data=np.asarray(events[key], dtype=dtype), **blosc_zstd())
            g.create_dataset("height", data=height)
            g.create_dataset("width", data=width)
    return path
