"""Raw dataset (per sequence a recording of any format :mod:`leod_core.events.readers` reads, e.g.
``NAME_td.dat``, ``NAME.raw``, ``NAME.aedat4``, RVT's ``NAME_td.h5``, beside ``NAME_bbox.npy`` or
``NAME_bbox.csv``) -> RVT layout.

One sequence at a time (:func:`import_sequence`, a pure per-sequence function the orchestration layer
maps); events are streamed in chunks, so memory is bounded by a chunk plus one 50 ms window.
"""

from __future__ import annotations

import functools
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leod_core.atomic import atomic_dir
from leod_core.cameras import CameraSpec
from leod_core.events.event_chunk import EventChunk
from leod_core.events.grid import REPR_STEP_US, apply_label_filters, label_frames_and_repr_grid
from leod_core.events.h5_store import write_representations
from leod_core.events.readers import RECORDING_SUFFIXES, iter_recording_chunks, recording_geometry, recording_name
from leod_core.events.windows import StreamStats, iter_window_histograms
from leod_core.labels.label_files import LABEL_SUFFIXES, read_label_file
from leod_core.labels.rvt_labels import build_labels_full, write_labels_npz
from leod_core.layout import SPLITS, SequencePaths, list_sequences
from leod_core.representation import COUNT_CUTOFF, NBINS

__all__ = [
    "RawSequence", "ImportedSequence", "find_raw_sequences", "import_sequence", "is_rvt_preprocessed",
    "import_dataset",
]

log = logging.getLogger(__name__)

CHUNK_EVENTS = 1 << 20  # events read per chunk (~30 MB of working memory)


@dataclass(frozen=True)
class RawSequence:
    """One raw sequence: its event file and its box file."""

    name: str
    split: str
    events: Path
    boxes: Path


@dataclass(frozen=True)
class ImportedSequence:
    """What :func:`import_sequence` wrote."""

    name: str
    split: str
    num_events: int
    num_reprs: int
    num_label_frames: int
    num_boxes: int
    timestamps_repaired: int
    mean_events_per_repr: float


def find_raw_sequences(src_root: str | Path, split: str) -> list[RawSequence]:
    """Pair event and box files of ``<src_root>/<split>``, sorted by name.

    Raises FileNotFoundError for a missing split folder and ValueError naming the missing partner file.
    """
    split_dir = Path(src_root) / split
    if not split_dir.is_dir():
        raise FileNotFoundError(f"raw dataset split folder not found: {split_dir}")
    events: dict[str, Path] = {}
    boxes: dict[str, Path] = {}
    for f in sorted(split_dir.iterdir()):
        label_suffix = next((s for s in LABEL_SUFFIXES if f.name.endswith(s)), None)
        if label_suffix is not None:
            name = f.name[: -len(label_suffix)]
            if name in boxes:
                raise ValueError(f"{split_dir}: two label files for sequence {name}: {boxes[name].name}, {f.name}")
            boxes[name] = f
            continue
        name = recording_name(f)
        if name is not None:
            if name in events:
                raise ValueError(f"{split_dir}: two event files for sequence {name}: "
                                 f"{events[name].name}, {f.name}")
            events[name] = f
    for name in sorted(set(events) ^ set(boxes)):
        missing = (" or ".join(name + s for s in LABEL_SUFFIXES) if name in events
                   else f"a recording {' / '.join(name + s for s in RECORDING_SUFFIXES)}")
        raise ValueError(f"{split_dir}: sequence {name} lacks its partner file {missing}")
    return [RawSequence(n, split, events[n], boxes[n]) for n in sorted(events)]


def _event_chunks(path: Path, camera: CameraSpec) -> Iterator[EventChunk]:
    """Chunks of a recording (any format of :mod:`leod_core.events.readers`); a declared sensor size
    must match the camera."""
    hw = recording_geometry(path)
    if hw is not None and hw != camera.sensor_hw:
        raise ValueError(f"{path}: sensor size {hw[0]}x{hw[1]} differs from camera {camera.name} "
                         f"{camera.sensor_hw[0]}x{camera.sensor_hw[1]}")
    return iter_recording_chunks(path, CHUNK_EVENTS)


