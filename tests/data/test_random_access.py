"""Random-access clips: LEOD offset rule, label alignment, WSOD resampling, time flip."""

import numpy as np
import pytest
import torch

from leod_core.config import AugmentConfig
from leod_core.data.random_access import RandomClipDataset
from leod_core.data.sequence import load_train_sequences
from leod_core.labels.subsample import subsample_table

TFLIP_ONLY = AugmentConfig(hflip=0, zoom_random=0, zoom_stream=0, tflip=1)


@pytest.fixture()
def make_ds(tiny_dataset, tiny_camera):
    root, full = tiny_dataset

    def make(L, kept=None, all_label_frames=False, augment=None):
        seqs = load_train_sequences(root, "train", tiny_camera, full if kept is None else kept, all_label_frames)
        return RandomClipDataset(seqs, tiny_camera, L, augment)
    return make


def _check_alignment(s, flipped=False, shift=0):
    for t, r in enumerate(s.ev_idx):
        if flipped:
            assert s.ev[t, 0, 0, 0] == 100 + r and s.ev[t, 19, 0, 0] == r + 1
        else:
            assert s.ev[t, 0, 0, 0] == r + 1 and s.ev[t, 19, 0, 0] == 100 + r
        if s.labels[t] is not None:
            assert s.labels[t][0, 0] == r + shift  # box x encodes its repr index


def test_items_follow_offset_rule(make_ds):
    assert len(make_ds(4)) == 14 + 11 + 7  # every label frame has >= 3 reprs of history
    ds = make_ds(8)  # first usable label frame: repr 7 (frame 2)
    assert len(ds) == 12 + 9 + 5
    s = ds.sample(0, np.random.default_rng(0))
    assert s.ev.shape == (8, 20, 32, 40) and s.ev.dtype == torch.uint8
    assert s.ev_idx == list(range(8)) and s.is_first and not s.is_padded.any() and not s.reversed
    assert [t for t, b in enumerate(s.labels) if b is not None] == [3, 5, 7]
    _check_alignment(s)
    assert ds.locate(12) == (1, 0)
    with pytest.raises(IndexError):
        ds.locate(len(ds))


def test_every_item_ends_at_its_frame(make_ds, label_reprs_of):
    ds = make_ds(6)
    rng = np.random.default_rng(0)
    for i in range(len(ds)):
        s = ds.sample(i, rng)
        assert s.labels[-1] is not None and s.labels[-1][0, 0] == s.ev_idx[-1]
        _check_alignment(s)


def test_wsod_clips_always_have_kept_labels(make_ds, tiny_dataset):
    _, full = tiny_dataset
    kept, _ = subsample_table(full, "wsod", 0.2, L=8)
    ds = make_ds(8, kept, True)
    kept_pairs = set(zip(kept.sequence, kept.frame_idx))
    rng = np.random.default_rng(3)
    for i in range(len(ds)):
        s = ds.sample(i, rng)
        assert any(b is not None for b in s.labels)
        for r, b in zip(s.ev_idx, s.labels):
            assert (b is not None) == ((s.sequence, r) in kept_pairs)
        _check_alignment(s)


def test_time_flip_window_and_labels(make_ds, tiny_camera):
    ds = make_ds(8, augment=TFLIP_ONLY)
    s = ds.sample(0, np.random.default_rng(0))  # frame 0 (repr 3): r' = 4, window [4, 12)
    assert s.reversed and s.ev_idx == list(range(11, 3, -1))
    _check_alignment(s, flipped=True, shift=tiny_camera.tflip_offset)
    assert s.labels[-1] is not None and s.labels[-1][0, 0] == 3  # labelled frame as late as possible
    # the last label frame has no repr after it: it is replaced by another one
    ds4 = make_ds(4, augment=TFLIP_ONLY)
    for seed in range(5):
        s = ds4.sample(13, np.random.default_rng(seed))
        assert s.reversed and any(b is not None for b in s.labels) and max(s.ev_idx) < 30
        _check_alignment(s, flipped=True, shift=-1)


def test_same_rng_same_sample(make_ds):
    ds = make_ds(6, augment=AugmentConfig())
    a = [ds.sample(i, np.random.default_rng(i)) for i in range(0, len(ds), 3)]
    b = [ds.sample(i, np.random.default_rng(i)) for i in range(0, len(ds), 3)]
    for x, y in zip(a, b):
        assert torch.equal(x.ev, y.ev) and x.ev_idx == y.ev_idx
        assert all((p is None and q is None) or np.array_equal(p, q) for p, q in zip(x.labels, y.labels))
