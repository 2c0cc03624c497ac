"""Signals and ranking of ``leod suggest-frames`` on hand-made inputs whose right answer is known."""

import numpy as np
import pandas as pd
import pytest

from leod_core.labelling.signals import signals_frame, uncertain_mass, unlabelled_frames, view_disagreement
from leod_core.labelling.suggest import SUGGESTION_COLUMNS, Weights, frame_reason, select_frames, suggest_frames

CAR, PED = 0, 1


def box(x, y, w=10.0, h=10.0, cls=CAR, conf=0.9, obj=0.9):
    return [x, y, w, h, cls, conf, obj]


def test_unlabelled_frames_are_label_frames_without_kept_gt():
    assert unlabelled_frames([4, 2, 8, 6, 2], [6, 100]).tolist() == [2, 4, 8]
    assert unlabelled_frames([], []).tolist() == []


def test_view_disagreement_counts_views_missing_each_merged_box():
    merged = np.array([box(0, 0), box(50, 50), box(100, 0, cls=PED)], np.float64)
    views = [
        np.array([box(0, 0), box(50, 50), box(100, 0, cls=PED)]),  # finds all three
        np.array([box(1, 0), box(50, 50)]),  # shifted 1 px (IoU 0.82) and the second; misses the ped
        np.array([box(0, 0, cls=PED), box(80, 80)]),  # right place, wrong class; elsewhere: finds none
        np.zeros((0, 7)),  # finds nothing
    ]
    # box 0: 2 of 4 views -> 0.5; box 1: 2 of 4 -> 0.5; box 2: 1 of 4 -> 0.75
    assert view_disagreement(merged, views) == pytest.approx(1.75)
    assert view_disagreement(merged, views[:1]) == 0.0  # one view cannot disagree
    assert view_disagreement(np.zeros((0, 7)), views) == 0.0
    assert view_disagreement(merged, [views[0], views[0]]) == 0.0


def test_uncertain_mass_sums_scores_between_low_and_the_class_thresholds():
    obj_t, cls_t = (0.6, 0.3), (0.6, 0.3)
    v1 = np.array([box(0, 0, conf=0.9, obj=0.9),  # passes the car thresholds: not uncertain
                   box(0, 0, conf=0.5, obj=0.8),  # car, conf 0.5 <= 0.6: dropped, score 0.4
                   box(0, 0, cls=PED, conf=0.5, obj=0.5),  # ped passes 0.3 / 0.3: not uncertain
                   box(0, 0, conf=0.1, obj=0.05)], np.float32)  # score 0.005 < low: not counted
    v2 = np.array([box(0, 0, cls=PED, conf=0.2, obj=0.9)], np.float32)  # ped conf 0.2 <= 0.3: 0.18
    assert uncertain_mass([v1, v2], obj_t, cls_t, low=0.01) == pytest.approx((0.4 + 0.18) / 2, rel=1e-6)
    assert uncertain_mass([v1], obj_t, cls_t, low=0.5) == 0.0
    assert uncertain_mass([], obj_t, cls_t, low=0.01) == 0.0


def signals(rows):
    """rows: (sequence, frame_idx, t_s, disagreement, rejected, inpainted, uncertain)."""
    return signals_frame([{"sequence": s, "frame_idx": f, "t": round(t * 1e6), "boxes": 1, "disagreement": d,
                           "rejected": r, "inpainted": i, "uncertain": u} for s, f, t, d, r, i, u in rows])


