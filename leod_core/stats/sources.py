"""Per-sequence realism measurements (:class:`~leod_core.stats.realism.SequenceRealism`) of the two kinds
of input ``leod stats`` reads:

- a preprocessed dataset (RVT layout): event counts are the sums of the stored 50 ms stacked
  histograms, a lower bound where a cell reached the histogram's count cutoff (reported as
  ``clipped_cell_share``); with a downsampled representation (gen4) the counts cover the kept pixels
  (every odd row and column), so events per pixel stay comparable. Boxes are the stored label frames
  (after the import's filters); a box is empty when its cells of the label's representation are all zero.
- event recordings (any format :mod:`leod_core.events.readers` reads), alone or beside a
  ``NAME_bbox.npy``/``.csv`` label file, flat in a folder or in ``train/ val/ test/``: events are streamed
  in chunks and counted per 50 ms window from the first event on; labels are used as they are (no import
  filter), one label frame per distinct box time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leod_core.cameras import CameraSpec
from leod_core.events.h5_store import ReprReader
from leod_core.events.readers import RECORDING_SUFFIXES, iter_recording_chunks, recording_geometry, recording_name
from leod_core.labels.label_files import LABEL_SUFFIXES, read_label_file
from leod_core.labels.rvt_labels import read_sequence_labels
from leod_core.layout import SPLITS, SequencePaths
from leod_core.representation import COUNT_CUTOFF
from leod_core.stats.realism import (WINDOW_US, SequenceRealism, WindowCounter, box_event_counts, count_image,
                                     frame_sizes)

__all__ = ["HISTOGRAM_COUNT_CUTOFF", "Recording", "find_recordings", "measure_recording",
           "measure_preprocessed_sequence", "sample_indices", "parse_hw"]

log = logging.getLogger(__name__)

#: the import's per-cell cutoff (RVT's too): a cell at it may have lost events
HISTOGRAM_COUNT_CUTOFF = COUNT_CUTOFF
CHUNK_EVENTS = 1 << 20
_BLOCK_BYTES = 64 << 20  # representation frames read at once


def parse_hw(text: str, key: str = "--sensor") -> tuple[int, int]:
    """``"HxW"`` -> (H, W); ValueError naming ``key`` otherwise."""
    h, sep, w = text.lower().partition("x")
    try:
        hw = (int(h), int(w))
    except ValueError:
        hw = (0, 0)
    if not sep or min(hw) <= 0:
        raise ValueError(f"{key}: expected HEIGHTxWIDTH in pixels (e.g. 720x1280), got {text!r}")
    return hw


def sample_indices(n: int, max_count: int) -> np.ndarray:
    """``max_count`` indices spread evenly over ``range(n)`` (all of them when ``max_count`` is 0 or >= n)."""
    if max_count <= 0 or max_count >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_count).round().astype(np.int64))


# ------------------------------------------------------------------ preprocessed (RVT layout)

def _runs(indices: np.ndarray, max_len: int) -> Iterator[tuple[int, int]]:
    """Sorted indices -> ``(start, stop)`` runs of consecutive ones, each at most ``max_len`` long."""
    if len(indices) == 0:
        return
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    for run in np.split(indices, breaks):
        for s in range(0, len(run), max_len):
            yield int(run[s]), int(run[min(s + max_len, len(run)) - 1]) + 1


def _track_ids(labels: np.ndarray, frame_of_box: np.ndarray, where: str) -> tuple[np.ndarray | None, str]:
    """Track ids of boxes, or None and why: no ``track_id`` field, or an id twice in one label frame (then
    they are not track ids, e.g. all 0 where a file had none)."""
    if labels.dtype.names is None or "track_id" not in labels.dtype.names:
        return None, "labels carry no track_id"
    ids = labels["track_id"].astype(np.int64)
    if len(ids) and len(np.unique(np.stack([ids, frame_of_box], axis=1), axis=0)) < len(ids):
        log.debug("%s: a track id repeats within a label frame: no track ids", where)
        return None, "track_id repeats within a label frame"
    return ids, ""


def measure_preprocessed_sequence(seq: SequencePaths, split: str, max_windows: int = 0) -> SequenceRealism:
    """The realism material of one RVT-layout sequence (module docstring); ``max_windows`` > 0 reads only
    that many representations, evenly spread, for the event rates (every label frame's is read anyway)."""
    camera = seq.camera
    labels, starts, repr_idx = read_sequence_labels(seq)
    repr_ts = np.asarray(np.load(seq.repr_timestamps, allow_pickle=False), dtype=np.int64)
    frame_counts = np.diff(np.append(starts, len(labels))).astype(np.int64)
    box_frame = np.repeat(np.arange(len(starts)), frame_counts)
    xywh = np.stack([labels[k].astype(np.float64) for k in ("x", "y", "w", "h")], axis=1) \
        if len(labels) else np.zeros((0, 4))
    box_events = np.full(len(labels), -1, np.int64)
    with ReprReader(seq.repr_h5) as reader:
        n, hw = len(reader), reader.hw
        if len(repr_ts) != n:
            raise ValueError(f"sequence {seq.name}: {len(repr_ts)} repr timestamps but {n} representations")
        if len(repr_idx) and (repr_idx.min() < 0 or repr_idx.max() >= n):
            raise ValueError(f"sequence {seq.name}: objframe_idx_2_repr_idx points outside the {n} representations")
        odd = hw != camera.sensor_hw
        if odd and hw != camera.repr_hw:
            raise ValueError(f"{seq.repr_h5}: representation {hw[0]}x{hw[1]} is neither the sensor size nor "
                             f"camera {camera.name}'s representation size")
        rate_idx = sample_indices(n, max_windows)
        wanted = np.union1d(rate_idx, repr_idx)
        frame_of_repr: dict[int, list[int]] = {}
        for f, r in enumerate(repr_idx.tolist()):
            frame_of_repr.setdefault(r, []).append(f)
        counts = np.zeros(n, np.int64)
        clipped = nonzero = 0
        block = max(1, _BLOCK_BYTES // (reader.channels * hw[0] * hw[1]))
        cell_dtype = np.uint16 if reader.channels * 255 <= np.iinfo(np.uint16).max else np.int64
        for a, b in _runs(wanted, block):
            frames = reader.read(a, b)
            images = frames.sum(axis=1, dtype=cell_dtype)  # events per cell, all bins and polarities
            counts[a:b] = images.reshape(b - a, -1).sum(axis=1, dtype=np.int64)
            if frames.max(initial=0) >= HISTOGRAM_COUNT_CUTOFF:  # rare: the comparison costs a read's time
                clipped += int(np.count_nonzero(frames >= HISTOGRAM_COUNT_CUTOFF))
            nonzero += int(np.count_nonzero(frames))
            for r in range(a, b):
                for f in frame_of_repr.get(r, ()):
                    sl = slice(starts[f], starts[f] + frame_counts[f])
                    box_events[sl] = box_event_counts(images[r - a], xywh[sl], odd_pixels_only=odd)
    track_ids, note = _track_ids(labels, box_frame, seq.name)
    duration = int(repr_ts[-1] - repr_ts[0] + WINDOW_US) if n else 0
    return SequenceRealism(
        name=seq.name, split=split, sensor_hw=camera.sensor_hw, sensor_source="camera", duration_us=duration,
        window_counts=counts[rate_idx], window_pixels=hw[0] * hw[1], has_labels=True,
        frame_box_counts=frame_counts, box_xywh=xywh, box_class=labels["class_id"].astype(np.int64),
        box_frame=box_frame, box_events=box_events, track_ids=track_ids, track_note=note,
        clipped_cells=clipped, nonzero_cells=nonzero, windows_total=n)


# ------------------------------------------------------------------ recordings

@dataclass(frozen=True)
class Recording:
    """An event recording, the split it was found in (``recordings`` when flat), its label file if any."""

    name: str
    split: str
    events: Path
    labels: Path | None


FLAT_SPLIT = "recordings"


def _recordings_in(folder: Path, split: str) -> list[Recording]:
    events: dict[str, Path] = {}
    labels: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        if not f.is_file():
            continue
        suffix = next((s for s in LABEL_SUFFIXES if f.name.endswith(s) and len(f.name) > len(s)), None)
        if suffix is not None:
            labels[f.name[: -len(suffix)]] = f
            continue
        name = recording_name(f)
        if name is not None:
            if name in events:
                raise ValueError(f"{folder}: two recordings of sequence {name}: {events[name].name}, {f.name}")
            events[name] = f
    for name in sorted(set(labels) - set(events)):
        log.warning("%s: label file %s has no recording beside it; ignored", folder, labels[name].name)
    return [Recording(n, split, events[n], labels.get(n)) for n in sorted(events)]


def find_recordings(path: str | Path) -> list[Recording]:
    """The recordings of ``path``: one recording file, a folder of them, or ``train/ val/ test/`` folders
    of them (labels paired by name). FileNotFoundError when there is none."""
    path = Path(path)
    if path.is_file():
        name = recording_name(path)
        if name is None:
            raise ValueError(f"{path}: not a recording leod reads (file names end with "
                             f"{', '.join(RECORDING_SUFFIXES)})")
        beside = next((path.with_name(name + s) for s in LABEL_SUFFIXES if path.with_name(name + s).is_file()), None)
        return [Recording(name, FLAT_SPLIT, path, beside)]
    found = _recordings_in(path, FLAT_SPLIT)
    for split in SPLITS:
        if (path / split).is_dir():
            found += _recordings_in(path / split, split)
    if not found:
        raise FileNotFoundError(f"{path}: no split folder ({', '.join(SPLITS)}) with a preprocessed sequence and "
                                f"no recording (*{', *'.join(RECORDING_SUFFIXES)})")
    return found


def _label_file_track_ids(path: Path) -> bool:
    """Whether a label file itself carries track ids (the reader fills 0 where it has none)."""
    if path.name.endswith(".csv"):
        with open(path, encoding="utf-8", errors="replace") as f:
            return "track_id" in [c.strip() for c in f.readline().split(",")]
    names = np.load(path, mmap_mode="r", allow_pickle=False).dtype.names or ()
    return "track_id" in names


def _sorted_chunks(path: Path, source: str) -> Iterator[np.ndarray]:
    """(t, x, y) of the recording's chunks with decreasing times raised to the running maximum (as RVT)."""
    last = None
    for chunk in iter_recording_chunks(path, CHUNK_EVENTS):
        if len(chunk) == 0:
            continue
        t = chunk.t
        if (last is not None and t[0] < last) or np.any(t[1:] < t[:-1]):
            t = np.maximum.accumulate(t) if last is None else np.maximum(np.maximum.accumulate(t), last)
        last = int(t[-1])
        yield t, chunk.x, chunk.y


def measure_recording(rec: Recording, camera: CameraSpec | None = None,
                      sensor_hw: tuple[int, int] | None = None) -> SequenceRealism:
    """The realism material of one recording (module docstring). The sensor size is, in this order:
    ``sensor_hw`` (``--sensor``), the header's, the camera's, or inferred from the largest coordinates
    (``sensor_source`` says which); a header that contradicts ``sensor_hw``/the camera is an error, and so
    is an event outside the sensor."""
    declared = recording_geometry(rec.events)
    given, given_by = (sensor_hw, "--sensor") if sensor_hw else \
        ((camera.sensor_hw, f"camera {camera.name}") if camera else (None, ""))
    if declared is not None and given is not None and declared != given:
        raise ValueError(f"{rec.events}: the header declares {declared[0]}x{declared[1]}, {given_by} says "
                         f"{given[0]}x{given[1]}")
    hw = given or declared
    source = "--sensor" if sensor_hw else ("header" if declared else ("camera" if camera else "inferred"))
    boxes = read_label_file(rec.labels) if rec.labels is not None else None
    if boxes is not None:
        boxes = boxes[np.argsort(boxes["t"], kind="stable")]
        box_frame, frame_counts = frame_sizes(boxes["t"])
        frame_t = np.unique(boxes["t"]).astype(np.int64)
        xywh = np.stack([boxes[k].astype(np.float64) for k in ("x", "y", "w", "h")], axis=1)
        box_events = np.zeros(len(boxes), np.int64)
        frame_start = np.searchsorted(boxes["t"], frame_t, side="left")
    counter = WindowCounter(WINDOW_US)
    max_x = max_y = -1
    for t, x, y in _sorted_chunks(rec.events, str(rec.events)):
        counter.add(t)
        cx, cy = int(x.max()), int(y.max())
        max_x, max_y = max(max_x, cx), max(max_y, cy)
        if hw is not None and (cx >= hw[1] or cy >= hw[0]):
            raise ValueError(f"{rec.events}: events outside the sensor size {hw[0]}x{hw[1]} ({source}; "
                             f"max x {cx}, max y {cy})")
        if boxes is None:
            continue
        # label windows [T - 50 ms, T] that overlap this chunk; each event is in one chunk, so the
        # per-box counts of the chunks add up
        lo = int(np.searchsorted(frame_t, t[0], side="left"))
        hi = int(np.searchsorted(frame_t - WINDOW_US, t[-1], side="right"))
        for f in range(lo, hi):
            a = int(np.searchsorted(t, frame_t[f] - WINDOW_US, side="left"))
            b = int(np.searchsorted(t, frame_t[f], side="right"))
            if b > a:
                shape = hw or (int(y[a:b].max()) + 1, int(x[a:b].max()) + 1)
                image = count_image(x[a:b], y[a:b], shape)
                sl = slice(frame_start[f], frame_start[f] + frame_counts[f])
                box_events[sl] += box_event_counts(image, xywh[sl])
    if hw is None:
        if max_x < 0:
            raise ValueError(f"{rec.events}: no events and no declared sensor size (pass --sensor HxW)")
        hw = (max_y + 1, max_x + 1)
    counts = counter.complete_counts()
    seq = SequenceRealism(name=rec.name, split=rec.split, sensor_hw=hw, sensor_source=source,
                          duration_us=counter.duration_us, window_counts=counts, window_pixels=hw[0] * hw[1],
                          windows_total=len(counts))
    if boxes is None:
        return seq
    # a label window outside the recorded time says nothing about the box: not measured
    t0 = counter.t0 if counter.t0 is not None else 0
    t1 = counter.t_last if counter.t_last is not None else -1
    covered = (frame_t - WINDOW_US >= t0) & (frame_t <= t1)
    box_events[~covered[box_frame]] = -1
    seq.has_labels = True
    seq.frame_box_counts, seq.box_xywh, seq.box_frame, seq.box_events = frame_counts, xywh, box_frame, box_events
    seq.box_class = boxes["class_id"].astype(np.int64)
    if _label_file_track_ids(rec.labels):
        seq.track_ids, seq.track_note = _track_ids(boxes, box_frame, rec.name)
    else:
        seq.track_note = "labels carry no track_id"
    return seq
