"""Streaming inference: run the recurrent detector over whole sequences (REFERENCE 3b, 6 TTA views).

A *stream* is one sequence seen through one :class:`View`. It consumes the representations
``start_repr .. T-1`` one 50 ms step at a time (reversed, ``T-1 .. start_repr``, for a time-flipped
view), carrying the LSTM states, and predicts at the requested frames. Streams are batched: several
sequences x views run in lock-step along the batch axis; each sequence is read in chunks of L
representations with one HDF5 read per chunk and direction, shared by its views.

- hflip: reprs flipped along the width before zero padding; boxes mapped back with x' = W - x - w (the
  exact inverse of the pixel flip; LEOD writes W - 1 - x - w, a one-pixel shift; the training
  augmentation in leod_core.data.augment uses W - x - w too).
- tflip: stream reversed and every repr flipped over its 20 channels; the prediction made after consuming
  reversed repr i belongs to frame ``i + camera.tflip_offset`` (dropped outside ``[0, T)``); the state
  starts from zeros at the reversed start.

Boxes are float32 ``(N, 7)`` in representation pixels with FRAME_LABEL_COLUMNS.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from leod_core.cameras import CameraSpec
from leod_core.events.h5_store import ReprReader
from leod_core.layout import SequencePaths

__all__ = ["View", "SequenceJob", "ALL_VIEWS", "stream_start", "iter_predictions", "predict_sequences", "predict_sequence"]

log = logging.getLogger(__name__)

Predictions = dict[int, np.ndarray]  # repr (frame) index -> (N, 7) float32


@dataclass(frozen=True)
class View:
    """A test-time view of a sequence."""

    hflip: bool = False
    tflip: bool = False

    @property
    def name(self) -> str:
        return {(False, False): "orig", (True, False): "hflip", (False, True): "tflip",
                (True, True): "hflip_tflip"}[(self.hflip, self.tflip)]


ALL_VIEWS = (View(False, False), View(True, False), View(False, True), View(True, True))


@dataclass(frozen=True)
class SequenceJob:
    """One sequence to stream: from ``start_repr``; predict at ``predict_at`` frames (None = all)."""

    seq: SequencePaths
    start_repr: int = 0
    predict_at: frozenset[int] | None = None


def stream_start(first_label_repr: int, seq_len: int) -> int:
    """Where evaluation streaming starts (REFERENCE 3b): L-1 reprs of history before the first label."""
    return max(int(first_label_repr) - seq_len + 1, 0)


@dataclass
class _Open:
    """A job while its group runs: open reader and stream bookkeeping."""

    job: SequenceJob
    reader: ReprReader
    length: int  # T
    steps: int  # reprs consumed per stream = T - start


def _frame_of(step: int, o: _Open, tflip: bool, offset: int) -> int | None:
    """Frame index the prediction after ``step`` belongs to, or None (padding / outside [0, T))."""
    if step >= o.steps:
        return None
    if not tflip:
        return o.job.start_repr + step
    frame = o.length - 1 - step + offset
    return frame if 0 <= frame < o.length else None


def _read_chunk(o: _Open, k: int, seq_len: int, reverse: bool) -> np.ndarray:
    """Steps ``k*L .. k*L+L-1`` of a stream as uint8 (n, C, H, W), in consumption order (one read)."""
    s0, s1 = k * seq_len, min((k + 1) * seq_len, o.steps)
    if s0 >= s1:
        return np.zeros((0,), np.uint8)
    if not reverse:
        return o.reader.read(o.job.start_repr + s0, o.job.start_repr + s1)
    hi = o.length - s0  # reprs hi-1 down to lo
    lo = o.length - s1
    return o.reader.read(lo, hi)[::-1, ::-1]  # time reversed + channel flip (bins reversed, ON/OFF swapped)


def _step_input(chunks: list[np.ndarray], rows: list[tuple[int, View]], t: int,
                input_hw: tuple[int, int]) -> torch.Tensor:
    """Step ``t`` of the chunk for every row: (B, C, Hp, Wp) float32, zero padded bottom/right; rows
    whose stream has ended get zeros. Built per step, so a batch of rows never holds L x B frames."""
    c = next((ch.shape[1] for ch in chunks if ch.ndim == 4), 20)
    x = np.zeros((len(rows), c, *input_hw), np.float32)
    for b, (i, view) in enumerate(rows):
        ch = chunks[2 * i + int(view.tflip)]
        if ch.ndim != 4 or t >= len(ch):
            continue
        frame = ch[t, :, :, ::-1] if view.hflip else ch[t]
        h, w = frame.shape[-2:]
        x[b, :, :h, :w] = frame
    return torch.from_numpy(x)


def _unflip(boxes: np.ndarray, width: int) -> np.ndarray:
    # the exact mirror of a box [x, x + w) in a W-pixel image; LEOD writes W - 1 - x - w (REFERENCE 6),
    # which leaves every hflip-view box one pixel left of where the object is (tests pin the exact mirror)
    out = boxes.copy()
    out[:, 0] = width - boxes[:, 0] - boxes[:, 2]
    return out


def _select(features: Any, rows: list[int]) -> Any:
    idx = torch.as_tensor(rows, dtype=torch.long, device=next(iter(features.values())).device)
    return {k: v.index_select(0, idx) for k, v in features.items()}


def _run_group(model: Any, group: list[_Open], views: Sequence[View], camera: CameraSpec, seq_len: int,
               conf_threshold: float, nms_iou: float, device: torch.device,
               reset_every: int = 0) -> list[dict[View, Predictions]]:
    rows = [(i, v) for i in range(len(group)) for v in views]
    need_dir = {v.tflip for v in views}
    results: list[dict[View, Predictions]] = [{v: {} for v in views} for _ in group]
    width = camera.repr_hw[1]
    states = None
    n_chunks = -(-max(o.steps for o in group) // seq_len)
    for k in range(n_chunks):
        chunks = []
        for o in group:  # slots 2i (forward) and 2i+1 (reversed)
            chunks += [_read_chunk(o, k, seq_len, rev) if rev in need_dir else np.zeros((0,), np.uint8)
                       for rev in (False, True)]
        for t in range(seq_len):
            step = k * seq_len + t
            if all(step >= o.steps for o in group):
                break
            x = _step_input(chunks, rows, t, camera.input_hw).to(device)
            if reset_every and step % reset_every == 0:
                states = None
            features, states = model.forward_backbone(x, states)
            want, frames = [], []
            for b, (i, view) in enumerate(rows):
                frame = _frame_of(step, group[i], view.tflip, camera.tflip_offset)
                at = group[i].job.predict_at
                if frame is not None and (at is None or frame in at):
                    want.append(b)
                    frames.append(frame)
            if not want:
                continue
            preds = model.predict(_select(features, want), conf_threshold, nms_iou)
            for b, frame, p in zip(want, frames, preds):
                i, view = rows[b]
                p = np.asarray(p, dtype=np.float32).reshape(-1, 7)
                results[i][view][frame] = _unflip(p, width) if view.hflip else p
    return results


def _open(job: SequenceJob, camera: CameraSpec, stack: contextlib.ExitStack) -> _Open:
    reader = stack.enter_context(ReprReader(job.seq.repr_h5))
    if reader.hw != camera.repr_hw:
        raise ValueError(f"{job.seq.repr_h5}: representation size {reader.hw} != camera "
                         f"{camera.name} repr size {camera.repr_hw}")
    n = len(reader)
    if not 0 <= job.start_repr <= n:
        raise ValueError(f"{job.seq.name}: start_repr {job.start_repr} outside [0, {n}]")
    return _Open(job, reader, n, n - job.start_repr)


def _stream_steps(job: SequenceJob) -> int:
    with ReprReader(job.seq.repr_h5) as r:
        return len(r) - job.start_repr


def iter_predictions(model: Any, jobs: Sequence[SequenceJob], camera: CameraSpec, L: int,  # noqa: N803
                     views: Iterable[View] = (View(),), conf_threshold: float = 0.1, nms_iou: float = 0.45,
                     device: str | torch.device = "cpu", batch_size: int = 8,
                     progress: Callable[[int, int], None] | None = None,
                     reset_every: int = 0) -> Iterator[tuple[int, dict[View, Predictions]]]:
    """Stream ``model`` over every job through every view, reading L reprs per HDF5 read; batches
    ``batch_size`` rows (sequences x views).

    ``reset_every`` > 0 zeroes the LSTM states every that many steps (1: no memory at all), to measure
    what the recurrent memory is worth; 0 keeps them for the whole stream, as RVT evaluates.

    Yields ``(job index, {view: {frame_idx: (N, 7) float32}})`` as each batch of sequences finishes,
    with an entry (maybe empty) for every frame predicted, so a caller can consume one sequence's
    predictions before the next batch runs. Longest sequences are grouped first so lock-step padding
    stays small. ``progress(done, total)`` is called after each group.
    """
    views = tuple(dict.fromkeys(views))
    if not views:
        raise ValueError("predict_sequences: no views given")
    if L < 1:
        raise ValueError(f"predict_sequences: sequence length L must be >= 1, got {L}")
    if reset_every < 0:
        raise ValueError(f"predict_sequences: reset_every must be >= 0, got {reset_every}")
    device = torch.device(device)
    per_group = max(1, batch_size // len(views))
    order = sorted(range(len(jobs)), key=lambda j: -_stream_steps(jobs[j]))
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()  # BatchNorm statistics; restored below
    try:
        for g0 in range(0, len(order), per_group):
            idx = order[g0:g0 + per_group]
            with torch.inference_mode(), contextlib.ExitStack() as stack:
                group = [_open(jobs[j], camera, stack) for j in idx]
                res = _run_group(model, group, views, camera, L, conf_threshold, nms_iou, device, reset_every)
            if progress is not None:
                progress(min(g0 + per_group, len(order)), len(order))
            yield from zip(idx, res)
    finally:
        if was_training and hasattr(model, "train"):
            model.train()


def predict_sequences(model: Any, jobs: Sequence[SequenceJob], camera: CameraSpec, L: int,  # noqa: N803
                      views: Iterable[View] = (View(),), conf_threshold: float = 0.1, nms_iou: float = 0.45,
                      device: str | torch.device = "cpu", batch_size: int = 8,
                      progress: Callable[[int, int], None] | None = None,
                      reset_every: int = 0) -> list[dict[View, Predictions]]:
    """:func:`iter_predictions` collected: per job (input order), ``{view: {frame_idx: (N, 7)}}``."""
    out: list[dict[View, Predictions]] = [{} for _ in jobs]
    for j, res in iter_predictions(model, jobs, camera, L, views, conf_threshold, nms_iou, device, batch_size,
                                   progress, reset_every):
        out[j] = res
    return out


def predict_sequence(model: Any, seq: SequencePaths, camera: CameraSpec, start_repr: int, L: int,  # noqa: N803
                     predict_at: Iterable[int] | None = None, hflip: bool = False, tflip: bool = False,
                     conf_threshold: float = 0.1, nms_iou: float = 0.45,
                     device: str | torch.device = "cpu") -> Predictions:
    """One sequence, one view: ``{frame_idx: (N, 7) float32}`` (repr pixels, FRAME_LABEL_COLUMNS)."""
    at = None if predict_at is None else frozenset(int(i) for i in predict_at)
    job = SequenceJob(seq, start_repr, at)
    view = View(hflip, tflip)
    return predict_sequences(model, [job], camera, L, (view,), conf_threshold, nms_iou, device)[0][view]