def test_ranking_follows_the_weighted_signals():
    sig = signals([("a", 0, 0.0, 0.0, 0, 0, 0.0), ("a", 40, 2.0, 0.5, 0, 0, 0.0), ("b", 0, 0.0, 0.0, 2, 1, 0.0),
                   ("b", 40, 2.0, 0.0, 0, 0, 1.25)])
    out = suggest_frames(sig, 4)
    assert list(out.columns) == list(SUGGESTION_COLUMNS)
    assert list(zip(out.sequence, out.frame_idx)) == [("b", 0), ("b", 40), ("a", 40), ("a", 0)]
    assert out["score"].tolist() == [3.0, 1.25, 0.5, 0.0] and out["rank"].tolist() == [1, 2, 3, 4]
    assert out["reason"].tolist() == ["tracker rejected 2, inpainted 1", "score mass 1.25 under the thresholds",
                                      "test-time views disagree on 0.50 boxes", "no signal (fills the budget)"]
    # other weights, other order
    out = suggest_frames(sig, 2, Weights(disagreement=10.0, tracker=0.0, uncertain=1.0))
    assert list(zip(out.sequence, out.frame_idx)) == [("a", 40), ("b", 40)]


def test_reason_lists_the_largest_contribution_first():
    row = {"disagreement": 0.25, "rejected": 1, "inpainted": 0, "uncertain": 0.5}
    assert frame_reason(row) == ("tracker rejected 1, inpainted 0; score mass 0.50 under the thresholds; "
                                 "test-time views disagree on 0.25 boxes")


def test_picks_stay_a_second_apart_within_a_sequence_until_the_budget_demands_closer():
    # sequence a: frames every 0.25 s with falling scores; sequence b: one weak frame
    rows = [("a", i, i * 0.25, 0.0, 0, 0, 10.0 - i) for i in range(9)] + [("b", 0, 0.0, 0.0, 0, 0, 0.5)]
    sig = signals(rows)
    out = suggest_frames(sig, 4)
    # 0 s, then 1 s and 2 s (0.25-0.75 s are too close), then b beats a's blocked frames
    assert list(zip(out.sequence, out.frame_idx)) == [("a", 0), ("a", 4), ("a", 8), ("b", 0)]
    assert (out["min_gap_us"] == 1_000_000).all()
    out = suggest_frames(sig, 6)  # the 1 s pass yields 4; the 0.5 s pass adds 2 s-spaced halves: 0.5, 1.5
    assert list(zip(out.sequence, out.frame_idx))[4:] == [("a", 2), ("a", 6)]
    assert out["min_gap_us"].tolist()[4:] == [500_000, 500_000]
    assert out["reason"].iloc[4].endswith("; picked at a 0.5 s gap")
    out = suggest_frames(sig, 100)  # more than there are: every frame, each once
    assert len(out) == 10 and not out.duplicated(["sequence", "frame_idx"]).any()
    assert out["min_gap_us"].iloc[-1] == 250_000  # the 0.25 s pass picks the rest


def test_same_input_same_output_whatever_the_row_order():
    rng = np.random.default_rng(0)
    rows = [(s, f, f * 0.05, float(rng.integers(0, 3)) / 2, int(rng.integers(0, 2)), 0, 0.0)
            for s in ("a", "b", "c") for f in range(0, 200, 3)]
    sig = signals(rows)
    first = suggest_frames(sig, 25)
    shuffled = suggest_frames(sig.sample(frac=1.0, random_state=1), 25)
    pd.testing.assert_frame_equal(first, shuffled)
    # every pair of picks of one sequence is >= 1 s apart (the budget is reachable without relaxing)
    assert (first["min_gap_us"] == 1_000_000).all()
    for _, g in first.groupby("sequence"):
        t = np.sort(g["t"].to_numpy())
        assert np.all(np.diff(t) >= 1_000_000)


def test_bad_budget_and_weights():
    sig = signals([("a", 0, 0.0, 0.0, 0, 0, 0.0)])
    with pytest.raises(ValueError, match="--budget must be >= 1"):
        suggest_frames(sig, 0)
    with pytest.raises(ValueError, match="weight tracker"):
        Weights(tracker=-1.0)
    with pytest.raises(ValueError, match="missing columns"):
        suggest_frames(sig.drop(columns=["uncertain"]), 1)
    with pytest.raises(ValueError, match="--budget"):
        select_frames(sig.assign(score=0.0), 0)
