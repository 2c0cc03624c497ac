"""Prophesee Event2D ``*_td.dat`` files: read (whole or in chunks) and write.

Format (docs/REFERENCE.md 1a): ASCII header lines starting with ``"% "``; if any, two bytes follow
(``ev_type``, ``ev_size`` = 8). Body: little-endian records ``uint32 t`` (us) + ``uint32`` word with
x in bits 0..13, y in bits 14..27 and p in bit 28. Header-less (legacy) files start directly with records.
Event types read: 0 (Event2D, Gen1 and older tools) and 12 (EventCD, what Metavision writes, e.g. Gen4
IMX636 recordings: the same layout with a 4-bit polarity field in bits 28..31, which must hold 0 or 1).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leod_core.atomic import atomic_path
from leod_core.events.event_chunk import EVENT_DTYPE, EventChunk

__all__ = ["EVENT_DTYPE", "DatEvents", "read_dat", "iter_dat_chunks", "write_dat", "read_dat_header"]

log = logging.getLogger(__name__)

_RAW_DTYPE = np.dtype([("t", "<u4"), ("w", "<u4")])
_EV_SIZE = 8
_COORD_LIMIT = 1 << 14
_T_LIMIT = 1 << 32
_EVENT2D, _EVENT_CD = 0, 12


@dataclass(frozen=True)
class DatHeader:
    """Parsed header: where the body starts, record size, sensor size (None if not declared)."""

    body_offset: int
    ev_size: int
    height: int | None
    width: int | None
    ev_type: int = _EVENT2D


@dataclass(frozen=True)
class DatEvents:
    """Events of one file (EVENT_DTYPE) with the sensor size the header declares (None if absent)."""

    events: np.ndarray
    height: int | None
    width: int | None


def read_dat_header(path: str | Path) -> DatHeader:
    """Parse the ASCII header of a .dat file; raise FileNotFoundError/ValueError on a bad file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event file not found: {path}")
    height = width = None
    n_header_lines = 0
    with open(path, "rb") as f:
        while True:
            pos = f.tell()
            line = f.readline()
            if not line.startswith(b"% "):
                f.seek(pos)
                break
            n_header_lines += 1
            words = line[2:].decode("ascii", errors="replace").split()
            if len(words) >= 2 and words[0] in ("Height", "Width"):
                try:
                    value = int(words[1])
                except ValueError:
                    raise ValueError(f"{path}: bad header line {line.strip()!r}") from None
                if words[0] == "Height":
                    height = value
                else:
                    width = value
        ev_type, ev_size = _EVENT2D, _EV_SIZE
        if n_header_lines:
            type_size = f.read(2)
            if len(type_size) < 2:
                raise ValueError(f"{path}: truncated header (missing event type/size bytes)")
            ev_type, ev_size = type_size[0], type_size[1]
            if ev_type not in (_EVENT2D, _EVENT_CD) or ev_size != _EV_SIZE:
                raise ValueError(f"{path}: unsupported event type {ev_type} / size {ev_size} "
                                 f"(need Event2D 0 or EventCD 12, 8 bytes)")
        body_offset = f.tell()
    body = path.stat().st_size - body_offset
    if body % ev_size:
        raise ValueError(f"{path}: truncated body ({body} bytes is not a multiple of the {ev_size}-byte event size)")
    return DatHeader(body_offset=body_offset, ev_size=ev_size, height=height, width=width, ev_type=ev_type)


def _decode(raw: np.ndarray, header: DatHeader, path: Path) -> EventChunk:
    w = raw["w"]
    if header.ev_type == _EVENT_CD:
        p = w >> 28
        if len(p) and int(p.max()) > 1:
            raise ValueError(f"{path}: CD event polarity {int(p.max())} (must be 0 or 1)")
    else:
        p = (w & 0x10000000) >> 28
    chunk = EventChunk(t=raw["t"].astype(np.int64), x=(w & 0x3FFF).astype(np.uint16),
                       y=((w & 0x0FFFC000) >> 14).astype(np.uint16), p=p.astype(np.uint8))
    hw = None if header.height is None or header.width is None else (header.height, header.width)
    return chunk.check_within(hw, str(path))


def iter_dat_chunks(path: str | Path, n_events: int) -> Iterator[EventChunk]:
    """Yield the events of a .dat file in chunks of at most ``n_events`` (memory-bounded)."""
    if n_events <= 0:
        raise ValueError(f"n_events must be positive, got {n_events}")
    path = Path(path)
    header = read_dat_header(path)
    with open(path, "rb") as f:
        f.seek(header.body_offset)
        while True:
            buf = f.read(n_events * _EV_SIZE)
            if not buf:
                return
            yield _decode(np.frombuffer(buf, dtype=_RAW_DTYPE), header, path)


def read_dat(path: str | Path) -> DatEvents:
    """Read a whole .dat file."""
    path = Path(path)
    header = read_dat_header(path)
    raw = np.fromfile(path, dtype=_RAW_DTYPE, offset=header.body_offset)
    return DatEvents(events=_decode(raw, header, path).to_records(), height=header.height, width=header.width)


def write_dat(path: str | Path, events: np.ndarray, height: int, width: int) -> Path:
    """Write events (fields t, x, y, p) as an Event2D .dat file with a header, atomically.

    Raises ValueError for timestamps outside [0, 2^32), unsorted timestamps, coordinates outside the
    sensor (or >= 2^14) and polarities other than 0/1.
    """
    path = Path(path)
    if events.dtype.names is None or not {"t", "x", "y", "p"} <= set(events.dtype.names):
        raise ValueError(f"{path}: events need fields t, x, y, p (got dtype {events.dtype})")
    if not (0 < height <= _COORD_LIMIT and 0 < width <= _COORD_LIMIT):
        raise ValueError(f"{path}: sensor size {height}x{width} outside 1..{_COORD_LIMIT}")
    t = np.asarray(events["t"], dtype=np.int64)
    x = np.asarray(events["x"], dtype=np.int64)
    y = np.asarray(events["y"], dtype=np.int64)
    p = np.asarray(events["p"], dtype=np.int64)
    if len(t):
        if t.min() < 0 or t.max() >= _T_LIMIT:
            raise ValueError(f"{path}: timestamps must lie in [0, 2^32) us")
        if np.any(np.diff(t) < 0):
            raise ValueError(f"{path}: timestamps are not sorted")
        if x.min() < 0 or y.min() < 0 or x.max() >= width or y.max() >= height:
            raise ValueError(f"{path}: event coordinates outside the sensor size {height}x{width}")
        if not np.all((p == 0) | (p == 1)):
            raise ValueError(f"{path}: polarity must be 0 or 1")
    raw = np.empty(len(t), dtype=_RAW_DTYPE)
    raw["t"] = t.astype(np.uint32)
    raw["w"] = (x | (y << 14) | (p << 28)).astype(np.uint32)
    header = (
        "% Data file containing Event2D events.\n"
        "% Version 2\n"
        f"% Height {height}\n"
        f"% Width {width}\n"
    ).encode("ascii") + bytes([0, _EV_SIZE])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(header)
            raw.tofile(f)
            f.flush()
            os.fsync(f.fileno())
    return path
