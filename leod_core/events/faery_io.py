"""Prophesee EVT 2.0 / EVT 3.0 ``.raw`` and iniVation AEDAT4 recordings, decoded by ``faery``.

This is the only module importing ``faery`` (chosen after comparing the PyPI decoders:
docs/results/benchmarks.md, "Event decoders compared"; ``bench/bench_decode.py``). The decoding is faery's;
what is ours is the checking around it, so that every container behaves like ``.dat``: the ``.raw`` text
header is parsed here (the format must be declared, as ``% format EVT3;height=H;width=W`` or ``% evt 3.0``,
and be one we test; the geometry comes from ``format`` or ``% geometry WxH``), a body cut inside a word is
refused as truncated, events outside the declared geometry are refused, faery's own errors become one
``ValueError`` naming the file, and its small packets are regrouped into chunks of at most ``n_events``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leod_core.events.event_chunk import EventChunk

__all__ = ["RawHeader", "read_raw_header", "iter_raw_chunks", "iter_aedat4_chunks", "aedat4_geometry"]

#: ``.raw`` formats read, by the name of their ``% format`` line -> (``% evt`` version, word bytes)
RAW_FORMATS: dict[str, tuple[str, int]] = {"EVT3": ("3.0", 2), "EVT2": ("2.0", 4)}
_MAX_HEADER_LINES = 10_000  # a binary file that happens to start with "% " must not be read line by line forever


@dataclass(frozen=True)
class RawHeader:
    """What a ``.raw`` header declares: format (``EVT3``/``EVT2``), geometry, where the words start."""

    fmt: str
    height: int | None
    width: int | None
    body_offset: int


def read_raw_header(path: str | Path) -> RawHeader:
    """Parse the ``% `` text header of a ``.raw`` file; ValueError naming the file for a missing or
    unknown format, a bad geometry, or a body cut inside a word."""
    path = Path(path)
    fields: dict[str, str] = {}
    with open(path, "rb") as f:
        for _ in range(_MAX_HEADER_LINES):
            pos = f.tell()
            line = f.readline()
            if not line.startswith(b"% "):
                f.seek(pos)
                break
            key, _, value = line[2:].decode("ascii", errors="replace").strip().partition(" ")
            if key == "end":
                break
            fields.setdefault(key, value.strip())
        body_offset = f.tell()
    fmt, params = _format_of(fields, path)
    height = width = None
    if "height" in params or "width" in params:
        height, width = _int(params.get("height"), "height", path), _int(params.get("width"), "width", path)
    elif "geometry" in fields:
        w, _, h = fields["geometry"].partition("x")
        width, height = _int(w, "geometry", path), _int(h, "geometry", path)
    body = path.stat().st_size - body_offset
    word = RAW_FORMATS[fmt][1]
    if body % word:
        raise ValueError(f"{path}: truncated {fmt} file ({body} bytes of events is not a multiple of "
                         f"the {word}-byte word)")
    return RawHeader(fmt=fmt, height=height, width=width, body_offset=body_offset)


def _format_of(fields: dict[str, str], path: Path) -> tuple[str, dict[str, str]]:
    known = ", ".join(RAW_FORMATS)
    if "format" in fields:
        name, *rest = fields["format"].split(";")
        name = name.strip().upper()
        params = dict(p.split("=", 1) for p in rest if "=" in p)
    elif "evt" in fields:  # older Metavision headers: "% evt 3.0"
        by_version = {v: k for k, (v, _) in RAW_FORMATS.items()}
        name, params = by_version.get(fields["evt"], f"evt {fields['evt']}"), {}
    else:
        raise ValueError(f"{path}: no format in the header (need a '% format EVT3;height=H;width=W' or "
                         f"'% evt 3.0' line; leod reads {known})")
    if name not in RAW_FORMATS:
        raise ValueError(f"{path}: unsupported event format {name!r} (leod reads {known})")
    return name, {k.strip(): v.strip() for k, v in params.items()}


def _int(text: str | None, what: str, path: Path) -> int:
    try:
        value = int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{path}: bad {what} in the header ({text!r})") from None
    if value <= 0:
        raise ValueError(f"{path}: bad {what} in the header ({value})")
    return value


_FIELDS = (("t", np.uint64), ("x", np.uint16), ("y", np.uint16), ("on", np.bool_))


def _packets(stream: Iterator[np.ndarray], hw: tuple[int, int] | None, path: Path) -> Iterator[np.ndarray]:
    """faery's packets, its decoding errors (overflow, bad words) as one ValueError naming the file."""
    while True:
        try:
            packet = next(stream)
        except StopIteration:
            return
        except (RuntimeError, OSError, ValueError) as exc:
            if hw is not None and "overflow" in str(exc):  # faery checks the header's size too: as for .dat
                raise ValueError(f"{path}: events outside the declared sensor size {hw[0]}x{hw[1]} "
                                 f"({exc})") from None
            raise ValueError(f"{path}: cannot decode events ({exc})") from None
        yield packet


