"""pseudo_label_sequence / pseudo_label_dataset / check_round_table on a one-blob fake world."""

import numpy as np
import pandas as pd
import pytest
from pseudo_fakes import NUM_REPRS, BlobDetector, blob_box, camera_for, write_blob_sequence

from leod_core.cameras import IGNORE_CLASS_ID
from leod_core.config import load_config
from leod_core.labels.table import validate_labels
from leod_core.pseudo.pipeline import check_round_table, pseudo_label_dataset, pseudo_label_sequence

GT_FRAMES = (12, 22)


# the expected frame ranges below are written for L = 10 (stream start = first GT frame - L + 1)
L10 = ["data.sequence_length=10"]

def gt_rows(name, cam, frames=GT_FRAMES):
    rows = []
    for f in frames:
        x, y, w, h = blob_box(f) / cam.label_scale
        rows.append(dict(sequence=name, frame_idx=f, t=(f + 1) * 50_000, x=x + 0.123, y=y, w=w, h=h, class_id=0,
                         class_confidence=1.0, objectness=1.0, is_gt=True, track_id=7, source="gt"))
    return validate_labels(pd.DataFrame(rows))


@pytest.mark.parametrize("downsample", [False, True])
def test_sequence_copies_gt_and_labels_every_other_frame(tmp_path, blob_model, downsample):
    cam = camera_for(downsample)
    seq = write_blob_sequence(tmp_path, "s", cam)
    gt = gt_rows("s", cam)
    df = pseudo_label_sequence(blob_model, seq, gt, load_config(None, L10), cam)
    cols = list(gt.columns)
    pd.testing.assert_frame_equal(df[df.is_gt].reset_index(drop=True)[cols], gt)  # verbatim
    ps = df[~df.is_gt]
    # stream starts at 12 - L + 1 = 3; orig skips its first step (3) but tflip reaches frame 3
    assert sorted(ps.frame_idx) == [f for f in range(3, NUM_REPRS) if f not in GT_FRAMES]
    assert (ps.source == "pseudo").all() and (ps.class_id == 0).all()  # one long track: nothing rejected
    assert ps.track_id.nunique() == 1 and (ps.track_id >= 0).all()
    np.testing.assert_array_equal(ps.t, (ps.frame_idx + 1) * 50_000)
    later = ps[ps.frame_idx > 3]  # orig and tflip views merged, orig box wins the tie
    expect = np.stack([blob_box(f) for f in later.frame_idx]) / cam.label_scale
    np.testing.assert_allclose(later[["x", "y", "w", "h"]].to_numpy(), expect)
    np.testing.assert_allclose(ps[ps.frame_idx == 3][["x", "w"]].to_numpy()[0],
                               np.array([blob_box(4)[0], 8]) / cam.label_scale)  # tflip only: repr 4's blob
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
    assert sorted(ssod.frame_idx) == list(range(NUM_REPRS))  # from repr 0 (tflip covers frame 0)


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


def test_dataset_maps_over_sequences(tmp_path, blob_model):
    cam = camera_for(False)
    write_blob_sequence(tmp_path, "a", cam)
    write_blob_sequence(tmp_path, "b", cam)
    kept = gt_rows("a", cam)
    seen = []
    df = pseudo_label_dataset(blob_model, tmp_path, kept, load_config(None, L10), cam,
                              progress=lambda d, n: seen.append((d, n)))
    assert seen == [(1, 2), (2, 2)]
    assert set(df.sequence) == {"a", "b"} and df[df.sequence == "b"].frame_idx.min() == 0
    check_round_table(df, kept, {"a": NUM_REPRS, "b": NUM_REPRS})
    with pytest.raises(ValueError, match="missing from"):
        pseudo_label_dataset(blob_model, tmp_path, gt_rows("zzz", cam), load_config(None, L10), cam)


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
