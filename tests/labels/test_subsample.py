"""WSOD/SSOD label sub-sampling (REFERENCE 4a, 4b)."""

import numpy as np
import pytest

from leod_core.labels.subsample import (
    first_frame_with_history, subsample_frames, subsample_sequences, subsample_table,
)
from sample_data import full_gt_table


def test_gen4_typical_split_matches_leod():
    # gen4-like: 600 label frames at 10 Hz, reprs at 20 Hz -> frame i at repr 2i+1; L=10 -> offset 4
    reprs = 2 * np.arange(600) + 1
    assert first_frame_with_history(reprs, 10) == 4
    assert tuple(subsample_frames(reprs, 0.01, 10)) == (4, 104, 204, 304, 404, 504)
    assert len(subsample_frames(reprs, 0.1, 10)) == 60


def test_offset_rule_and_skip():
    reprs = np.array([3, 8, 13, 18, 23, 28, 33, 38, 43, 48, 53, 58])  # L=21: first repr >= 20 is frame 4
    assert list(subsample_frames(reprs, 0.5, 21)) == [4, 6, 8, 10]
    assert list(subsample_frames(reprs, 0.2, 21)) == [4, 9]
    assert list(subsample_frames(reprs, 0.01, 21)) == [4]
    assert list(subsample_frames(reprs, 1.0, 21)) == list(range(12))


def test_no_history_keeps_unshifted_like_leod():
    reprs = np.array([1, 2, 3, 4, 5])
    assert first_frame_with_history(reprs, 21) is None
    assert list(subsample_frames(reprs, 0.5, 21)) == [0, 2, 4]


def test_split_offsets():
    reprs = 2 * np.arange(600) + 1
    s0, s1, s2 = (subsample_frames(reprs, 0.01, 10, k) for k in range(3))
    assert s1[0] == 4 + 33 and s2[0] == 4 + 66
    assert not (set(s0) & set(s1)) and not (set(s1) & set(s2))
    assert len(s0) == len(s1) == len(s2) == 6


def test_empty_split_keeps_last_frame():
    reprs = np.array([20, 25, 30])  # offset 0; skip 100 -> split 2 starts at 66 > n
    assert list(subsample_frames(reprs, 0.01, 21, split_offset=2)) == [2]
    assert list(subsample_frames(reprs, 0.01, 21, split_offset=0)) == [0]
    assert len(subsample_frames(np.array([], dtype=np.int64), 0.1, 21)) == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="ratio"):
        subsample_frames(np.arange(5), 0.0, 3)
    with pytest.raises(ValueError, match="increasing"):
        subsample_frames(np.array([3, 2, 5]), 0.5, 1)


@pytest.mark.parametrize("n, counts", [
    (1458, {0.01: (15, 97), 0.02: (29, 50), 0.05: (73, 19), 0.1: (146, 9)}),
    (681, {0.01: (7, 97), 0.02: (14, 48), 0.05: (34, 20), 0.1: (68, 10)}),
])
def test_ssod_counts_gen1_gen4(n, counts):
    names = [f"seq_{i:04d}" for i in range(n)][::-1]  # unsorted input
    for ratio, (num, k) in counts.items():
        kept = subsample_sequences(names, ratio)
        assert len(kept) == num
        assert kept[0] == "seq_0000" and kept[1] == f"seq_{k:04d}"
        kept1 = subsample_sequences(names, ratio, split_offset=1)
        assert kept1[0] == "seq_0001" and len(kept1) == num and not set(kept) & set(kept1)


def test_ssod_small_and_full():
    assert subsample_sequences(["b", "a", "c"], 0.01) == ["a"]  # round(0.03) = 0 -> at least 1
    assert subsample_sequences(["b", "a"], 1.0) == ["a", "b"]


@pytest.mark.parametrize("setting, ratio", [("wsod", 0.25), ("wsod", 0.5), ("ssod", 0.34), ("wsod", 1.0)])
def test_table_kept_withheld_disjoint_complete(setting, ratio):
    full = full_gt_table()
    kept, withheld = subsample_table(full, setting, ratio, L=10, split_offset=0)
    assert len(kept) + len(withheld) == len(full)
    key = lambda d: set(zip(d["sequence"], d["frame_idx"], d["x"]))  # noqa: E731
    assert not key(kept) & key(withheld)
    assert key(kept) | key(withheld) == key(full)
    if setting == "wsod":
        # every sequence keeps frames; the rows of a kept frame are all kept
        assert set(kept["sequence"]) == {"s0", "s1", "s2"}
        frames_k = set(zip(kept["sequence"], kept["frame_idx"]))
        frames_w = set(zip(withheld["sequence"], withheld["frame_idx"]))
        assert not frames_k & frames_w
    else:
        assert set(kept["sequence"]) == {"s0"} and not set(withheld["sequence"]) & {"s0"}


def test_table_wsod_frames_are_leod_frames():
    full = full_gt_table()
    kept, _ = subsample_table(full, "wsod", 0.25, L=10)
    s0 = sorted(set(kept.loc[kept.sequence == "s0", "frame_idx"]))
    reprs = 5 * np.arange(12) + 2  # offset = frame 2 (repr 12 >= 9)
    assert s0 == list(reprs[[2, 6, 10]])