def _regroup(stream: Iterator[np.ndarray], n_events: int, hw: tuple[int, int] | None,
             path: Path) -> Iterator[EventChunk]:
    """faery's packets (structured arrays t, x, y, on; ~16 k events) as chunks of ``n_events``.

    Each field is copied once, straight into the chunk's own column (twice as fast as concatenating
    the packets); faery's uint64 times are viewed as int64 (microseconds stay far below 2^63).
    """
    cols: list[np.ndarray] = []
    filled = 0
    for packet in _packets(stream, hw, path):
        start = 0
        while start < len(packet):
            if not cols:
                cols, filled = [np.empty(n_events, dtype) for _, dtype in _FIELDS], 0
            take = min(n_events - filled, len(packet) - start)
            for col, (key, _) in zip(cols, _FIELDS):
                col[filled:filled + take] = packet[key][start:start + take]
            filled += take
            start += take
            if filled == n_events:
                yield _chunk(cols, hw, path)
                cols = []
    if cols:
        yield _chunk([c[:filled] for c in cols], hw, path)


def _chunk(cols: list[np.ndarray], hw: tuple[int, int] | None, path: Path) -> EventChunk:
    t, x, y, on = cols
    return EventChunk(t=t.view(np.int64), x=x, y=y, p=on.view(np.uint8)).check_within(hw, str(path))


def iter_raw_chunks(path: str | Path, n_events: int) -> Iterator[EventChunk]:
    """Stream an EVT 2.0 / EVT 3.0 ``.raw`` file in chunks of at most ``n_events`` (int64 us that keep
    increasing across EVT 3.0's 24-bit wraps)."""
    import faery

    path = Path(path)
    header = read_raw_header(path)
    hw = None if header.height is None else (header.height, header.width)
    if header.body_offset == path.stat().st_size:
        return iter(())
    # the header is ours to check; faery reads it again and gets the same format and size (EVT's
    # 11-bit addresses stay below the fallback when the header declares none)
    try:
        stream = faery.events_stream_from_file(path, dimensions_fallback=(2048, 2048))
    except (RuntimeError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot decode events ({exc})") from None
    return _regroup(iter(stream), n_events, hw, path)


def aedat4_geometry(path: str | Path) -> tuple[int, int]:
    """(height, width) of the first event stream of an AEDAT4 file."""
    import faery

    path = Path(path)
    try:
        width, height = faery.events_stream_from_file(path).dimensions()
    except (RuntimeError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable AEDAT4 event file ({exc})") from None
    return int(height), int(width)


def iter_aedat4_chunks(path: str | Path, n_events: int) -> Iterator[EventChunk]:
    """Stream the first event stream of an AEDAT4 file (timestamps as stored: DV writes Unix-epoch us)."""
    import faery

    path = Path(path)
    hw = aedat4_geometry(path)
    try:
        stream = faery.events_stream_from_file(path)
    except (RuntimeError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot decode events ({exc})") from None
    return _regroup(iter(stream), n_events, hw, path)
