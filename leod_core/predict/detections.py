"""Detections of one recording, written as they stream: Prophesee ``NAME_bbox.npy`` (the dtype
``leod evaluate-boxes`` reads) and ``NAME.parquet`` (one row per box, with the class name and track id).

Neither file is held in memory: the ``.npy`` body goes to a temporary file and gets its header (which
needs the final count) when the recording ends; the Parquet file is written one row group per
``ROWS_PER_GROUP`` boxes. Both are renamed into place only when complete (:mod:`leod_core.atomic`).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from types import TracebackType

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from leod_core.atomic import atomic_path
from leod_core.eval.box_files import BBOX_SUFFIX
from leod_core.eval.detections import frame_to_prophesee
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE

__all__ = ["DETECTIONS_SCHEMA", "PARQUET_SUFFIX", "DetectionWriter"]

PARQUET_SUFFIX = ".parquet"
ROWS_PER_GROUP = 65_536

#: one row per detected box; x, y, w, h top-left in sensor pixels; track_id -1 = not tracked
DETECTIONS_SCHEMA = pa.schema([
    ("t", pa.int64()),  # us: end of the 50 ms window the box was predicted at
    ("x", pa.float32()), ("y", pa.float32()), ("w", pa.float32()), ("h", pa.float32()),
    ("class_id", pa.uint8()),
    ("class_name", pa.string()),
    ("score", pa.float32()),  # class confidence, the COCO score (as in the *_bbox.npy)
    ("objectness", pa.float32()),
    ("track_id", pa.int32()),
])


class DetectionWriter:
    """Append one frame's boxes at a time; ``close()`` (or the context exit) publishes both files.

    Boxes are (N, 7) FRAME_LABEL_COLUMNS in **sensor** pixels. In the ``.npy``, an untracked box has
    track_id 0 (the Prophesee field is unsigned, as for untracked GT in ``leod evaluate``).
    """

    def __init__(self, out_dir: str | Path, name: str, class_names: tuple[str, ...]) -> None:
        out_dir = Path(out_dir)
        self.bbox_path = out_dir / f"{name}{BBOX_SUFFIX}"
        self.parquet_path = out_dir / f"{name}{PARQUET_SUFFIX}"
        self._class_names = np.asarray(class_names, dtype=object)
        self._stack = contextlib.ExitStack()
        self._npy_tmp = self._stack.enter_context(atomic_path(self.bbox_path))
        self._pq_tmp = self._stack.enter_context(atomic_path(self.parquet_path))
        # the .npy body until the count is known; named like the temporary, so a killed run's is cleaned up
        self._body = Path(f"{self._npy_tmp}.body")
        self._stack.callback(self._body.unlink, missing_ok=True)
        self._body_f = open(self._body, "wb")
        self._pq = pq.ParquetWriter(self._pq_tmp, DETECTIONS_SCHEMA)
        self._rows: list[pa.RecordBatch] = []
        self._pending = 0
        self.count = 0

    def add(self, t_us: int, boxes: np.ndarray, track_ids: np.ndarray | None = None) -> None:
        b = np.asarray(boxes, np.float32).reshape(-1, 7)
        ids = np.full(len(b), -1, np.int32) if track_ids is None else np.asarray(track_ids, np.int32)
        rec = frame_to_prophesee(b, t_us)
        rec["track_id"] = np.maximum(ids, 0)
        self._body_f.write(rec.tobytes())
        cls = b[:, 4].astype(np.int64)
        self._rows.append(pa.record_batch([
            pa.array(rec["t"]), pa.array(b[:, 0]), pa.array(b[:, 1]), pa.array(b[:, 2]), pa.array(b[:, 3]),
            pa.array(cls.astype(np.uint8)), pa.array(self._class_names[cls].tolist(), pa.string()),
            pa.array(b[:, 5]), pa.array(b[:, 6]), pa.array(ids)], schema=DETECTIONS_SCHEMA))
        self._pending += len(b)
        self.count += len(b)
        if self._pending >= ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._pq.write_table(pa.Table.from_batches(self._rows, DETECTIONS_SCHEMA))
        self._rows, self._pending = [], 0

    def close(self, exc: BaseException | None = None) -> None:
        """Publish both files; with ``exc`` (a failure), remove every temporary instead."""
        try:
            if exc is None:
                self._flush()
            self._pq.close()
            self._body_f.close()
            if exc is None:
                with open(self._npy_tmp, "wb") as f:
                    np.lib.format.write_array_header_1_0(f, {
                        "descr": np.lib.format.dtype_to_descr(PROPHESEE_BBOX_DTYPE), "fortran_order": False,
                        "shape": (self.count,)})
                    with open(self._body, "rb") as body:
                        shutil.copyfileobj(body, f)
        finally:
            if exc is None:
                self._stack.close()
            else:
                self._stack.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> DetectionWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(exc)
