"""A chunk of events as contiguous columns: what the readers yield and the histogram stream consumes.

Columns rather than one ``EVENT_DTYPE`` record array because every pass over a field of a 13-byte record
is a strided read: on the streaming path that cost more than building the histograms themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EVENT_DTYPE", "EventChunk"]

#: In-memory event record used throughout leod: t in microseconds, pixel x/y, polarity 0/1.
EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "<u1")])


@dataclass(frozen=True)
class EventChunk:
    """Events in time order of a file: ``t`` int64 (us), ``x``/``y`` uint16, ``p`` uint8 (0/1), equal lengths."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray

    def __post_init__(self) -> None:
        # one dtype per column keeps the compiled histogram loops to one signature
        n = len(self.t)
        for k in ("t", "x", "y", "p"):
            a = np.asarray(getattr(self, k))
            if len(a) != n:
                raise ValueError(f"event columns differ in length: t {n}, {k} {len(a)}")
            target = EVENT_DTYPE[k]
            if a.dtype != target and n and not np.issubdtype(target, np.signedinteger):
                info = np.iinfo(target)
                if a.min() < info.min or a.max() > info.max:  # a cast would wrap them into the valid range
                    raise ValueError(f"event field {k} has values outside [{info.min}, {info.max}]")
            object.__setattr__(self, k, a.astype(target, copy=False))

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, index: slice) -> EventChunk:
        """A slice of the events (views, no copy)."""
        if not isinstance(index, slice):
            raise TypeError("EventChunk supports slices only")
        return EventChunk(self.t[index], self.x[index], self.y[index], self.p[index])

    @staticmethod
    def concat(first: EventChunk, second: EventChunk) -> EventChunk:
        """The events of ``first`` followed by those of ``second`` (new arrays)."""
        return EventChunk(*(np.concatenate([getattr(first, k), getattr(second, k)]) for k in ("t", "x", "y", "p")))

    @classmethod
    def empty(cls) -> EventChunk:
        """No events."""
        return cls.from_records(np.zeros(0, dtype=EVENT_DTYPE))

    @classmethod
    def from_records(cls, events: np.ndarray) -> EventChunk:
        """Columns (contiguous copies) of an ``EVENT_DTYPE``-like record array."""
        return cls(*(np.ascontiguousarray(events[k], dtype=EVENT_DTYPE[k]) for k in ("t", "x", "y", "p")))

    def check_within(self, hw: tuple[int, int] | None, source: str) -> EventChunk:
        """Self, after a ValueError naming ``source`` if an event lies outside the declared (height,
        width) ``hw`` (None: nothing declared, nothing to check)."""
        if hw is not None and len(self):
            max_x, max_y = int(self.x.max()), int(self.y.max())
            if max_x >= hw[1] or max_y >= hw[0]:
                raise ValueError(f"{source}: events outside the declared sensor size {hw[0]}x{hw[1]} "
                                 f"(max x {max_x}, max y {max_y})")
        return self

    def to_records(self) -> np.ndarray:
        """The same events as an ``EVENT_DTYPE`` record array."""
        out = np.empty(len(self), dtype=EVENT_DTYPE)
        for k in ("t", "x", "y", "p"):
            out[k] = getattr(self, k)
        return out
