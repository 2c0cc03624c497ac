"""pseudo_label_sequence / sequence_jobs / check_round_table on a one-blob fake world."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from pseudo_fakes import GT_FRAMES, NUM_REPRS, BlobDetector, blob_box, camera_for, write_blob_sequence

from leod_core.cameras import IGNORE_CLASS_ID
from flows.settings import load_config
from leod_core.labels.table import empty_labels, validate_labels
from leod_core.pseudo.pipeline import (
    check_round_table,
    concat_sequence_tables,
    pseudo_label_sequence,
    sequence_jobs,
)


# the expected frame ranges below are written for L = 10 (stream start = first GT frame - L + 1)
L10 = ["data.sequence_length=10"]

def gt_rows(name, cam, frames=GT_FRAMES):
    rows = []
    for f in frames:
        x, y, w, h = blob_box(f) / cam.label_scale
        rows.append(dict(sequence=name, frame_idx=f, t=(f + 1) * 50_000, x=x + 0.123, y=y, w=w, h=h, class_id=0,
                         class_confidence=1.0, objectness=1.0, is_gt=True, track_id=7, source="gt"))
    return validate_labels(pd.DataFrame(rows)) if rows else empty_labels()


@pytest.mark.parametrize("downsample", [False, True])
def test_sequence_copies_gt_and_labels_every_other_frame(tmp_path, blob_model, downsample):
    cam = camera_for(downsample)
    seq = write_blob_sequence(tmp_path, "s", cam)
    gt = gt_rows("s", cam)
    df = pseudo_label_sequence(blob_model, seq, gt, load_config(None, L10), cam)
    cols = list(gt.columns)
    pd.testing.assert_frame_equal(df[df.is_gt].reset_index(drop=True)[cols], gt)  # verbatim
    ps = df[~df.is_gt]
    # stream starts at 12 - L + 1 = 3; orig skips its first step (3), tflip reaches frame 3 - 1 = 2
    assert sorted(ps.frame_idx) == [f for f in range(2, NUM_REPRS) if f not in GT_FRAMES]
    assert (ps.source == "pseudo").all() and (ps.class_id == 0).all()  # one long track: nothing rejected
    assert ps.track_id.nunique() == 1 and (ps.track_id >= 0).all()
    np.testing.assert_array_equal(ps.t, (ps.frame_idx + 1) * 50_000)
    later = ps[ps.frame_idx > 3]  # orig and tflip views merged, orig box wins the tie
    expect = np.stack([blob_box(f) for f in later.frame_idx]) / cam.label_scale
    np.testing.assert_allclose(later[["x", "y", "w", "h"]].to_numpy(), expect)
    for frame in (2, 3):  # tflip only: the blob of repr frame + 1
        np.testing.assert_allclose(ps[ps.frame_idx == frame][["x", "w"]].to_numpy()[0],
                                   np.array([blob_box(frame + 1)[0], 8]) / cam.label_scale)
    check_round_table(df, gt, {"s": NUM_REPRS})


def test_use_gt_off_and_unlabelled_sequence(tmp_path, blob_model):
    cam = camera_for(False)
    seq = write_blob_sequence(tmp_path, "s", cam)
    cfg = load_config(None, ["pseudo.use_gt=false"])
    gt = gt_rows("s", cam)
    df = pseudo_label_sequence(blob_model, seq, gt, cfg, cam)
    assert not df.is_gt.any() and {12, 22} <= set(df.frame_idx)
    check_round_table(df, gt, {"s": NUM_REPRS}, use_gt=False)
    with pytest.raises(ValueError, match="GT rows"):
        check_round_table(df, gt, {"s": NUM_REPRS}, use_gt=True)
    ssod = pseudo_label_sequence(blob_model, seq, gt.iloc[:0], load_config(None, L10), cam)
    # no kept GT (SSOD): the stream still starts L-1 reprs before the first (withheld) GT frame 12
    assert sorted(ssod.frame_idx) == list(range(2, NUM_REPRS))


class BlipDetector(BlobDetector):
    """Adds a second box for the 3 reprs whose blob starts at x in 17..19 (frames 15..17)."""

    def predict(self, features, conf_threshold=0.1, nms_iou=0.45):
        out = super().predict(features, conf_threshold, nms_iou)
        for i, p in enumerate(out):
            if len(p) and 17 <= p[0, 0] <= 19:
                out[i] = np.concatenate([p, np.array([[4, 22, 6, 6, 1, 0.9, 0.9]], np.float32)])
        return out


def test_short_track_becomes_ignore_box(tmp_path):
    cam = camera_for(False)
    seq = write_blob_sequence(tmp_path, "s", cam)
    cfg = load_config(None, ["pseudo.tta.hflip=false", "pseudo.tta.tflip=false"])
    df = pseudo_label_sequence(BlipDetector(), seq, gt_rows("s", cam), cfg, cam)
    blip = df[(df.x == 4) & (df.y == 22)]
    assert sorted(blip.frame_idx) == [15, 16, 17]
    assert (blip.class_id == IGNORE_CLASS_ID).all() and (blip.source == "pseudo").all()
    off = pseudo_label_sequence(BlipDetector(), seq, gt_rows("s", cam),
                                load_config(None, ["pseudo.tta.hflip=false", "pseudo.tta.tflip=false",
                                                   "pseudo.tracker.enable=false"]), cam)
    assert (off[(off.x == 4)].class_id == 1).all()


def test_jobs_over_sequences(tmp_path, blob_model):
    cam = camera_for(False)
    write_blob_sequence(tmp_path, "a", cam)
    write_blob_sequence(tmp_path, "b", cam)
    kept = gt_rows("a", cam)
    jobs = sequence_jobs(tmp_path, kept, cam)
    assert [j.name for j in jobs] == ["a", "b"] and len(jobs[0].kept_gt) == 2 and len(jobs[1].kept_gt) == 0
    cfg = load_config(None, L10)
    df = concat_sequence_tables(pseudo_label_sequence(blob_model, j.seq, j.kept_gt, cfg, cam) for j in jobs)
    assert set(df.sequence) == {"a", "b"} and df[df.sequence == "b"].frame_idx.min() == 2
    check_round_table(df, kept, {"a": NUM_REPRS, "b": NUM_REPRS})
    assert len(concat_sequence_tables([df.iloc[:0]])) == 0
    with pytest.raises(ValueError, match="missing from"):
        sequence_jobs(tmp_path, gt_rows("zzz", cam), cam)


def leod_frame_set(all_gt, kept, num_reprs, L, tflip_offset, tflip, use_gt=True):
    """Frames LEOD pseudo-labels in one sequence, re-derived step by step from its code (not from ours):
    ``SequenceForIter`` (stream from max(first label frame - L + 1, 0), chunks of L, the time-flipped
    chunk indices, padding), ``PseudoLabeler._get_pred_mask`` (skip the first step of every stream,
    frames whose loaded label is kept GT, padding; a reversed stream loads the label of repr + offset)
    and ``EventSeqData`` (reversed predictions re-indexed by + offset, frames outside [0, T) dropped)."""
    if not len(all_gt):
        return set()  # SequenceForIter: length 0, the sequence is skipped
    start, stop = max(min(all_gt) - L + 1, 0), num_reprs
    gt = set(kept) if use_gt else set()
    out = set()
    starts = list(range(start, stop, L))
    chunks = [list(range(a, b)) + [-1] * (L - (b - a)) for a, b in zip(starts, starts[1:] + [stop])]
    for step, r in enumerate(r for chunk in chunks for r in chunk):
        if step >= 1 and r >= 0 and r not in gt:
            out.add(r)
    if tflip:
        tf_start = list(range(stop - 1, start - 1, -L))
        tf_stop = tf_start[1:] + [start - 1]
        bounds = [(b + 1, a + 1) for a, b in zip(tf_start, tf_stop)]  # [lo, hi) per chunk, from the end
        chunks = [([-1] * (L - (hi - lo)) + list(range(lo, hi)))[::-1] for lo, hi in bounds]
        for step, r in enumerate(r for chunk in chunks for r in chunk):
            if step >= 1 and r >= 0 and r + tflip_offset not in gt and 0 <= r + tflip_offset < num_reprs:
                out.add(r + tflip_offset)
    return out


FRAME_SET_CASES = {  # name: (dataset GT frames, kept GT frames, T, L, tflip offset, TTA tflip, use_gt)
    "wsod": ((10, 14, 18, 22), (14, 22), 30, 10, -1, True, True),
    "ssod_unlabelled": ((12, 22), (), 30, 10, -1, True, True),
    "gen4_offset": ((14, 20, 26), (20,), 30, 5, -2, True, True),
    "no_tflip": ((14, 20), (20,), 30, 5, -1, False, True),
    "starts_at_0": ((3, 9), (9,), 30, 5, -2, True, True),
    "shorter_than_L": ((2,), (2,), 8, 10, -1, True, True),
    "use_gt_off": ((12, 22), (12,), 30, 4, -1, True, False),
    "no_gt_at_all": ((), (), 30, 5, -1, True, True),
}


@pytest.mark.parametrize("case", FRAME_SET_CASES)
def test_frame_set_is_leods(tmp_path, blob_model, case):
    all_gt, kept, n, L, offset, tflip, use_gt = FRAME_SET_CASES[case]
    cam = dataclasses.replace(camera_for(False), tflip_offset=offset)
    seq = write_blob_sequence(tmp_path, "s", cam, n=n, gt_frames=all_gt)
    cfg = load_config(None, [f"data.sequence_length={L}", f"pseudo.tta.tflip={tflip}", f"pseudo.use_gt={use_gt}"])
    df = pseudo_label_sequence(blob_model, seq, gt_rows("s", cam, kept), cfg, cam)
    expect = leod_frame_set(all_gt, kept, n, L, offset, tflip, use_gt)
    assert set(df[df.source == "pseudo"].frame_idx) == expect
    assert set(df[df.is_gt].frame_idx) == (set(kept) if use_gt and expect else set())
    assert expect or df.empty


def test_check_round_table_catches_corruption(tmp_path, blob_model):
    cam = camera_for(False)
    seq = write_blob_sequence(tmp_path, "s", cam)
    gt = gt_rows("s", cam)
    good = pseudo_label_sequence(blob_model, seq, gt, load_config(None, L10), cam)
    n = {"s": NUM_REPRS}
    check_round_table(good, gt, n)

    def corrupt(fn):
        bad = good.copy()
        fn(bad)
        return bad

    gt_i, ps_i = good.index[good.is_gt][0], good.index[~good.is_gt][0]
    cases = {
        "GT column 'x'": lambda d: d.__setitem__("x", d.x.where(d.index != gt_i, d.x + 1e-3)),
        "objectness outside": lambda d: d.__setitem__("objectness", d.objectness.where(d.index != ps_i, 1.5)),
        "outside \\[0, number": lambda d: d.__setitem__("frame_idx", d.frame_idx.where(d.index != d.index[-1], 30)),
        "not sorted": lambda d: d.__setitem__("frame_idx", d.frame_idx.where(d.index != ps_i, 29)),
        "is_gt disagrees": lambda d: d.__setitem__("source", d.source.where(d.index != gt_i, "pseudo")),
    }
    for msg, fn in cases.items():
        with pytest.raises(ValueError, match=msg):
            check_round_table(corrupt(fn), gt, n)
    with pytest.raises(ValueError, match="GT rows"):
        check_round_table(good[good.index != gt_i], gt, n)
    extra = good.loc[[ps_i]].assign(frame_idx=12)
    on_gt = pd.concat([good, extra]).sort_values("frame_idx", kind="stable").reset_index(drop=True)
    with pytest.raises(ValueError, match="on a GT frame"):
        check_round_table(on_gt, gt, n)