def import_sequence(raw: RawSequence, dst_split_dir: str | Path, camera: CameraSpec,
                    split: str | None = None) -> ImportedSequence | None:
    """Write one sequence in RVT layout under ``dst_split_dir/<name>`` (the whole folder atomically).

    Returns None (with a warning, and any old output folder removed) when no label survives the filters.
    """
    split = split or raw.split
    dst = Path(dst_split_dir) / raw.name
    boxes = apply_label_filters(read_label_file(raw.boxes), camera, split, source=str(raw.boxes))
    boxes = boxes[np.argsort(boxes["t"], kind="stable")]
    grid = None
    if len(boxes):
        try:
            grid = label_frames_and_repr_grid(np.unique(boxes["t"]), camera)
        except ValueError as exc:
            if "no label at or after" not in str(exc):
                raise ValueError(f"{raw.boxes}: {exc}") from None
    if grid is None:
        log.warning("%s/%s: no labels left after filtering; sequence skipped", split, raw.name)
        shutil.rmtree(dst, ignore_errors=True)
        return None
    labels = boxes[np.isin(boxes["t"], grid.frame_ts_us)]
    label_starts = np.searchsorted(labels["t"], grid.frame_ts_us, side="left").astype(np.int64)

    stats = StreamStats()
    with atomic_dir(dst) as tmp:
        seq = SequencePaths(tmp, camera)
        seq.labels_npz.parent.mkdir(parents=True)
        seq.repr_dir.mkdir(parents=True)
        write_labels_npz(seq.labels_npz, labels, label_starts)
        np.save(seq.label_timestamps, grid.frame_ts_us)
        np.save(seq.objframe_idx_2_repr_idx, grid.objframe_idx_2_repr_idx)
        np.save(seq.repr_timestamps, grid.repr_end_ts_us)
        frames = iter_window_histograms(
            _event_chunks(raw.events, camera), grid.repr_end_ts_us, REPR_STEP_US, camera.sensor_hw,
            bins=NBINS, count_cutoff=COUNT_CUTOFF, downsample_2x=camera.downsample_by_2,
            source=str(raw.events), stats=stats)
        with _progress(len(grid.repr_end_ts_us), f"{split}/{raw.name}") as bar:
            write_representations(seq.repr_h5, _counted(frames, bar), camera.repr_hw,
                                  num_frames=len(grid.repr_end_ts_us), channels=2 * NBINS)
    per_repr = stats.events_per_window or [0]
    return ImportedSequence(
        name=raw.name, split=split, num_events=stats.events_read, num_reprs=len(grid.repr_end_ts_us),
        num_label_frames=len(grid.frame_ts_us), num_boxes=len(labels),
        timestamps_repaired=stats.timestamps_repaired, mean_events_per_repr=float(np.mean(per_repr)))


def _progress(total: int, desc: str) -> Any:
    """A per-sequence bar in 50 ms frames, on a terminal only (none in logs, CI or a captured stderr)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=None, leave=False, dynamic_ncols=True)


def _counted(frames: Iterable[np.ndarray], bar: Any) -> Iterator[np.ndarray]:
    for frame in frames:
        yield frame
        bar.update(1)


def is_rvt_preprocessed(root: str | Path) -> bool:
    """True if ``root`` already holds RVT's preprocessed layout (some split with a complete-looking sequence)."""
    root = Path(root)
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        for seq in split_dir.iterdir():
            if (seq / "labels_v2" / "labels.npz").is_file() and (seq / "event_representations_v2").is_dir():
                return True
    return False


def _import_into(dst_root: Path, camera: CameraSpec, raw: RawSequence) -> ImportedSequence | None:
    return import_sequence(raw, dst_root / raw.split, camera, raw.split)


def import_dataset(src: str | Path, dst: str | Path, camera: CameraSpec,
                   map_fn: Callable[[Callable, Iterable], Iterable] = map) -> list[ImportedSequence]:
    """Import every split of a raw dataset into ``dst``, then write ``labels_full.parquet`` per split.

    An already preprocessed RVT folder is used as it is: with ``dst == src`` only the label tables are
    added; otherwise ``dst/<split>/<seq>`` become symlinks to the original sequence folders.
    ``map_fn(fn, items)`` runs the per-sequence imports (``map``, a process pool's ``map``, ...).
    """
    src, dst = Path(src), Path(dst)
    splits = [s for s in SPLITS if (src / s).is_dir()]
    if not splits:
        raise FileNotFoundError(f"{src}: no split folder ({', '.join(SPLITS)})")
    summaries: list[ImportedSequence] = []
    if is_rvt_preprocessed(src):
        log.info("%s is already in RVT layout: reading it as is", src)
        if src.resolve() != dst.resolve():
            for split in splits:
                for seq in list_sequences(src, split, camera):
                    link = dst / split / seq.name
                    link.parent.mkdir(parents=True, exist_ok=True)
                    if not link.exists():
                        link.symlink_to(seq.root.resolve(), target_is_directory=True)
    else:
        raws = [r for split in splits for r in find_raw_sequences(src, split)]
        for split in splits:
            (dst / split).mkdir(parents=True, exist_ok=True)
        results = map_fn(functools.partial(_import_into, dst, camera), raws)
        summaries = [s for s in results if s is not None]
    for split in splits:
        build_labels_full(dst, split, camera)
    return summaries
