"""The tracker-only baseline (leod_core/pseudo/propagate.py, ``pseudo.method=tracker_only``): the sparse GT
carried to the frames around it by LEOD's linear tracker, no model."""

import numpy as np
import pytest
from pseudo_fakes import GT_FRAMES, NUM_REPRS, camera_for, write_blob_sequence

from leod_core.config import TrackerConfig
from flows.settings import load_config
from leod_core.pseudo.pipeline import check_round_table, pseudo_label_sequence
from leod_core.pseudo.propagate import propagate_gt
from test_pipeline import gt_rows

HW = (240.0, 320.0)
CAR = np.array([[100.0, 50.0, 20.0, 10.0, 0, 1.0, 1.0]], np.float32)


def test_a_box_seen_once_stays_put_while_its_track_lives():
    """LEOD's q = 0.9, min_conf = 0.55: the track starts at 0.9 and loses x0.9 per frame, so it lives 4
    frames each way (0.9^5 = 0.59 >= 0.55 > 0.9^6 = 0.53), scored by its confidence, never on the GT frame."""
    out = propagate_gt({10: CAR}, 30, HW, TrackerConfig())
    assert sorted(out) == [6, 7, 8, 9, 11, 12, 13, 14]
    for f, b in out.items():
        np.testing.assert_allclose(b[:, :5], CAR[:, :5])
        assert b[0, 5] == b[0, 6] == pytest.approx(0.9 ** (abs(f - 10) + 1), rel=1e-6)
    # q = 0.95: 0.95^11 = 0.569 >= 0.55 > 0.95^12 = 0.54, 10 frames each way
    assert sorted(propagate_gt({10: CAR}, 30, HW, TrackerConfig(q=0.95))) == [*range(0, 10), *range(11, 21)]


def test_two_gt_frames_that_match_give_the_track_a_velocity():
    moved = CAR.copy()
    moved[0, 0] += 4.0  # IoU 16/24 = 0.67 >= 0.45: the same object
    out = propagate_gt({10: CAR, 12: moved}, 30, HW, TrackerConfig())
    assert out[13][0, 0] > moved[0, 0] and out[9][0, 0] < CAR[0, 0]  # carried on in the direction of motion
    assert len(out[11]) == 1  # both directions' boxes of the frame between merged into one (NMS)
    empty_gt = propagate_gt({10: CAR, 12: CAR[:0]}, 30, HW, TrackerConfig())  # a GT frame without boxes
    assert 12 not in empty_gt and 13 in empty_gt  # nothing written on it; the track decays through it


def test_tracker_only_rows_need_no_model(tmp_path):
    cam = camera_for(False)
    seq = write_blob_sequence(tmp_path, "s", cam)
    gt = gt_rows("s", cam)
    cfg = load_config(None, ["pseudo.method=tracker_only"])
    df = pseudo_label_sequence(None, seq, gt, cfg, cam)  # no model at all
    assert sorted(df[df.is_gt].frame_idx) == list(GT_FRAMES)
    ps = df[~df.is_gt]
    assert (ps.source == "pseudo").all() and sorted(set(ps.frame_idx)) == [
        f for g in GT_FRAMES for f in range(g - 4, g + 5) if f != g]
    for f, x in zip(ps.frame_idx, ps.x):  # the GT box of the nearest GT frame, where it was labelled
        assert x == pytest.approx(gt[gt.frame_idx == min(GT_FRAMES, key=lambda g: abs(g - f))].x.iloc[0])
    check_round_table(df, gt, {"s": NUM_REPRS})
