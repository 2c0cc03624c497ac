import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from leod_core.config import LossConfig
from leod_core.model.losses import LossSettings, detection_loss


def _box(cx, cy, w, h, cls, cls_conf=1.0, obj=1.0):
    """One FRAME_LABEL_COLUMNS row from a center box."""
    return [cx - w / 2, cy - h / 2, w, h, cls, cls_conf, obj]


def _bce0(logits: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="sum")


def test_no_boxes_is_finite_and_backpropagates(head_output):
    out = head_output(batch=2)
    out.preds.requires_grad_(True)
    total, parts = detection_loss(out, [np.zeros((0, 7), np.float32)] * 2, 2)
    assert torch.isfinite(total)
    total.backward()
    # only objectness is supervised: every anchor is background, divided by max(num_fg, 1) = 1
    torch.testing.assert_close(total.detach(), _bce0(out.preds[..., 4].detach()))
    assert parts["num_fg"].item() == 0 and parts["iou_loss"].item() == 0 and parts["cls_loss"].item() == 0


def test_ignore_box_masks_exactly_its_center_region(head_output):
    out = head_output()
    out.preds[0, :, 4] = torch.linspace(-3, 3, 64)  # distinct objectness logits
    target = np.array([_box(36, 36, 16, 16, 1024)], np.float32)
    total, _ = detection_loss(out, [target], 2)
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[3:6, 3:6] = True  # anchor centers within +-1.5 strides (12 px) of (36, 36)
    expected = _bce0(out.preds[0, ~region.flatten(), 4])
    torch.testing.assert_close(total, expected)


def test_ignore_region_overlapping_a_valid_box_keeps_the_valid_region(head_output):
    out = head_output()
    valid = _box(36, 36, 16, 16, 0)
    ignore = _box(44, 36, 16, 16, 1024)  # region x cells 4..6; valid box region x cells 3..5
    _, parts_both = detection_loss(out, [np.array([valid, ignore], np.float32)], 2)
    _, parts_valid = detection_loss(out, [np.array([valid], np.float32)], 2)
    # only the cells in the ignore region and not in the valid region (x = 6, y = 3..5) lose their obj loss
    obj_logits = out.preds[0, :, 4]
    only_ignore = [y * 8 + 6 for y in range(3, 6)]
    lost = _bce0(obj_logits[only_ignore]) / parts_valid["num_fg"]
    torch.testing.assert_close(parts_valid["obj_loss"] - parts_both["obj_loss"], lost)
    assert parts_both["num_fg"] == parts_valid["num_fg"]


def test_low_confidence_box_becomes_ignore_only_in_ignore_mode(head_output):
    out = head_output()
    weak = np.array([_box(36, 36, 16, 16, 0, cls_conf=0.9, obj=0.5)], np.float32)  # obj < tau_car 0.7
    as_ignore = np.array([_box(36, 36, 16, 16, 1024)], np.float32)
    cfg = LossConfig(target_mode="ignore", ignore_bbox_thresh=(0.7, 0.35))
    t_weak, p_weak = detection_loss(out, [weak], 2, LossSettings.from_config(cfg, 2))
    t_ign, _ = detection_loss(out, [as_ignore], 2)
    torch.testing.assert_close(t_weak, t_ign)
    assert p_weak["num_fg"] == 0
    # class ped has tau 0.35: the same box stays a positive
    ped = weak.copy()
    ped[0, 4] = 1
    assert detection_loss(out, [ped], 2, LossSettings.from_config(cfg, 2))[1]["num_fg"] > 0


def test_soft_mode_scales_positive_targets_by_box_confidences(head_output):
    out = head_output()
    out.preds[0, :, 2:4] = 1.0  # tiny boxes everywhere (IoU ~ 1/256), except an exact one at cell 36
    out.preds[0, 36, :4] = torch.tensor([36.0, 36.0, 16.0, 16.0])
    gt = np.array([_box(36, 36, 16, 16, 0)], np.float32)
    pseudo = np.array([_box(36, 36, 16, 16, 0, cls_conf=0.5, obj=0.25)], np.float32)
    soft = LossSettings(soft=True)
    _, p_gt_soft = detection_loss(out, [gt], 2, soft)
    _, p_gt_hard = detection_loss(out, [gt], 2)
    for key in ("iou_loss", "obj_loss", "cls_loss", "num_fg"):  # GT boxes (confidence 1) unchanged
        torch.testing.assert_close(p_gt_soft[key], p_gt_hard[key])
    _, p_pseudo = detection_loss(out, [pseudo], 2, soft)
    num_fg = p_pseudo["num_fg"].item()
    fg = [36]  # k = int(1 + ...) = 1: the exact anchor only
    assert num_fg == 1
    obj = out.preds[0, :, 4]
    target = torch.zeros(64)
    target[fg] = 0.25
    torch.testing.assert_close(p_pseudo["obj_loss"], F.binary_cross_entropy_with_logits(obj, target, reduction="sum"))
    cls_t = torch.tensor([[0.5 * 1.0, 0.0]])  # onehot * IoU (1) * class confidence
    torch.testing.assert_close(p_pseudo["cls_loss"],
                               F.binary_cross_entropy_with_logits(out.preds[0, fg, 5:], cls_t, reduction="sum"))


def test_single_gt_loss_values(head_output):
    out = head_output()
    out.preds[0, :, 2:4] = 1.0  # tiny boxes everywhere (IoU ~ 1/256), except an exact one at cell 36
    out.preds[0, 36, :4] = torch.tensor([36.0, 36.0, 16.0, 16.0])
    total, parts = detection_loss(out, [np.array([_box(36, 36, 16, 16, 1)], np.float32)], 2)
    assert parts["num_fg"].item() == 1
    assert parts["iou_loss"].item() == pytest.approx(0.0, abs=1e-6)  # exact box: 1 - IoU^2 = 0
    target = torch.zeros(64)
    target[36] = 1.0
    obj = F.binary_cross_entropy_with_logits(out.preds[0, :, 4], target, reduction="sum")
    torch.testing.assert_close(parts["obj_loss"], obj)
    assert parts["cls_loss"].item() == pytest.approx(math.log(2) * 2, rel=1e-5)  # logits 0, targets (0, 1)
    torch.testing.assert_close(total, parts["iou_loss"] + parts["obj_loss"] + parts["cls_loss"])


def test_bad_inputs_raise(head_output):
    out = head_output()
    with pytest.raises(ValueError, match="class ids"):
        detection_loss(out, [np.array([_box(36, 36, 16, 16, 5)], np.float32)], 2)
    with pytest.raises(ValueError, match=r"\(N, 7\)"):
        detection_loss(out, [np.zeros((1, 5), np.float32)], 2)
    with pytest.raises(ValueError, match="target arrays"):
        detection_loss(out, [], 2)


def test_gen4_thresholds_expand_like_leod():
    s = LossSettings.from_config(LossConfig(ignore_bbox_thresh=(0.7, 0.35)), 3)
    assert s.ignore_thresh == (0.35, 0.35, 0.7)
    assert LossSettings.from_config(LossConfig(ignore_bbox_thresh=()), 2).ignore_thresh is None
    with pytest.raises(ValueError, match="ignore_bbox_thresh"):
        LossSettings.from_config(LossConfig(ignore_bbox_thresh=(0.1, 0.2, 0.3, 0.4)), 2)
