"""Realism statistics of an event dataset: the numbers that say whether a (synthetic) dataset looks like a
real one, computed the same way for a preprocessed RVT folder and for raw recordings, labelled or not.

Per sequence a :class:`SequenceRealism` holds the raw material (event counts of 50 ms windows, boxes of the
label frames, events inside each box); :func:`summarize` pools sequences into the reported numbers:

- events per pixel per second of every 50 ms window: median, p10, p90 (and mean);
- label frames per second of each sequence (label frames / sequence duration), then their median;
- boxes per label frame: mean and p90; class shares by class name;
- box size ``sqrt(w * h)`` in sensor pixels (p10, median, p90) and as a fraction of the sensor diagonal;
- the share of boxes with no event inside the box in the 50 ms window ending at the label time;
- how strongly labelled objects fire: events per box pixel and second in that window (p10, median, p90),
  and its median over the scene's median rate (``box_vs_scene_rate``: below 1, objects fire less than the
  average pixel and stand out only by their shape);
- track lengths: label frames per track id per sequence (n/a where labels carry no track ids).

Conventions (the unit tests pin them): a window ``[start, start + 50 ms)`` of a recording is half open;
the window of a label at ``T`` is ``[T - 50 ms, T]``, closed like a representation's
(:mod:`leod_core.events.windows`); a box covers the pixel columns ``floor(x) .. ceil(x + w) - 1`` (every
pixel it overlaps), clipped to the sensor. Nothing here loops over events in Python: window counts are
``np.searchsorted`` on sorted timestamps, events per box are read off an integral image.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from leod_core.representation import REPR_STEP_US

__all__ = [
    "WINDOW_US", "SequenceRealism", "window_event_counts", "WindowCounter", "rate_per_pixel_second",
    "count_image", "box_pixel_ranges", "box_event_counts", "frame_sizes", "track_lengths", "class_name",
    "summarize", "percentiles", "realism_report",
]

WINDOW_US = REPR_STEP_US  # the representation step: one 50 ms window per model step


def window_event_counts(t: np.ndarray, starts: np.ndarray, stops: np.ndarray, closed: bool = False) -> np.ndarray:
    """Events of sorted timestamps ``t`` in each window ``[start, stop)`` (``closed``: ``[start, stop]``)."""
    t = np.asarray(t)
    lo = np.searchsorted(t, np.asarray(starts), side="left")
    hi = np.searchsorted(t, np.asarray(stops), side="right" if closed else "left")
    return (hi - lo).astype(np.int64)


class WindowCounter:
    """Event counts of consecutive windows ``[t0 + k * window, t0 + (k + 1) * window)`` of a time-sorted
    stream fed chunk by chunk; ``t0`` is the first event's time. Memory: one int per window."""

    def __init__(self, window_us: int = WINDOW_US) -> None:
        if window_us <= 0:
            raise ValueError(f"window must be positive, got {window_us} us")
        self.window_us = int(window_us)
        self.t0: int | None = None
        self.t_last: int | None = None
        self._counts = np.zeros(0, np.int64)

    def add(self, t: np.ndarray) -> None:
        """Count the sorted timestamps ``t`` (each later than or equal to the previous chunk's)."""
        if len(t) == 0:
            return
        if self.t0 is None:
            self.t0 = int(t[0])
        first, last = (int(t[0]) - self.t0) // self.window_us, (int(t[-1]) - self.t0) // self.window_us
        edges = self.t0 + self.window_us * np.arange(first, last + 2, dtype=np.int64)
        counts = np.diff(np.searchsorted(t, edges, side="left"))
        if last + 1 > len(self._counts):
            self._counts = np.concatenate([self._counts, np.zeros(max(last + 1 - len(self._counts),
                                                                      len(self._counts)), np.int64)])
        self._counts[first:last + 1] += counts
        self.t_last = int(t[-1])

    def complete_counts(self) -> np.ndarray:
        """Counts of the windows whose end the stream has reached (the last event is at or after it)."""
        if self.t0 is None or self.t_last is None:
            return np.zeros(0, np.int64)
        n = (self.t_last - self.t0) // self.window_us
        return self._counts[:n].copy()

    @property
    def duration_us(self) -> int:
        """Time from the first to the last event."""
        return 0 if self.t0 is None or self.t_last is None else self.t_last - self.t0


