"""Per-view filter, view merging and the TTA views."""

import numpy as np

from leod_core.cameras import IGNORE_CLASS_ID
from leod_core.config import TTAConfig
from leod_core.inference.stream import View
from leod_core.pseudo.filter import crop_to_fov, pred2label, score_mask
from leod_core.pseudo.merge import merge_frame, merge_views
from leod_core.pseudo.tta import predict_views, views_from_config

from pseudo_fakes import NUM_REPRS, blob_box, camera_for, write_blob_sequence


def test_score_filter_is_strict_and_per_class():
    b = np.array([[0, 0, 10, 10, 0, 0.61, 0.61],   # car above 0.6
                  [0, 0, 10, 10, 0, 0.60, 0.90],   # car cls == threshold -> dropped (strict)
                  [0, 0, 10, 10, 1, 0.31, 0.31],   # ped above 0.3
                  [0, 0, 10, 10, 1, 0.90, 0.30],   # ped obj == threshold -> dropped
                  [0, 0, 10, 10, IGNORE_CLASS_ID, 1, 1]], np.float32)
    assert score_mask(b, (0.6, 0.3), (0.6, 0.3)).tolist() == [True, False, True, False, False]


def test_geometric_filter_crops_and_drops():
    hw = (32, 40)
    b = np.array([[-4, 2, 12, 10, 0, .9, .9],   # cropped to x 0..8 -> kept, w 8
                  [36, 2, 10, 10, 0, .9, .9],   # cropped to 36..39 -> w 3 < 5 dropped
                  [0, 0, 39, 10, 0, .9, .9],    # w 39 > (9 * 40) // 10 = 36 dropped
                  [0, 0, 36, 10, 0, .9, .9],    # w 36 kept
                  [50, 2, 10, 10, 0, .9, .9]], np.float32)  # outside the FOV
    out = pred2label(b, (0.6, 0.3), (0.6, 0.3), hw)
    np.testing.assert_array_equal(out[:, :4], [[0, 2, 8, 10], [0, 0, 36, 10]])
    _, inside = crop_to_fov(b, hw)
    assert inside.tolist() == [True, True, True, True, False]


def test_merge_nms_classwise_and_score_threshold():
    b = np.array([[0, 0, 10, 10, 0, .9, .9],
                  [1, 0, 10, 10, 0, .8, .8],    # same class, IoU .82 -> suppressed
                  [1, 0, 10, 10, 1, .8, .8],    # other class -> kept
                  [20, 20, 10, 10, 0, .09, .1]], np.float32)  # score .009 < .01
    out = merge_frame(b, 0.01, 0.45)
    np.testing.assert_array_equal(out, b[[0, 2]])


def test_merge_views_union_of_frames_and_single_view_untouched():
    a = {1: np.array([[0, 0, 10, 10, 0, .9, .9]], np.float32)}
    b = {1: np.array([[1, 0, 10, 10, 0, .5, .5]], np.float32), 2: np.zeros((0, 7), np.float32)}
    m = merge_views([a, b])
    assert sorted(m) == [1, 2] and len(m[1]) == 1 and len(m[2]) == 0
    two = {1: np.concatenate([a[1], b[1][:, :]])}
    assert len(merge_views([two])[1]) == 2  # one view: LEOD does not re-run NMS


def test_views_from_config():
    assert views_from_config(TTAConfig(True, True)) == (View(), View(True), View(False, True), View(True, True))
    assert views_from_config(TTAConfig(False, True)) == (View(), View(False, True))
    assert views_from_config(TTAConfig(False, False)) == (View(),)


def test_hflip_view_reproduces_boxes_and_tflip_offset(tmp_path, blob_model):
    cam = camera_for(False)
    seq = write_blob_sequence(tmp_path, "s", cam)
    views = views_from_config(TTAConfig(True, True))
    res = predict_views(blob_model, seq, cam, 0, 10, NUM_REPRS, range(NUM_REPRS), views, 0.01, 0.45)
    orig, hflip, tflip, both = (res[v] for v in views)
    assert 0 not in orig and sorted(orig) == list(range(1, NUM_REPRS))  # first step dropped
    for f in orig:
        np.testing.assert_array_equal(orig[f][0, :4], blob_box(f))
        np.testing.assert_array_equal(hflip[f], orig[f])
    # after reading reversed repr i the prediction belongs to frame i - 1: it shows repr i's blob
    skip = NUM_REPRS - 2  # the reversed stream's first step (repr T-1 -> frame T-2) is dropped
    assert sorted(tflip) == [f for f in range(NUM_REPRS - 1) if f != skip]
    for f in tflip:
        np.testing.assert_array_equal(tflip[f][0, :4], blob_box(f + 1))
        np.testing.assert_array_equal(both[f], tflip[f])
    merged = merge_views([orig, hflip, tflip, both])
    assert all(len(merged[f]) == 1 for f in range(1, skip))  # duplicates of the same box collapse
