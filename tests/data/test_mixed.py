"""Mixed loader: batch split, TrainBatch layout, determinism, resume, workers, config builder."""

import itertools
import math
import threading

import numpy as np
import pytest
import torch

from leod_core.config import AugmentConfig
from flows.settings import load_config
from leod_core.data.batch import TrainBatch
from leod_core.data.mixed import MixedLoader, build_train_loader, split_batch_size, stream_worker_count
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
    kept, _ = subsample_table(full, "wsod", 0.2, L=6)
    seqs = load_train_sequences(root, "train", tiny_camera, kept, all_label_frames=True)

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


def test_batches_made_ahead_are_the_ones_made_in_line(make_loader):
    loader = make_loader(seed=5)
    made = []
    make = loader.make_batch

    def record(step):
        made.append(step)
        return make(step)

    loader.make_batch = record
    it = iter(loader)
    got = [next(it) for _ in range(4)]
    assert loader.state_dict() == {"seed": 5, "step": 4}  # batches handed out, not made
    ref = make_loader(seed=5)
    assert all(_same(x, ref.make_batch(s)) for s, x in enumerate(got))
    it.close()  # waits for (or cancels) the batch made ahead; no thread is left
    assert made in ([0, 1, 2, 3], [0, 1, 2, 3, 4])  # in order, never more than one batch ahead
    assert not [t for t in threading.enumerate() if t.name.startswith("leod-batch")]


def test_an_error_in_a_batch_made_ahead_surfaces_when_that_batch_is_asked_for(make_loader):
    loader = make_loader(seed=5)
    make = loader.make_batch

    def broken_at_2(step):
        if step == 2:
            raise OSError("corrupt chunk in seq_a frame 7")
        return make(step)

    loader.make_batch = broken_at_2
    it = iter(loader)
    next(it), next(it)  # batch 2 is being made (and fails) meanwhile: its error must not surface here
    with pytest.raises(OSError, match="seq_a frame 7"):
        next(it)
    assert loader.state_dict()["step"] == 2


def test_workers_give_the_same_batches(make_loader):
    ref = list(itertools.islice(iter(make_loader(seed=2)), 3))
    loader = make_loader(seed=2, workers=1)
    loader.load_state_dict({"seed": 2, "step": 1})
    got = list(itertools.islice(iter(loader), 2))
    assert all(_same(x, y) for x, y in zip(ref[1:], got))


def test_zero_workers_keep_one_stream_set(make_loader):
    """0 workers: one set of stream slots advancing every step, keyed by slot, in the order it always had
    (pinned: the micro and default pipelines use 0 workers and must stay bit-identical)."""
    loader = make_loader(seed=0, B=4, workers=0)
    assert len(loader.streams) == 1 and loader.streams[0] is loader.stream and loader.stream.worker is None
    got = [loader.stream.position(s, j)[:2] for s in range(14) for j in range(2)]
    assert got == [(2, 0), (1, 0), (2, 1), (1, 1), (2, 2), (1, 2), (0, 0), (1, 3), (0, 1), (0, 0), (0, 2), (0, 1),
                   (0, 3), (0, 2), (0, 4), (0, 3), (1, 0), (0, 4), (1, 1), (2, 0), (1, 2), (2, 1), (1, 3), (2, 2),
                   (0, 0), (2, 0), (0, 1), (2, 1)]
    for step in (0, 5):
        batch = loader.make_batch(step)
        assert batch.state_keys == [("stream", 0), ("stream", 1), None, None]
        ref = loader.stream.samples(step)
        assert all(torch.equal(batch.ev[:, j, :, :32, :40], ref[j].ev.float()) for j in range(2))


def leod_stream_workers(W, B, bs_random):
    """LEOD ``set_mixed_sampling_mode_variables_for_train`` (workers of the streaming DataLoader)."""
    if bs_random == 0:
        return W
    return W - min(math.ceil(W * bs_random / B), W - 1)


@pytest.mark.parametrize("W, B, w_random", [(8, 8, 1.0), (8, 12, 1.0), (3, 4, 1.0), (4, 4, 0.0), (1, 4, 1.0)])
def test_stream_worker_count_is_leods(W, B, w_random):
    bs_random = split_batch_size(B, 1.0, w_random)[1]
    assert stream_worker_count(W, B, bs_random) == leod_stream_workers(W, B, bs_random)
    assert stream_worker_count(0, B, bs_random) == 1
    assert stream_worker_count(8, 8, 4) == 4  # Gen1: 4 stream workers x 4 slots = 16 streams


def _shown_reprs(batch, j):
    """Repr index shown at each step of sample j (marker: channel 0 pixel (0, 0) = r + 1; -1 = padding)."""
    return [int(v) - 1 for v in batch.ev[:, j, 0, 0, 0]]


def test_per_worker_streams_round_robin(make_loader):
    """W workers: batch s holds the slots of stream worker s % W_s, each continuing its stream from that
    worker's previous batch; states keyed by (worker, slot); the workers' streams differ."""
    loader = make_loader(seed=3, B=8, workers=8, augment=None)  # 4 stream + 4 random, 4 stream workers
    W_s, slots = 4, 4
    assert len(loader.streams) == W_s
    last: dict = {}
    orders = {w: [] for w in range(W_s)}
    for s in range(W_s * 2 * loader.stream.epoch_steps):
        batch = loader.make_batch(s)
        w = s % W_s
        assert batch.state_keys == [("stream", w, j) for j in range(slots)] + [None] * 4
        assert batch.is_first[slots:].all()  # random samples always reset
        for j in range(slots):
            shown = [r for r in _shown_reprs(batch, j) if r >= 0]
            key = ("stream", w, j)
            if batch.is_first[j]:
                assert shown[0] == 0  # WSOD: a whole-sequence unit starts at repr 0
            else:  # continues exactly where this key's previous batch (W_s steps earlier) stopped
                assert last[key][0] == s - W_s and shown[0] == last[key][1] + 1
            last[key] = (s, shown[-1])
            orders[w].append(shown[-1])
    assert len(last) == W_s * slots == 16
    assert len({tuple(o) for o in orders.values()}) > 1  # each worker has its own permutations
    # the loader is still a pure function of (seed, step): a DataLoader with workers gives the same batches
    ref = [loader.make_batch(s) for s in (1, 2)]
    loader.load_state_dict({"seed": 3, "step": 1})
    got = list(itertools.islice(iter(loader), 2))
    assert all(_same(x, y) for x, y in zip(ref, got))


def test_build_train_loader_from_config(tiny_dataset, tiny_camera, tmp_path, monkeypatch):
    root, full = tiny_dataset
    kept, _ = subsample_table(full, "wsod", 0.2, L=6)
    kp = write_labels(kept, tmp_path / "labels.parquet")
    cfg = load_config(None, ["data.sequence_length=6", "data.batch_size=4", "subsample.ratio=0.2"])
    monkeypatch.setattr(type(cfg), "camera", property(lambda self: tiny_camera))
    loader = build_train_loader(cfg, kp, root)
    assert (loader.bs_stream, loader.bs_random) == (2, 2)
    assert [(u.start, u.stop) for u in loader.stream.units] == [(0, 30), (0, 24), (0, 17)]  # WSOD: sparse
    # a ground-truth table: items = every GT label frame of the dataset with 5 reprs of history
    assert len(loader.random) == 13 + 10 + 6
    # nothing read from the dropped labels: the dataset's label index says where they were
    assert not (tmp_path / "withheld.parquet").exists()
    alone = build_train_loader(cfg, kp, root, all_label_frames=False)
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
