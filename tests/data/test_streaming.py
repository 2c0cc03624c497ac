"""Streaming training samples: LEOD ranges, chunking, padding, time-flipped passes, concatenated streams."""

import numpy as np
import pytest
import torch

from leod_core.config import AugmentConfig
from leod_core.data.augment import NO_AUGMENT, AugmentParams
from leod_core.data.clip import ReprFiles
from leod_core.data.sequence import load_train_sequences
from leod_core.data.streaming import StreamingTrainLoader, StreamUnit, chunk_bounds, stream_ranges, stream_sample
from leod_core.labels.subsample import subsample_table


@pytest.fixture()
def seqs(tiny_dataset, tiny_camera):
    root, full = tiny_dataset
    return load_train_sequences(root, "train", tiny_camera, full)


def test_stream_ranges_leod():
    idx = np.array([3, 5, 20, 22])
    assert stream_ranges(idx, 30, 4, sparse=False) == [(0, 6), (17, 23)]
    assert stream_ranges(idx, 30, 20, sparse=False) == [(0, 23)]
    assert stream_ranges(idx, 30, 4, sparse=True) == [(0, 30)]
    assert stream_ranges(np.array([12, 40]), 50, 4, sparse=True, first_label_repr=9) == [(6, 50)]
    assert stream_ranges(np.array([], dtype=np.int64), 50, 4, sparse=True) == []


def test_chunk_bounds_leod_example():
    # LEOD SequenceForIter: stop 21, start 0, L 10 -> reversed chunks [11, 21), [1, 11), [0, 1)
    assert [chunk_bounds(0, 21, 10, k, True) for k in range(3)] == [(11, 21), (1, 11), (0, 1)]
    assert [chunk_bounds(0, 21, 10, k, False) for k in range(3)] == [(0, 10), (10, 20), (20, 21)]


def _check(sample, flipped, shift=0):
    for t, r in enumerate(sample.ev_idx):
        if r < 0:
            assert sample.is_padded[t] and sample.labels[t] is None and sample.ev[t].abs().sum() == 0
            continue
        assert not sample.is_padded[t]
        assert sample.ev[t, 19 if flipped else 0, 0, 0] == r + 1
        if sample.labels[t] is not None:
            assert sample.labels[t][0, 0] == r + shift


def test_stream_sample_padding_and_flags(seqs, tiny_camera):
    seq_c = seqs[2]  # 17 reprs
    unit = StreamUnit(2, 0, 17)
    files = ReprFiles()
    out = [stream_sample(seq_c, files, unit, k, 8, NO_AUGMENT, -1) for k in range(3)]
    assert [s.is_first for s in out] == [True, False, False]
    assert out[2].ev_idx == [16] + [-1] * 7 and out[2].is_padded.tolist() == [False] + [True] * 7
    for s in out:
        assert s.ev.shape == (8, 20, 32, 40)
        _check(s, flipped=False)
    rev = [stream_sample(seq_c, files, unit, k, 8, AugmentParams(tflip=True), -1) for k in range(3)]
    assert rev[0].ev_idx == list(range(16, 8, -1)) and rev[0].is_first and rev[0].reversed
    assert rev[2].ev_idx == [0] + [-1] * 7 and rev[2].is_padded.sum() == 7
    for s in rev:
        _check(s, flipped=True, shift=-1)


def test_sparse_units_start_before_first_label(tiny_dataset, tiny_camera):
    root, full = tiny_dataset
    kept, _ = subsample_table(full, "wsod", 0.2, L=8)
    seqs = load_train_sequences(root, "train", tiny_camera, kept, all_label_frames=True)
    loader = StreamingTrainLoader(seqs, tiny_camera, 8, 2, seed=0, sparse=True)
    # first GT label frame at repr 3 -> whole sequence from max(3 - 8 + 1, 0) = 0
    assert [(u.start, u.stop) for u in loader.units] == [(0, 30), (0, 24), (0, 17)]
    dense = StreamingTrainLoader(seqs, tiny_camera, 8, 2, seed=0, sparse=False)
    assert [(u.start, u.stop) for u in dense.units] == [(0, 8), (10, 18), (20, 28), (0, 8), (10, 18), (0, 8)]


def test_streams_are_continuous_permutations(seqs, tiny_camera):
    aug = AugmentConfig(hflip=0, zoom_random=0, zoom_stream=0, tflip=0.5)
    loader = StreamingTrainLoader(seqs, tiny_camera, 8, 3, seed=5, sparse=False, augment=aug)
    E = loader.epoch_steps
    assert E == 4 + 3 + 2  # chunks of the units [0,30) [0,24) [0,16) at L = 8
    prev = [None] * 3
    seen = [[] for _ in range(3)]
    flips = set()
    for step in range(2 * E):
        for j, s in enumerate(loader.samples(step)):
            if s.is_first:
                seen[j].append(s.sequence)
            else:  # the slot continues the previous chunk of the same pass
                p = prev[j]
                assert s.sequence == p.sequence and s.reversed == p.reversed
                valid = [r for r in p.ev_idx if r >= 0]
                assert s.ev_idx[0] == (min(valid) - 1 if s.reversed else max(valid) + 1)
            _check(s, flipped=s.reversed, shift=-1 if s.reversed else 0)
            flips.add(s.reversed)
            prev[j] = s
        if step % E == E - 1:  # end of an epoch: each slot went through every sequence once
            for j in range(3):
                assert sorted(seen[j]) == ["seq_a", "seq_b", "seq_c"]
                seen[j] = []
    assert flips == {True, False}
    assert all(s.is_first for s in loader.samples(2 * E))


def test_plan_is_a_function_of_seed_and_step(seqs, tiny_camera):
    a = StreamingTrainLoader(seqs, tiny_camera, 8, 2, seed=1, sparse=False, augment=AugmentConfig())
    b = StreamingTrainLoader(seqs, tiny_camera, 8, 2, seed=1, sparse=False, augment=AugmentConfig())
    c = StreamingTrainLoader(seqs, tiny_camera, 8, 2, seed=2, sparse=False, augment=AugmentConfig())
    steps = [13, 2, 25, 0]
    pa = [a.position(s, j) for s in steps for j in range(2)]
    assert pa == [b.position(s, j) for s in steps for j in range(2)]
    assert pa != [c.position(s, j) for s in steps for j in range(2)]
    for x, y in zip(a.samples(7), b.samples(7)):
        assert torch.equal(x.ev, y.ev)
