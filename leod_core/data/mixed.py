"""The mixed training loader (LEOD ``sampling: mixed``): streaming + random-access samples per batch.

``bs_random = min(round(B * w_random / (w_stream + w_random)), B - 1)`` (all streaming when w_random
is 0, all random when w_stream is 0); the rest are stream slots. Both parts step together; a batch
holds the stream samples first and the random ones second (REFERENCE 7).

Stream sets per worker (LEOD ``ConcatStreamingDataPipe`` under a DataLoader with workers): with
``data.num_workers`` W > 0 the streaming part gets ``W_s = W - min(ceil(W * bs_random / B), W - 1)``
workers (all W without random samples), each holding its own ``bs_stream`` streams; the DataLoader serves
the workers round-robin, so batch ``s`` holds the streams of set ``s % W_s``, at that set's step
``s // W_s``, and the RNN states are keyed by (worker, slot). Gen1 (W 8, B 8): 4 sets x 4 = 16 streams,
each advancing every 4th step. One set (0 workers, or one stream worker) is the single stream loader.

Batch ``s`` is a pure function of (seed, s): the random part uses one permutation of the items per
epoch (drop_last, like a shuffling DataLoader), and each item's augmentation comes from its own
generator seeded by (seed, epoch, position). ``state_dict()`` is therefore just the seed and the
number of batches consumed, and a resumed loader yields exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from leod_core.cameras import CameraSpec
from leod_core.config import AugmentConfig, LeodConfig, Setting
from leod_core.data.batch import ClipSample, TrainBatch, collate
from leod_core.data.clip import ReaderFactory, ReprFiles
from leod_core.data.random_access import RandomClipDataset
from leod_core.data.sequence import TrainSequence, load_train_sequences
from leod_core.data.streaming import StreamingTrainLoader

__all__ = ["split_batch_size", "stream_worker_count", "MixedLoader", "build_train_loader"]

log = logging.getLogger(__name__)

_RANDOM_TAG = 2


def split_batch_size(batch_size: int, w_stream: float, w_random: float) -> tuple[int, int]:
    """(bs_stream, bs_random) of LEOD's mixed sampling."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if w_stream < 0 or w_random < 0 or w_stream + w_random == 0:
        raise ValueError(f"mixed sampling weights must be >= 0 and not both 0 (w_stream={w_stream}, w_random={w_random})")
    if w_random == 0:
        bs_random = 0
    elif w_stream == 0:
        bs_random = batch_size
    else:
        bs_random = min(round(batch_size * w_random / (w_stream + w_random)), batch_size - 1)
    return batch_size - bs_random, bs_random


def stream_worker_count(num_workers: int, batch_size: int, bs_random: int) -> int:
    """Number of per-worker stream sets (LEOD ``set_mixed_sampling_mode_variables_for_train``); 1 without
    workers (the process itself is the one worker)."""
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    if num_workers == 0:
        return 1
    if bs_random == 0:
        return num_workers
    return num_workers - min(math.ceil(num_workers * bs_random / batch_size), num_workers - 1)


