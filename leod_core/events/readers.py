"""One registry of event-recording readers: which file names are recordings, and how to stream each.

Every caller that reads a recording (``leod import``, ``leod predict``, the benches) goes through
:func:`iter_recording_chunks` and :func:`recording_geometry`; the format is chosen by the file name's
suffix (:data:`RECORDING_SUFFIXES`). Each reader yields :class:`EventChunk` s of at most ``n_events``
events in file order (bounded memory), int64 microsecond timestamps, and refuses events outside the
geometry its header declares with one ``ValueError`` naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from leod_core.events.dat_io import DatHeader, iter_dat_chunks, read_dat_header
from leod_core.events.event_chunk import EventChunk
from leod_core.events.faery_io import RawHeader, aedat4_geometry, iter_aedat4_chunks, iter_raw_chunks, read_raw_header
from leod_core.events.h5_store import EventH5Info, iter_event_h5_chunks, read_event_h5_info

__all__ = ["RECORDING_SUFFIXES", "RecordingFormat", "recording_format", "recording_name", "iter_recording_chunks",
           "recording_geometry"]


@dataclass(frozen=True)
class RecordingFormat:
    """A container format: its file-name suffix, a label for messages, and its two readers."""

    suffix: str
    label: str
    chunks: Callable[[Path, int], Iterator[EventChunk]]
    geometry: Callable[[Path], tuple[int, int] | None]


def _declared(header: DatHeader | RawHeader | EventH5Info) -> tuple[int, int] | None:
    return None if header.height is None or header.width is None else (header.height, header.width)


def _h5_chunks(path: Path, n_events: int) -> Iterator[EventChunk]:
    hw = _declared(read_event_h5_info(path))  # RVT's files may store a size: the same rule as a header's
    return (chunk.check_within(hw, str(path)) for chunk in iter_event_h5_chunks(path, n_events))


def _metavision_hdf5(path: Path, *_: int) -> Iterator[EventChunk]:
    # Metavision's HDF5 event files are compressed with Prophesee's ECF codec, which no HDF5 plugin on
    # PyPI decodes in a stream (evlib decodes it whole, in memory): refused by name rather than ignored
    raise ValueError(f"{path}: Metavision HDF5 (ECF-compressed) recordings are not read; use the "
                     f"recording's EVT 2.0/3.0 .raw (what the camera writes) instead")


# longest suffix first where one ends another (``_td.raw`` before ``.raw``)
_FORMATS: tuple[RecordingFormat, ...] = (
    RecordingFormat("_td.dat", "Prophesee .dat (Event2D or EventCD)", iter_dat_chunks,
                    lambda p: _declared(read_dat_header(p))),
    RecordingFormat("_td.dat.h5", "RVT event HDF5", _h5_chunks, lambda p: _declared(read_event_h5_info(p))),
    RecordingFormat("_td.h5", "RVT event HDF5", _h5_chunks, lambda p: _declared(read_event_h5_info(p))),
    RecordingFormat("_td.raw", "Prophesee EVT 2.0 / EVT 3.0 .raw", iter_raw_chunks,
                    lambda p: _declared(read_raw_header(p))),
    RecordingFormat(".raw", "Prophesee EVT 2.0 / EVT 3.0 .raw", iter_raw_chunks,
                    lambda p: _declared(read_raw_header(p))),
    RecordingFormat(".aedat4", "iniVation AEDAT4", iter_aedat4_chunks, aedat4_geometry),
    RecordingFormat(".hdf5", "Metavision HDF5 (refused)", _metavision_hdf5, _metavision_hdf5),
)

#: the file-name endings of a sequence's recording (``NAME<suffix>``), in the order they are matched
RECORDING_SUFFIXES: tuple[str, ...] = tuple(f.suffix for f in _FORMATS)


def recording_format(path: str | Path) -> RecordingFormat:
    """The format of ``path`` by its name; ValueError naming the file for an unknown ending."""
    name = Path(path).name
    for fmt in _FORMATS:
        if name.endswith(fmt.suffix) and len(name) > len(fmt.suffix):
            return fmt
    raise ValueError(f"{path}: not a recording leod reads (file names end with {', '.join(RECORDING_SUFFIXES)})")


def recording_name(path: str | Path) -> str | None:
    """The sequence name of a recording file (``NAME`` of ``NAME_td.dat``), None if not a recording."""
    name = Path(path).name
    for fmt in _FORMATS:
        if name.endswith(fmt.suffix) and len(name) > len(fmt.suffix):
            return name[: -len(fmt.suffix)]
    return None


def iter_recording_chunks(path: str | Path, n_events: int) -> Iterator[EventChunk]:
    """Stream the events of a recording in chunks of at most ``n_events`` (time-ordered, int64 us)."""
    if n_events <= 0:
        raise ValueError(f"n_events must be positive, got {n_events}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event file not found: {path}")
    return recording_format(path).chunks(path, n_events)


def recording_geometry(path: str | Path) -> tuple[int, int] | None:
    """(height, width) the recording's header declares, None where the file declares none."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event file not found: {path}")
    return recording_format(path).geometry(path)
