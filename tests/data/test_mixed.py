"""Mixed loader: batch split, TrainBatch layout, determinism, resume, workers, config builder."""

import itertools

import numpy as np
import pytest
import torch

from leod_core.config import AugmentConfig, load_config
from leod_core.data.batch import TrainBatch
from leod_core.data.mixed import MixedLoader, build_train_loader, split_batch_size
from leod_core.data.sequence import load_train_sequences
from leod_core.labels.subsample import subsample_table
from leod_core.labels.table import write_labels


@pytest.mark.parametrize("B, ws, wr, expected", [
    (8, 1, 1, (4, 4)), (12, 1, 1, (6, 6)), (8, 1, 0, (8, 0)), (8, 0, 1, (0, 8)), (1, 1, 1, (1, 0)),
    (8, 3, 1, (6, 2)), (5, 1, 1, (3, 2)),
])
def test_split_batch_size(B, ws, wr, expected):
    assert split_batch_size(B, ws, wr) == expected


def test_split_batch_size_rejects_zero_weights():
    with pytest.raises(ValueError, match="weights"):
        split_batch_size(4, 0, 0)


@pytest.fixture()
def make_loader(tiny_dataset, tiny_camera):
    root, full = tiny_dataset
    kept, withheld = subsample_table(full, "wsod", 0.2, L=6)
    seqs = load_train_sequences(root, "train", tiny_camera, kept, withheld)

    def make(seed=0, B=4, workers=0, augment=AugmentConfig(), w_random=1.0):
        return MixedLoader(seqs, tiny_camera, 6, B, 1.0, w_random, seed, sparse=True, augment=augment,
                           num_workers=workers)
    return make


def _same(a: TrainBatch, b: TrainBatch) -> bool:
    if not (torch.equal(a.ev, b.ev) and torch.equal(a.is_first, b.is_first) and torch.equal(a.is_padded, b.is_padded)
            and a.state_keys == b.state_keys):
        return False
    for ra, rb in zip(a.labels, b.labels):
        for x, y in zip(ra, rb):
            if (x is None) != (y is None) or (x is not None and not np.array_equal(x, y)):
                return False
    return True


def test_batch_layout(make_loader, tiny_camera):
    loader = make_loader(augment=None)
    batch = next(iter(loader))
    L, B = 6, 4
    assert batch.ev.shape == (L, B, 20, *tiny_camera.input_hw) and batch.ev.dtype == torch.float32
    assert tiny_camera.input_hw == (32, 64)
    assert batch.ev[..., 40:].abs().sum() == 0  # zero padding right of the 40-px repr
    assert batch.is_first.dtype == torch.bool and batch.is_first.tolist() == [True] * 4
    assert batch.is_padded.shape == (L, B) and batch.is_padded.dtype == torch.bool
    assert batch.state_keys == [("stream", 0), ("stream", 1), None, None]
    assert len(batch.labels) == L and all(len(row) == B for row in batch.labels)
    for b in range(B):  # every random clip holds a kept label; stream labels sit at their repr
        for t in range(L):
            lab = batch.labels[t][b]
            assert lab is None or (lab.dtype == np.float32 and lab.shape[1] == 7)
    assert any(batch.labels[t][b] is not None for t in range(L) for b in (2, 3))
    assert loader.state_dict() == {"seed": 0, "step": 1}


def test_padding_mask_and_first_flags_over_an_epoch(make_loader):
    loader = make_loader(augment=None, w_random=0.0, B=2)
    E = loader.stream.epoch_steps
    batches = list(itertools.islice(iter(loader), E))
    firsts = torch.stack([b.is_first for b in batches])
    assert firsts.sum(0).tolist() == [3, 3]  # each slot starts each of the 3 sequences once
    for b in batches:
        padded = b.is_padded
        # padded steps are zero frames without labels, and only at the back of a chunk
        assert b.ev[padded].abs().sum() == 0
        assert all(b.labels[t][j] is None for t, j in zip(*torch.nonzero(padded, as_tuple=True)))
        for j in range(2):
            col = padded[:, j].tolist()
            assert col == sorted(col)


def test_deterministic_for_a_seed(make_loader):
    a = list(itertools.islice(iter(make_loader(seed=3)), 4))
    b = list(itertools.islice(iter(make_loader(seed=3)), 4))
    c = list(itertools.islice(iter(make_loader(seed=4)), 4))
    assert all(_same(x, y) for x, y in zip(a, b))
    assert not all(_same(x, y) for x, y in zip(a, c))


def test_resume_yields_the_same_batches(make_loader):
    full_run = list(itertools.islice(iter(make_loader(seed=7)), 9))
    first = make_loader(seed=7)
    it = iter(first)
    for _ in range(5):
        next(it)
    state = first.state_dict()
    assert state == {"seed": 7, "step": 5}
    resumed = make_loader(seed=7)
    resumed.load_state_dict(state)
    rest = list(itertools.islice(iter(resumed), 4))
    assert all(_same(x, y) for x, y in zip(full_run[5:], rest))
    with pytest.raises(ValueError, match="seed"):
        make_loader(seed=8).load_state_dict(state)


def test_workers_give_the_same_batches(make_loader):
    ref = list(itertools.islice(iter(make_loader(seed=2)), 3))
    loader = make_loader(seed=2, workers=1)
    loader.load_state_dict({"seed": 2, "step": 1})
    got = list(itertools.islice(iter(loader), 2))
    assert all(_same(x, y) for x, y in zip(ref[1:], got))


def test_build_train_loader_from_config(tiny_dataset, tiny_camera, tmp_path, monkeypatch):
    root, full = tiny_dataset
    kept, withheld = subsample_table(full, "wsod", 0.2, L=6)
    kp, wp = write_labels(kept, tmp_path / "labels.parquet"), write_labels(withheld, tmp_path / "withheld.parquet")
    cfg = load_config(None, ["data.sequence_length=6", "data.batch_size=4", "subsample.ratio=0.2"])
    monkeypatch.setattr(type(cfg), "camera", property(lambda self: tiny_camera))
    loader = build_train_loader(cfg, kp, root, withheld_path=wp)
    assert (loader.bs_stream, loader.bs_random) == (2, 2)
    assert [(u.start, u.stop) for u in loader.stream.units] == [(0, 30), (0, 24), (0, 17)]  # WSOD: sparse
    assert len(loader.random) == 13 + 10 + 6  # items = every GT label frame with 5 reprs of history
    # withheld.parquet beside labels.parquet is found automatically; without it only kept frames are known
    auto = build_train_loader(cfg, kp, root)
    assert len(auto.random) == len(loader.random) and auto.stream.units == loader.stream.units
    wp.unlink()
    alone = build_train_loader(cfg, kp, root)
    assert len(alone.random) == len(kept.groupby(["sequence", "frame_idx"]))
    batch = next(iter(loader))
    assert batch.ev.shape == (6, 4, 20, 32, 64)
    dense = build_train_loader(cfg, kp, root, sparse=False)
    assert len(dense.stream.units) > 3


def test_uint8_batches_opt_in(make_loader):
    ref = next(iter(make_loader(seed=1)))
    loader = make_loader(seed=1)
    loader.ev_dtype = torch.uint8
    got = next(iter(loader))
    assert got.ev.dtype == torch.uint8 and torch.equal(got.ev.float(), ref.ev)