def rate_per_pixel_second(counts: np.ndarray, n_pixels: int, window_us: int = WINDOW_US) -> np.ndarray:
    """Event counts of windows -> events per pixel per second."""
    if n_pixels <= 0:
        raise ValueError(f"pixel count must be positive, got {n_pixels}")
    return np.asarray(counts, dtype=np.float64) / n_pixels / (window_us * 1e-6)


def count_image(x: np.ndarray, y: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(H, W) int64 image of the number of events at each pixel."""
    h, w = hw
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    if len(x) and (x.max() >= w or y.max() >= h or x.min() < 0 or y.min() < 0):
        raise ValueError(f"events outside the {h}x{w} image")
    return np.bincount(y * w + x, minlength=h * w).reshape(h, w)


def box_pixel_ranges(boxes: np.ndarray, hw: tuple[int, int], odd_pixels_only: bool = False) -> np.ndarray:
    """(N, 4) int ``x0, x1, y0, y1``: the image cells a box covers, as half-open ranges.

    ``boxes`` is (N, 4) top-left ``x, y, w, h`` in sensor pixels; a box covers the pixels it overlaps,
    ``floor(x) .. ceil(x + w) - 1``. ``odd_pixels_only``: the image keeps sensor pixel ``2j + 1`` as cell
    ``j`` (the gen4 representation, nearest-exact downsampling), so sensor range ``[a, b)`` -> cells
    ``[a // 2, b // 2)``. ``hw`` is the image size; ranges are clipped to it (empty where outside).
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0 = np.floor(b[:, 0]), np.floor(b[:, 1])
    x1, y1 = np.ceil(b[:, 0] + b[:, 2]), np.ceil(b[:, 1] + b[:, 3])
    r = np.stack([x0, x1, y0, y1], axis=1).astype(np.int64)
    if odd_pixels_only:
        r = r // 2
    h, w = hw
    r[:, 0:2] = np.clip(r[:, 0:2], 0, w)
    r[:, 2:4] = np.clip(r[:, 2:4], 0, h)
    r[:, 1] = np.maximum(r[:, 1], r[:, 0])
    r[:, 3] = np.maximum(r[:, 3], r[:, 2])
    return r


def box_event_counts(image: np.ndarray, boxes: np.ndarray, odd_pixels_only: bool = False) -> np.ndarray:
    """Sum of ``image`` (events per cell) inside each box ((N, 4) ``x, y, w, h``, sensor pixels): an
    integral image, then four look-ups per box."""
    image = np.asarray(image)
    h, w = image.shape
    r = box_pixel_ranges(boxes, (h, w), odd_pixels_only)
    ii = np.zeros((h + 1, w + 1), np.int64)
    np.cumsum(np.cumsum(image, axis=0, dtype=np.int64), axis=1, out=ii[1:, 1:])
    x0, x1, y0, y1 = r.T
    return ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]


def frame_sizes(box_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label frames of boxes sorted by time: (frame index of each box, boxes per frame); one frame per
    distinct timestamp."""
    box_t = np.asarray(box_t)
    if len(box_t) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, frame_of_box, sizes = np.unique(box_t, return_inverse=True, return_counts=True)
    return frame_of_box.astype(np.int64).reshape(-1), sizes.astype(np.int64)


def track_lengths(track_ids: np.ndarray, frame_of_box: np.ndarray) -> np.ndarray:
    """Label frames per track id (one sequence): the number of distinct frames each id appears in."""
    track_ids, frame_of_box = np.asarray(track_ids, np.int64), np.asarray(frame_of_box, np.int64)
    if len(track_ids) == 0:
        return np.zeros(0, np.int64)
    pairs = np.unique(np.stack([track_ids, frame_of_box], axis=1), axis=0)
    return np.unique(pairs[:, 0], return_counts=True)[1].astype(np.int64)


def class_name(class_id: int, class_names: Sequence[str]) -> str:
    """A class id's name (``class_<id>`` beyond the list)."""
    return class_names[class_id] if 0 <= class_id < len(class_names) else f"class_{class_id}"


@dataclass
class SequenceRealism:
    """The raw material of one sequence's statistics.

    ``window_counts`` are events of the 50 ms windows measured, over ``window_pixels`` pixels (the sensor,
    or the pixels a downsampled representation keeps). Boxes: one row per box of ``box_xywh`` (sensor
    pixels), ``box_class``, ``box_frame`` (label-frame index), ``box_events`` (events inside the box in its
    label window; -1 where not measured, e.g. the window leaves the recording); ``frame_box_counts`` per
    label frame; ``track_ids`` per box or None (labels without track ids). ``has_labels`` False: a
    recording without a label file (its label statistics are n/a, not zero).
    """

    name: str
    split: str
    sensor_hw: tuple[int, int]
    sensor_source: str  # camera | header | inferred | --sensor
    duration_us: int
    window_counts: np.ndarray
    window_pixels: int
    window_us: int = WINDOW_US
    has_labels: bool = False
    frame_box_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    box_xywh: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float64))
    box_class: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    box_frame: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    box_events: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    track_ids: np.ndarray | None = None
    track_note: str = ""  # why track ids are n/a
    clipped_cells: int | None = None  # representation cells at the histogram's count cutoff
    nonzero_cells: int | None = None
    windows_total: int | None = None  # windows the sequence has (when only some were measured)

    @property
    def ev_px_s(self) -> np.ndarray:
        return rate_per_pixel_second(self.window_counts, self.window_pixels, self.window_us) \
            if len(self.window_counts) else np.zeros(0)

    @property
    def label_fps(self) -> float | None:
        if not self.has_labels or self.duration_us <= 0:
            return None
        return len(self.frame_box_counts) / (self.duration_us * 1e-6)

    @property
    def box_size_px(self) -> np.ndarray:
        return np.sqrt(self.box_xywh[:, 2].astype(np.float64) * self.box_xywh[:, 3])

    @property
    def box_area_px(self) -> np.ndarray:
        """The sensor pixels each box covers, scaled like ``window_pixels`` (a downsampled representation
        keeps a quarter of them), so a box's rate compares with the scene's ``ev_px_s``."""
        r = box_pixel_ranges(self.box_xywh, self.sensor_hw) if len(self.box_xywh) else np.zeros((0, 4), np.int64)
        kept = self.window_pixels / (self.sensor_hw[0] * self.sensor_hw[1])
        return ((r[:, 1] - r[:, 0]) * (r[:, 3] - r[:, 2])).astype(np.float64) * kept

    @property
    def diagonal_px(self) -> float:
        h, w = self.sensor_hw
        return float(np.hypot(h, w))

    def track_length_array(self) -> np.ndarray | None:
        return None if self.track_ids is None else track_lengths(self.track_ids, self.box_frame)


