"""What ``leod predict`` streams: a recording (a raw event file, or an imported dataset sequence folder)
as 50 ms stacked-histogram frames, in memory bounded by a chunk of events, plus its ground truth if any.

A raw event file (any format of :mod:`leod_core.events.readers`) is cut into the windows ``[k*50 ms - 50 ms,
k*50 ms]``, k = 1, 2, ... up to the window holding the last event, with the import's histogram code
(:func:`leod_core.events.windows.iter_window_histograms`, the same bins, cutoff and 2x downsampling), so
the frames are those ``leod import`` computes for the same window ends. The windows are produced in
segments (the recording's length is not known before its end): each segment re-reads the tail of the
chunks the previous one consumed, so a segment boundary changes no histogram (tested against one call).
An imported sequence folder is read from its HDF5 representations with their own time stamps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leod_core.cameras import CameraSpec
from leod_core.events.event_chunk import EventChunk
from leod_core.events.grid import REPR_STEP_US
from leod_core.events.h5_store import ReprReader
from leod_core.events.prophesee_import import CHUNK_EVENTS, COUNT_CUTOFF, NBINS
from leod_core.events.readers import (RECORDING_SUFFIXES, iter_recording_chunks, recording_geometry,
                                      recording_name)
from leod_core.events.windows import iter_window_histograms
from leod_core.labels.boxes import validate_prophesee_boxes
from leod_core.labels.label_files import LABEL_SUFFIXES, read_label_file
from leod_core.labels.rvt_labels import read_sequence_labels
from leod_core.layout import REPR_DIR_NAME, SequencePaths

__all__ = ["Frame", "Recording", "open_recording", "iter_frames", "event_windows"]

log = logging.getLogger(__name__)

SEGMENT_WINDOWS = 200  # windows per call of the histogram stream (10 s): bounds its window-end array


@dataclass(frozen=True)
class Frame:
    """One 50 ms window: its index in the stream, its end time (us) and its uint8 (20, H, W) histogram."""

    index: int
    t_us: int
    repr: np.ndarray


@dataclass(frozen=True)
class Recording:
    """A recording to predict on: ``kind`` is ``events`` (a raw event file) or ``sequence`` (an imported
    dataset sequence folder); ``labels`` is its ground-truth ``*_bbox.npy`` file, if any (a sequence
    folder's labels are its own ``labels_v2``)."""

    path: Path
    name: str
    kind: str
    labels: Path | None


def _is_sequence_folder(path: Path) -> bool:
    return path.is_dir() and (path / "event_representations_v2" / REPR_DIR_NAME).is_dir()


def open_recording(path: str | Path, labels: str | Path | None = None) -> Recording:
    """Identify ``path``; ``labels``: a label file (``*_bbox.npy`` / ``*_bbox.csv``) or a folder holding
    ``NAME_bbox.npy`` or ``NAME_bbox.csv`` (default: beside a raw event file). One-line errors for a
    missing path or an unknown format."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"recording not found: {path}")
    if _is_sequence_folder(path):
        name, kind = path.name, "sequence"
    else:
        name = recording_name(path) if path.is_file() else None
        if name is None:
            raise ValueError(f"{path}: unknown recording format (an event file ending with "
                             f"{', '.join(RECORDING_SUFFIXES)}, or an imported dataset sequence folder)")
        kind = "events"
    gt = _labels_file(path, name, kind, labels)
    return Recording(path=path, name=name, kind=kind, labels=gt)


def _label_file_in(folder: Path, name: str) -> Path | None:
    return next((f for f in (folder / f"{name}{s}" for s in LABEL_SUFFIXES) if f.is_file()), None)


def _labels_file(path: Path, name: str, kind: str, labels: str | Path | None) -> Path | None:
    if labels is not None:
        labels = Path(labels)
        found = _label_file_in(labels, name) if labels.is_dir() else labels
        if found is None or not found.is_file():
            raise FileNotFoundError(f"labels of {name} not found: {labels}")
        return found
    return _label_file_in(path.parent, name) if kind == "events" else None


def read_ground_truth(rec: Recording, camera: CameraSpec) -> np.ndarray | None:
    """The recording's GT boxes (Prophesee dtype, sensor pixels, sorted by t), None when it has none."""
    if rec.labels is not None:
        boxes = read_label_file(rec.labels)
    elif rec.kind == "sequence":
        boxes = validate_prophesee_boxes(read_sequence_labels(SequencePaths(rec.path, camera))[0],
                                         source=str(rec.path))
    else:
        return None
    return boxes[np.argsort(boxes["t"], kind="stable")]


def iter_frames(rec: Recording, camera: CameraSpec, chunk_events: int = CHUNK_EVENTS) -> Iterator[Frame]:
    """The recording's 50 ms frames in time order; sizes are checked against ``camera`` first."""
    if rec.kind == "sequence":
        return _sequence_frames(SequencePaths(rec.path, camera), camera)
    geometry = recording_geometry(rec.path)
    if geometry is not None and tuple(geometry) != camera.sensor_hw:
        raise ValueError(f"{rec.path}: sensor size {geometry[0]}x{geometry[1]} differs from camera {camera.name} "
                         f"{camera.sensor_hw[0]}x{camera.sensor_hw[1]}")
    windows = event_windows(iter_recording_chunks(rec.path, chunk_events), camera, source=str(rec.path))
    return (Frame(i, t, h) for i, (t, h) in enumerate(windows))


def _sequence_frames(seq: SequencePaths, camera: CameraSpec, read_n: int = 16) -> Iterator[Frame]:
    for f in (seq.repr_h5, seq.repr_timestamps):
        if not f.is_file():
            raise FileNotFoundError(f"sequence {seq.name}: missing {f}")
    ts = np.load(seq.repr_timestamps, allow_pickle=False).astype(np.int64)
    with ReprReader(seq.repr_h5) as reader:
        if reader.hw != camera.repr_hw:
            raise ValueError(f"{seq.repr_h5}: representation size {reader.hw[0]}x{reader.hw[1]} differs from "
                             f"camera {camera.name} {camera.repr_hw[0]}x{camera.repr_hw[1]}")
        if len(reader) != len(ts):
            raise ValueError(f"sequence {seq.name}: {len(reader)} representations but {len(ts)} time stamps")
        for start in range(0, len(reader), read_n):
            block = reader.read(start, min(start + read_n, len(reader)))
            for k, rep in enumerate(block):
                yield Frame(start + k, int(ts[start + k]), rep)


class _Feed:
    """The chunks of one event stream, replayable from a time: each segment of windows is given the
    events at or after its first window's start that the previous segment already read, then fresh
    chunks. Decreasing timestamps are raised to the running maximum here (as the import does), so every
    chunk is sorted and a carried tail is found by binary search."""

    def __init__(self, chunks: Iterable[EventChunk | np.ndarray], source: str) -> None:
        self._chunks = iter(chunks)
        self._source = source
        self._recent: list[EventChunk] = []  # read chunks that can still reach the next segment
        self.exhausted = False
        self.events = 0
        self.max_t = -1
        self.repaired = 0

    def segment(self, start_us: int, keep_from_us: int) -> Iterator[EventChunk]:
        """Events from ``start_us`` on; chunks reaching ``keep_from_us`` (the next segment's start) are kept."""
        carried = [c[int(np.searchsorted(c.t, start_us, side="left")):] for c in self._recent]
        self._recent = [c for c in carried if len(c) and int(c.t[-1]) >= keep_from_us]
        yield from (c for c in carried if len(c))
        for chunk in self._chunks:
            if len(chunk) == 0:
                continue
            chunk = self._sorted(chunk if isinstance(chunk, EventChunk) else EventChunk.from_records(chunk))
            self.events += len(chunk)
            if int(chunk.t[-1]) >= keep_from_us:
                self._recent.append(chunk)
            yield chunk
        self.exhausted = True

    def _sorted(self, chunk: EventChunk) -> EventChunk:
        t = chunk.t
        if int(t[0]) >= self.max_t and not np.any(t[1:] < t[:-1]):
            self.max_t = int(t[-1])
            return chunk
        if int(t.min()) < 0:
            raise ValueError(f"{self._source}: negative event timestamps")
        fixed = np.maximum(np.maximum.accumulate(t), self.max_t)
        if self.repaired == 0:
            log.warning("%s: timestamps decrease; raising them to the running maximum (as RVT)", self._source)
        self.repaired += int(np.count_nonzero(fixed != t))
        self.max_t = int(fixed[-1])
        return EventChunk(fixed, chunk.x, chunk.y, chunk.p)


def event_windows(chunks: Iterable[EventChunk | np.ndarray], camera: CameraSpec, source: str = "events",
                  segment_windows: int = SEGMENT_WINDOWS) -> Iterator[tuple[int, np.ndarray]]:
    """``(end_us, uint8 (20, H, W) histogram)`` of every 50 ms window ending at k * 50 ms (k >= 1), up to
    the window that holds the last event; nothing for an empty stream. Memory: a few chunks."""
    feed = _Feed(chunks, source)
    last_end = 0
    while True:
        ends = last_end + REPR_STEP_US * np.arange(1, segment_windows + 1, dtype=np.int64)
        hists = iter_window_histograms(
            feed.segment(int(ends[0]) - REPR_STEP_US, int(ends[-1])), ends, REPR_STEP_US, camera.sensor_hw,
            bins=NBINS, count_cutoff=COUNT_CUTOFF, downsample_2x=camera.downsample_by_2, source=source)
        for end, hist in zip(ends.tolist(), hists):
            if feed.exhausted and (feed.events == 0 or last_end >= feed.max_t):
                return  # past the window of the last event: only empty windows would follow
            yield end, hist
            last_end = end
