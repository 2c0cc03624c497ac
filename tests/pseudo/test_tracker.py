"""Hand-built tracker cases (REFERENCE 6a)."""

import numpy as np
import pytest

from leod_core.cameras import IGNORE_CLASS_ID
from leod_core.config import TrackerConfig
from leod_core.pseudo.track_filter import track_filter
from leod_core.pseudo.tracker import LinearTracker, iou_cxcywh_class, run_tracker

HW = (100, 200)
CFG = TrackerConfig()


def box(x, y, w=20.0, h=10.0, c=0):
    return [x, y, w, h, c, 0.9, 0.9]


def frames_of(boxes_per_frame):
    """{frame: list of box rows} -> ({frame: (N, 7)}, {frame: all-False is_gt})."""
    frames = {f: np.asarray(b, np.float32).reshape(-1, 7) for f, b in boxes_per_frame.items()}
    return frames, {f: np.zeros(len(b), bool) for f, b in frames.items()}


def with_anchor(boxes_per_frame, first=0, last=40):
    """Add a static, always-detected class-1 object far away so both passes span [first, last]."""
    out = {f: list(boxes_per_frame.get(f, [])) for f in range(first, last + 1)}
    for f in out:
        out[f].append(box(150, 70, c=1))
    return out


def test_constant_velocity_with_one_miss_is_inpainted():
    seq = {f: [box(10 + 5 * f, 20)] for f in range(10) if f != 4}
    frames, gt = frames_of(seq)
    res = track_filter(frames, gt, HW, CFG)
    assert all(k.all() for k in res.keep.values())
    assert len({int(res.track_id[f][0]) for f in frames}) == 1  # one track throughout
    assert list(res.inpainted) == [4]
    painted = res.inpainted[4]
    np.testing.assert_allclose(painted[0, :4], [30, 20, 20, 10], atol=1e-5)  # predicted position
    assert painted[0, 4] == IGNORE_CLASS_ID and painted[0, 5] == 0 and painted[0, 6] == 0
    assert res.inpainted_track_id[4][0] == res.track_id[3][0]


def test_inpainting_switch_and_disabled_tracker():
    frames, gt = frames_of({f: [box(10 + 5 * f, 20)] for f in range(10) if f != 4})
    assert track_filter(frames, gt, HW, TrackerConfig(inpaint=False)).inpainted == {}
    off = track_filter(frames, gt, HW, TrackerConfig(enable=False))
    assert off.inpainted == {} and all(k.all() for k in off.keep.values())
    assert all((t == -1).all() for t in off.track_id.values())


def test_three_frame_blip_is_rejected():
    seq = with_anchor({f: [box(40, 40)] for f in (10, 11, 12)})
    frames, gt = frames_of(seq)
    res = track_filter(frames, gt, HW, CFG)
    for f in (10, 11, 12):
        assert res.keep[f].tolist() == [False, True]  # blip flagged, anchor kept
    assert all(res.keep[f].all() for f in frames if f not in (10, 11, 12))


def test_blip_long_only_backwards_is_kept():
    # seen once at frame 10, missed 5 frames (the forward track dies: 0.9**6 < 0.55), then 4 frames.
    # Backwards the 4-frame track gains confidence, survives the gap and matches frame 10: hits 10.
    seq = with_anchor({f: [box(40, 40)] for f in (10, 16, 17, 18, 19)})
    frames, gt = frames_of(seq)
    fwd = run_tracker(((f, _center(frames[f]), gt[f]) for f in range(41)), HW)
    flat = np.concatenate([frames[f][:, 4] == 0 for f in range(41)])  # blip rows (class 0)
    assert flat.sum() == 5
    assert not fwd.kept_tracks(6)[fwd.box_track[flat]].any()  # forward alone rejects all of them
    res = track_filter(frames, gt, HW, CFG)
    assert all(res.keep[f][0] for f in (10, 16, 17, 18, 19))


def _center(b):
    return np.column_stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3], b[:, 4]])


def test_border_clamped_track_uses_opposite_edge_velocity():
    # object (x1 = 10 - 4t, width 20) leaves through the left edge; detections are cropped to the image
    def det(t):
        x1, x2 = max(10 - 4 * t, 0), 30 - 4 * t
        return box(x1, 30, x2 - x1, 10)
    frames, gt = frames_of({t: [det(t)] for t in range(6) if t != 4})
    res = track_filter(frames, gt, HW, CFG)
    # at t=4 the true box is [-6, 14] -> [0, 14]; the centre velocity (-3 px) would predict [0, 15]
    np.testing.assert_allclose(res.inpainted[4][0, [0, 2]], [0, 14], atol=1e-5)


def test_velocity_after_clamped_match():
    trk = LinearTracker(HW)
    for t, (x1, x2) in enumerate([(10, 30), (6, 26), (2, 22), (0, 18)]):
        trk.update(t, np.array([[(x1 + x2) / 2, 35, x2 - x1, 10, 0]]))
    np.testing.assert_allclose(trk._vel[0], [-4, 0])


def test_different_classes_never_associate():
    a = np.array([[50, 50, 20, 20, 0]], float)
    b = np.array([[50, 50, 20, 20, 1]], float)
    assert iou_cxcywh_class(a, b)[0, 0] == 0 and iou_cxcywh_class(a, a)[0, 0] == 1
    seq = {f: [box(40, 40, c=f % 2)] for f in range(12)}
    frames, gt = frames_of(seq)
    run = run_tracker(((f, _center(frames[f]), gt[f]) for f in range(12)), HW)
    cls = np.arange(12) % 2
    assert not set(run.box_track[cls == 0].tolist()) & set(run.box_track[cls == 1].tolist())
    # each class is one track that misses every other frame and is re-found (same place)
    assert len(set(run.box_track.tolist())) == 2


def test_gt_boxes_never_rejected_and_gt_frames_never_inpainted():
    seq = with_anchor({f: [box(40, 40)] for f in (10, 11, 12)})
    seq[5] = []  # the anchor is missing at 5 ...
    frames, gt = frames_of(seq)
    gt[11] = np.array([True, True])  # ... and frame 11 is a GT frame
    res = track_filter(frames, gt, HW, CFG)
    assert res.keep[10].all() and res.keep[11].all() and res.keep[12].all()  # blip joined a GT track
    assert 5 in res.inpainted and 11 not in res.inpainted


def test_miss_caching_skipped_on_gt_frame():
    seq = {f: [box(10 + 5 * f, 20), box(150, 70, c=1)] for f in range(10)}
    seq[4] = [box(150, 70, c=1)]  # object 0 missed on a GT frame
    frames, gt = frames_of(seq)
    gt[4] = np.array([True])
    res = track_filter(frames, gt, HW, CFG)
    assert res.inpainted == {}


def test_stable_greedy_order_and_one_detection_per_track():
    # two tracks of equal confidence both overlap one detection: the first-created track takes it
    trk = LinearTracker(HW)
    trk.update(0, np.array([[50, 50, 20, 20, 0], [52, 50, 20, 20, 0]], float))
    trk.update(1, np.array([[51, 50, 20, 20, 0]], float))
    run = trk.finish()
    assert run.box_track.tolist() == [0, 1, 0]


def test_negative_frame_index_is_rejected():
    frames, gt = frames_of({-1: [box(1, 1)]})
    with pytest.raises(ValueError, match="negative frame"):
        track_filter(frames, gt, HW, CFG)
