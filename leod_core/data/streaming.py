"""Streaming training samples (LEOD ``SequenceForIter`` + ``ConcatStreamingDataPipe``, REFERENCE 7).

A *unit* is a repr range of one sequence, cut into consecutive chunks of L reprs (the last chunk is
zero-padded at the back, ``is_padded``); chunk 0 has ``is_first`` (reset the RNN state).
- sparse labels (WSOD round 0): one unit per sequence, ``[max(first_label_repr - L + 1, 0), T)``;
- dense labels (full, SSOD, pseudo labels): LEOD's ranges, split where consecutive kept labels are
  more than L reprs apart, each ``[max(first - L + 1, 0), last + 1)``.

Each of the B stream slots concatenates its own random permutation of all units; an *epoch* ends
when the slots run out (all slots hold the same number of chunks, as in LEOD's zipped streams) and
the next epoch draws new permutations. Augmentation parameters are drawn once per unit pass; a
time-flipped pass cuts chunks from the end, reverses each with a channel flip and shows at repr j the
label of repr ``j + tflip_offset``.

Everything is a pure function of (seed, step): ``samples(step)`` rebuilds any batch without replaying
the ones before it, which is what makes the loader resumable. A loader built for a DataLoader ``worker``
is one of LEOD's per-worker stream sets (:mod:`.mixed`): its own permutations and its own state keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from leod_core.cameras import CameraSpec
from leod_core.config import AugmentConfig
from leod_core.data.augment import NO_AUGMENT, AugmentParams, apply_spatial, sample_stream_params, time_flip_frames
from leod_core.data.batch import ClipSample
from leod_core.data.clip import ReprFiles, read_clip_u8
from leod_core.data.sequence import TrainSequence

__all__ = ["StreamUnit", "stream_ranges", "chunk_bounds", "stream_sample", "StreamingTrainLoader"]

_STREAM_TAG = 1  # RNG stream id of the streaming plan (random access uses another)


@dataclass(frozen=True)
class StreamUnit:
    seq: int  # position in the loader's sequence list
    start: int
    stop: int

    def num_chunks(self, L: int) -> int:
        return math.ceil((self.stop - self.start) / L)


def stream_ranges(label_repr_idx: np.ndarray, num_reprs: int, L: int, sparse: bool,
                  first_label_repr: int | None = None) -> list[tuple[int, int]]:
    """Repr ranges streamed in training (see module doc). ``label_repr_idx``: sorted kept label reprs."""
    idx = np.asarray(label_repr_idx, dtype=np.int64)
    if len(idx) == 0:
        return []
    if sparse:
        first = int(idx[0]) if first_label_repr is None else int(first_label_repr)
        return [(max(first - L + 1, 0), num_reprs)]
    breaks = np.flatnonzero(np.diff(idx) > L)
    firsts = np.concatenate([[0], breaks + 1])
    lasts = np.concatenate([breaks, [len(idx) - 1]])
    return [(max(int(idx[a]) - L + 1, 0), int(idx[b]) + 1) for a, b in zip(firsts, lasts)]


def chunk_bounds(start: int, stop: int, L: int, chunk: int, reverse: bool) -> tuple[int, int]:
    """Repr range ``[a, b)`` of chunk ``chunk`` of a unit; reversed passes cut from the end."""
    if reverse:
        b = stop - chunk * L
        return max(b - L, start), b
    a = start + chunk * L
    return a, min(a + L, stop)


def stream_sample(seq: TrainSequence, files: ReprFiles, unit: StreamUnit, chunk: int, L: int,
                  params: AugmentParams, tflip_offset: int) -> ClipSample:
    """Chunk ``chunk`` of a unit as an augmented, back-padded clip of L steps."""
    a, b = chunk_bounds(unit.start, unit.stop, L, chunk, params.tflip)
    shift = tflip_offset if params.tflip else 0
    labels = [seq.labels.get(j + shift) for j in range(a, b)]
    ev_idx = list(range(a, b))
    ev = read_clip_u8(files.get(seq.paths.repr_h5), a, b)
    if params.tflip:
        ev = time_flip_frames(ev)
        labels, ev_idx = labels[::-1], ev_idx[::-1]
    ev, (labels,) = apply_spatial(ev, [labels], params)
    n, pad = b - a, L - (b - a)
    if pad:
        ev = _pad_steps(ev, L)
        labels, ev_idx = labels + [None] * pad, ev_idx + [-1] * pad
    is_padded = np.arange(L) >= n
    return ClipSample(sequence=seq.name, ev=ev, labels=labels, ev_idx=ev_idx,
                      is_first=chunk == 0, is_padded=is_padded, reversed=params.tflip)


def _pad_steps(ev: torch.Tensor, L: int) -> torch.Tensor:
    """Zero-pad a clip at the back to L steps."""
    return torch.cat([ev, ev.new_zeros((L - len(ev), *ev.shape[1:]))])


@dataclass(frozen=True)
class _SlotPlan:
    units: np.ndarray  # unit index per position
    params: tuple[AugmentParams, ...]
    ends: np.ndarray  # cumulative chunk count after each position


class StreamingTrainLoader:
    """B independent streams over the training units; ``samples(step)`` gives the B clips of a step."""

    def __init__(self, sequences: list[TrainSequence], camera: CameraSpec, L: int, num_slots: int, seed: int,
                 sparse: bool, augment: AugmentConfig | None = None, files: ReprFiles | None = None,
                 worker: int | None = None) -> None:
        self.sequences = sequences
        self.worker = worker  # None: the only stream set (keys and draws as before workers existed)
        self.camera = camera
        self.L = L
        self.num_slots = num_slots
        self.seed = seed
        self.augment = augment
        self.files = files or ReprFiles()
        units = []
        for s, seq in enumerate(sequences):
            first = int(seq.labels.frame_repr_idx[0]) if len(seq.labels.frame_repr_idx) else None
            for a, b in stream_ranges(seq.labels.kept_repr_idx, seq.num_reprs, L, sparse, first):
                units.append(StreamUnit(s, a, b))
        if num_slots > 0 and not units:
            raise ValueError("streaming loader: no sequence with kept labels to stream")
        self.units = units
        self._chunks = np.array([u.num_chunks(L) for u in units], dtype=np.int64)
        self.epoch_steps = int(self._chunks.sum())
        self._plans: dict[int, tuple[_SlotPlan, ...]] = {}

    def _plan(self, epoch: int) -> tuple[_SlotPlan, ...]:
        if epoch not in self._plans:
            if len(self._plans) >= 2:  # consecutive steps need at most the current and the next epoch
                self._plans.pop(min(self._plans))
            self._plans[epoch] = self._make_plan(epoch)
        return self._plans[epoch]

    def _make_plan(self, epoch: int) -> tuple[_SlotPlan, ...]:
        key = [self.seed, _STREAM_TAG, epoch] if self.worker is None else [self.seed, _STREAM_TAG, self.worker, epoch]
        rng = np.random.default_rng(key)
        plans = []
        for _ in range(self.num_slots):
            order = rng.permutation(len(self.units))
            params = tuple(sample_stream_params(rng, self.augment, self.camera.repr_hw)
                           if self.augment is not None else NO_AUGMENT for _ in order)
            plans.append(_SlotPlan(order, params, np.cumsum(self._chunks[order])))
        return tuple(plans)

    def position(self, step: int, slot: int) -> tuple[int, int, AugmentParams]:
        """(unit index, chunk index, augmentation) of stream ``slot`` at ``step``."""
        epoch, k = divmod(step, self.epoch_steps)
        plan = self._plan(epoch)[slot]
        pos = int(np.searchsorted(plan.ends, k, side="right"))
        chunk = k - (int(plan.ends[pos - 1]) if pos else 0)
        return int(plan.units[pos]), chunk, plan.params[pos]

    def samples(self, step: int) -> list[ClipSample]:
        out = []
        for slot in range(self.num_slots):
            u, chunk, params = self.position(step, slot)
            unit = self.units[u]
            out.append(stream_sample(self.sequences[unit.seq], self.files, unit, chunk, self.L, params,
                                     self.camera.tflip_offset))
        return out

    def state_keys(self) -> list[tuple]:
        """RNN state key per slot: ``("stream", slot)``, or ``("stream", worker, slot)`` for a worker's set."""
        if self.worker is None:
            return [("stream", j) for j in range(self.num_slots)]
        return [("stream", self.worker, j) for j in range(self.num_slots)]