def percentiles(values: Iterable[float] | np.ndarray, keys: Sequence[str] = ("p10", "median", "p90"),
                ) -> dict[str, float] | None:
    """Named statistics of ``values`` (p10/median/p90/mean/pNN, numpy's linear interpolation); None if empty."""
    v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    if v.size == 0:
        return None
    out = {}
    for k in keys:
        if k == "mean":
            out[k] = float(np.mean(v))
        elif k == "median":
            out[k] = float(np.median(v))
        else:
            out[k] = float(np.percentile(v, float(k[1:])))
    return out


def _hw(hw: tuple[int, int]) -> str:
    return f"{hw[0]}x{hw[1]}"


def summarize(seqs: Sequence[SequenceRealism], class_names: Sequence[str] = ()) -> dict:
    """The reported numbers of a group of sequences (a split, or all); JSON-ready (None = n/a)."""
    rates = np.concatenate([s.ev_px_s for s in seqs]) if seqs else np.zeros(0)
    labelled = [s for s in seqs if s.has_labels]
    fps = [s.label_fps for s in labelled if s.label_fps is not None]
    frames = np.concatenate([s.frame_box_counts for s in labelled]) if labelled else np.zeros(0, np.int64)
    classes = np.concatenate([s.box_class for s in labelled]) if labelled else np.zeros(0, np.int64)
    sizes = np.concatenate([s.box_size_px for s in labelled]) if labelled else np.zeros(0)
    diag = np.concatenate([s.box_size_px / s.diagonal_px for s in labelled]) if labelled else np.zeros(0)
    events = np.concatenate([s.box_events for s in labelled]) if labelled else np.zeros(0, np.int64)
    areas = np.concatenate([s.box_area_px for s in labelled]) if labelled else np.zeros(0)
    checked = events[events >= 0]
    # how strongly a labelled object fires: its events per pixel and second in its label window, and that
    # over the scene's median rate (an object a detector can see stands out of the background)
    box_rates = events[events >= 0] / np.maximum(areas[events >= 0], 1.0) / (WINDOW_US * 1e-6)
    out: dict = {
        "sequences": len(seqs),
        "labelled_sequences": len(labelled),
        "sensor": sorted({_hw(s.sensor_hw) for s in seqs}),
        "sensor_source": sorted({s.sensor_source for s in seqs}),
        "duration_s": float(sum(s.duration_us for s in seqs) * 1e-6),
        "duration_s_per_sequence": percentiles([s.duration_us * 1e-6 for s in seqs], ("median", "p10", "p90")),
        "windows": int(rates.size),
        "ev_px_s": percentiles(rates, ("median", "p10", "p90", "mean")),
    }
    clipped = [s for s in seqs if s.clipped_cells is not None and s.nonzero_cells]
    if clipped:
        out["clipped_cell_share"] = sum(s.clipped_cells for s in clipped) / sum(s.nonzero_cells for s in clipped)
    out.update({
        "label_frames": int(frames.size),
        "label_fps": percentiles(fps, ("median", "p10", "p90")),
        "boxes": int(classes.size),
        "boxes_per_frame": percentiles(frames, ("mean", "p90")),
        "class_shares": _class_shares(classes, class_names) if classes.size else None,
        "box_size_px": percentiles(sizes),
        "box_size_diag": percentiles(diag),
        "boxes_checked": int(checked.size),
        "empty_boxes": int(np.count_nonzero(checked == 0)),
        "empty_box_share": float(np.mean(checked == 0)) if checked.size else None,
        "box_ev_px_s": percentiles(box_rates),
        "box_vs_scene_rate": (float(np.median(box_rates) / np.median(rates))
                              if box_rates.size and rates.size and np.median(rates) > 0 else None),
    })
    tracks = [s.track_length_array() for s in labelled]
    if labelled and all(t is not None for t in tracks):
        lengths = np.concatenate(tracks)
        out["track_length"] = {"tracks": int(lengths.size), **(percentiles(lengths, ("median", "mean", "p10", "p90"))
                                                                 or {})}
        out["track_length_note"] = None
    else:
        out["track_length"] = None
        notes = sorted({s.track_note for s in labelled if s.track_ids is None and s.track_note})
        out["track_length_note"] = "; ".join(notes) if notes else "no labels"
    return out


