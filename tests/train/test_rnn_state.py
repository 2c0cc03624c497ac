"""RNN state store: reset on is_first / random samples, carry across chunks, detach, checkpoint round trip."""

from __future__ import annotations

import pytest
import torch

from leod_core.train.rnn_state import RnnStateStore


def _states(batch: int, fill: list[float], requires_grad: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Two stages; sample b of every tensor is filled with fill[b] (h) and -fill[b] (c)."""
    out = []
    for shape in ((3, 4, 5), (6, 2, 3)):
        v = torch.tensor(fill).view(batch, 1, 1, 1).expand(batch, *shape).clone()
        out.append((v.requires_grad_(requires_grad), (-v).requires_grad_(requires_grad)))
    return out


def test_empty_store_and_all_reset_give_none() -> None:
    store = RnnStateStore()
    assert store.gather([(0, 0), (0, 1)], [False, False]) is None
    store.store([(0, 0), (0, 1)], _states(2, [1.0, 2.0]))
    assert store.gather([(0, 0), None], torch.tensor([True, False])) is None


def test_carry_reset_and_random_samples() -> None:
    store = RnnStateStore()
    store.store([(0, 0), (0, 1), None], _states(3, [1.0, 2.0, 3.0]))
    assert len(store) == 2 and None not in store
    # slot (0,1) continues, slot (0,0) starts a new sequence, random sample (None) starts from zeros
    got = store.gather([(0, 0), (0, 1), None], [True, False, False])
    assert got is not None and len(got) == 2
    h, c = got[0]
    assert h.shape == (3, 3, 4, 5) and got[1][0].shape == (3, 6, 2, 3)
    assert torch.all(h[0] == 0) and torch.all(h[1] == 2.0) and torch.all(h[2] == 0)
    assert torch.all(c[1] == -2.0) and torch.all(c[0] == 0)
    # order follows the batch, not the store: slots may come back permuted
    got = store.gather([(0, 1), (0, 0)], [False, False])
    assert torch.all(got[0][0][0] == 2.0) and torch.all(got[0][0][1] == 1.0)
    # a key never stored starts from zeros
    got = store.gather([(9, 9), (0, 0)], [False, False])
    assert torch.all(got[1][0][0] == 0) and torch.all(got[1][0][1] == 1.0)


def test_store_detaches_and_copies() -> None:
    store = RnnStateStore()
    states = _states(1, [1.0], requires_grad=True)
    store.store(["a"], states)
    got = store.gather(["a"], [False])
    assert not got[0][0].requires_grad and got[0][0].grad_fn is None
    with torch.no_grad():
        states[0][0].add_(5.0)  # the stored copy is independent of the live tensor
    assert torch.all(store.gather(["a"], [False])[0][0] == 1.0)


def test_bad_input_raises() -> None:
    store = RnnStateStore()
    with pytest.raises(ValueError, match="unique"):
        store.store(["a", "a"], _states(2, [1.0, 2.0]))
    with pytest.raises(ValueError, match="batch"):
        store.store(["a"], _states(2, [1.0, 2.0]))
    with pytest.raises(ValueError, match="is_first"):
        store.gather(["a", "b"], [True])


def test_state_dict_round_trip(tmp_path) -> None:
    store = RnnStateStore()
    store.store([(0, 0), (1, 3)], _states(2, [1.5, 2.5]))
    path = tmp_path / "s.pt"
    torch.save(store.state_dict(), path)
    other = RnnStateStore()
    other.load_state_dict(torch.load(path, weights_only=True))
    a = store.gather([(1, 3), (0, 0)], [False, False])
    b = other.gather([(1, 3), (0, 0)], [False, False])
    for (ha, ca), (hb, cb) in zip(a, b):
        assert torch.equal(ha, hb) and torch.equal(ca, cb)


def test_per_worker_keys_carry_each_workers_own_state() -> None:
    """LEOD with DataLoader workers: batch s comes from worker s % W; a stream continues from the state its
    own worker's previous batch (W steps earlier) left, never from another worker's."""
    store = RnnStateStore()
    W, slots = 4, 2
    for s in range(3 * W):
        keys = [("stream", s % W, j) for j in range(slots)]
        got = store.gather(keys, [s < W] * slots)  # each worker's first batch starts its streams
        if s < W:
            assert got is None
        else:
            assert torch.all(got[0][0] == float(s - W)) and torch.all(got[1][1] == -float(s - W))
        store.store(keys, _states(slots, [float(s)] * slots))
    assert len(store) == W * slots