class MixedLoader:
    """Infinite iterator of ``TrainBatch`` with ``state_dict()`` / ``load_state_dict()``."""

    def __init__(self, sequences: list[TrainSequence], camera: CameraSpec, L: int, batch_size: int,
                 w_stream: float, w_random: float, seed: int, sparse: bool,
                 augment: AugmentConfig | None = None, num_workers: int = 0,
                 reader_factory: ReaderFactory | None = None, ev_dtype: torch.dtype = torch.float32) -> None:
        self.camera = camera
        self.ev_dtype = ev_dtype
        self.L = L
        self.seed = seed
        self.num_workers = num_workers
        self.bs_stream, self.bs_random = split_batch_size(batch_size, w_stream, w_random)
        self.files = ReprFiles(reader_factory)
        n_sets = stream_worker_count(num_workers, batch_size, self.bs_random)
        self.streams = [StreamingTrainLoader(sequences, camera, L, self.bs_stream, seed, sparse, augment, self.files,
                                             worker=None if n_sets == 1 else w) for w in range(n_sets)]
        self.stream = self.streams[0]
        self.random = RandomClipDataset(sequences, camera, L, augment, self.files)
        if self.bs_random and len(self.random) == 0:
            raise ValueError(f"random-access loader: no label frame has {L - 1} reprs of history")
        self.step = 0
        log.info("mixed loader: %d stream + %d random per batch, %d stream set(s), %d stream units, %d random items",
                 self.bs_stream, self.bs_random, n_sets, len(self.stream.units), len(self.random))

    @property
    def batch_size(self) -> int:
        return self.bs_stream + self.bs_random

    # ------------------------------------------------------------------------------ random part
    @property
    def random_epoch_steps(self) -> int:
        return max(len(self.random) // self.bs_random, 1) if self.bs_random else 1

    def _random_samples(self, step: int) -> list[ClipSample]:
        if not self.bs_random:
            return []
        epoch, k = divmod(step, self.random_epoch_steps)
        perm = np.random.default_rng([self.seed, _RANDOM_TAG, epoch]).permutation(len(self.random))
        if len(perm) < self.bs_random:  # fewer items than a batch: repeat the permutation
            perm = np.resize(perm, self.bs_random)
        out = []
        for j in range(self.bs_random):
            pos = k * self.bs_random + j
            rng = np.random.default_rng([self.seed, _RANDOM_TAG, epoch, pos + 1])
            out.append(self.random.sample(int(perm[pos]), rng))
        return out

    # ------------------------------------------------------------------------------ batches
    def make_batch(self, step: int) -> TrainBatch:
        """Batch number ``step`` (0-based) of this seed."""
        stream = self.streams[step % len(self.streams)]  # the DataLoader's round-robin over the workers
        samples = stream.samples(step // len(self.streams)) + self._random_samples(step)
        keys = stream.state_keys() + [None] * self.bs_random
        return collate(samples, self.camera.input_hw, keys, self.ev_dtype)

    def __iter__(self) -> Iterator[TrainBatch]:
        if self.num_workers == 0:
            yield from self._made_ahead()
            return
        loader = torch.utils.data.DataLoader(
            _StepDataset(self), batch_size=None, sampler=_StepSampler(self.step),
            num_workers=self.num_workers, collate_fn=_identity, prefetch_factor=2)
        for batch in loader:
            self.step += 1
            yield batch

    def _made_ahead(self) -> Iterator[TrainBatch]:
        """Batches made one step ahead in a thread, so that the next batch's reads and augmentation run
        while the model trains on this one (torch and numpy release the GIL in their kernels). Batch ``s``
        is a pure function of ``s`` and only this thread touches the files, so the batches are the ones
        made in line; ``step`` counts the batches handed out, as before."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="leod-batch") as pool:
            pending = pool.submit(self.make_batch, self.step)
            try:
                while True:
                    batch = pending.result()
                    self.step += 1
                    pending = pool.submit(self.make_batch, self.step)
                    yield batch
            finally:  # a batch never asked for is dropped, with any error it met
                pending.cancel()

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["seed"]) != self.seed:
            raise ValueError(f"loader state has seed {state['seed']} but this loader uses seed {self.seed}")
        self.step = int(state["step"])

    def close(self) -> None:
        self.files.close()


class _StepDataset(torch.utils.data.Dataset):
    """Map-style view used by DataLoader workers: item ``s`` is batch ``s``."""

    def __init__(self, loader: MixedLoader) -> None:
        self.loader = loader

    def __getitem__(self, step: int) -> TrainBatch:
        return self.loader.make_batch(step)


class _StepSampler(torch.utils.data.Sampler):
    def __init__(self, start: int) -> None:
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.count(self.start)


def _identity(x: Any) -> Any:
    return x


def build_train_loader(cfg: LeodConfig, labels_path: str | Path, dataset_root: str | Path,
                       all_label_frames: bool | None = None, sparse: bool | None = None,
                       seed: int | None = None, reader_factory: ReaderFactory | None = None,
                       ev_dtype: torch.dtype = torch.float32) -> MixedLoader:
    """The mixed loader of a training round from ``params`` and a label table (train split).

    ``all_label_frames``: the loaders know where every label frame of the dataset is, kept or not, as
    LEOD's do (random-access items and the stream start count all GT frames); read from the dataset's
    ``objframe_idx_2_repr_idx``, never from the dropped labels. Defaults to: the table holds ground
    truth only (round 0). ``sparse`` (whole-sequence streams, LEOD's WSOD mode) defaults to: WSOD with
    ratio < 1 and a ground-truth table. Pseudo-label rounds stream LEOD's label ranges.
    """
    from leod_core.labels.table import read_labels

    kept = read_labels(labels_path)
    ground_truth = bool(kept["is_gt"].all())  # the kept GT, and human boxes
    if all_label_frames is None:
        all_label_frames = ground_truth
    if sparse is None:
        sparse = cfg.subsample.setting == Setting.WSOD.value and cfg.subsample.ratio < 1.0 and ground_truth
    sequences = load_train_sequences(dataset_root, "train", cfg.camera, kept, all_label_frames)
    return MixedLoader(sequences, cfg.camera, cfg.data.sequence_length, cfg.data.batch_size,
                       cfg.data.w_stream, cfg.data.w_random, cfg.train.seed if seed is None else seed, sparse,
                       cfg.data.augment, cfg.data.num_workers, reader_factory, ev_dtype)