def _class_shares(classes: np.ndarray, class_names: Sequence[str]) -> dict[str, float]:
    ids, counts = np.unique(classes, return_counts=True)
    total = counts.sum()
    return {class_name(int(i), class_names): float(c / total) for i, c in zip(ids, counts)}


def realism_report(seqs: Sequence[SequenceRealism], class_names: Sequence[str] = (), **meta: object) -> dict:
    """Per split and pooled (``all``) summaries, one small line per sequence, and ``meta`` (input, kind,
    camera, ...) first: the ``--json`` document."""
    splits: dict[str, list[SequenceRealism]] = {}
    for s in seqs:
        splits.setdefault(s.split, []).append(s)
    return {
        **meta,
        "window_us": WINDOW_US,
        "splits": {name: summarize(group, class_names) for name, group in splits.items()},
        "all": summarize(seqs, class_names),
        "per_sequence": [{
            "split": s.split, "name": s.name, "sensor": _hw(s.sensor_hw), "duration_s": s.duration_us * 1e-6,
            "windows": int(len(s.window_counts)), "windows_total": s.windows_total,
            "ev_px_s_median": float(np.median(s.ev_px_s)) if len(s.window_counts) else None,
            "label_frames": int(len(s.frame_box_counts)) if s.has_labels else None,
            "label_fps": s.label_fps, "boxes": int(len(s.box_class)) if s.has_labels else None,
        } for s in seqs],
    }
