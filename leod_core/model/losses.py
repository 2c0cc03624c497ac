"""YOLOX detection loss with LEOD's ignore boxes and an optional soft-target mode (REFERENCE 5d, 5e).

total = reg_weight * IoU loss + obj loss + cls loss, each summed and divided by num_fg (>= 1):
- IoU loss: 1 - IoU(pred, matched GT)^2 over positive anchors;
- obj: BCE-with-logits over every anchor not in an ignore region (target 1 on positives, else 0);
- cls: BCE-with-logits over positives, target onehot(class) * IoU(pred, matched GT).

Targets per frame are float (N, 7) arrays in ``FRAME_LABEL_COLUMNS`` order (top-left xywh, input px).
Boxes of class ``IGNORE_CLASS_ID`` (1024) never become positives; the anchors in their +-1.5-stride
center region that are not in any valid box's center region get no objectness loss. In ``ignore``
mode, boxes whose objectness or class confidence is below the per-class threshold are first turned into
ignore boxes (LEOD ``ignore_bbox_thresh``). In ``soft`` mode that relabelling is skipped: every box
stays a positive and its objectness / class confidence scale the obj / cls targets of its anchors (GT
boxes have confidence 1, so they are unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from leod_core.cameras import IGNORE_CLASS_ID
from leod_core.model.boxes_torch import iou_cxcywh
from leod_core.model.head import HeadOutput
from leod_core.model.simota import Assignment, center_prior, simota_assign

__all__ = ["LossSettings", "detection_loss", "targets_to_tensor"]


@dataclass(frozen=True)
class LossSettings:
    """What the loss needs from ``cfg.loss``, with per-class thresholds already expanded."""

    soft: bool = False
    ignore_thresh: tuple[float, ...] | None = None  # per class; None = off (RVT / LEOD pre-training)
    reg_weight: float = 5.0

    @classmethod
    def from_config(cls, loss_cfg: Any, num_classes: int, ignore: bool = True) -> LossSettings:
        """From a :class:`leod_core.config.LossConfig` (or None = plain YOLOX); ``ignore=False``: without
        ignore thresholds, which are then not read (LEOD's pre-training has none)."""
        if loss_cfg is None:
            return cls()
        mode = getattr(loss_cfg.target_mode, "value", loss_cfg.target_mode)
        if mode not in ("ignore", "soft"):
            raise ValueError(f"loss.target_mode={mode!r} is invalid; allowed: ignore, soft")
        thresh = tuple(float(v) for v in (loss_cfg.ignore_bbox_thresh or ())) if ignore else ()
        if thresh and len(thresh) != num_classes:
            if num_classes == 3 and len(thresh) == 2:  # LEOD rule: gen4 [car, ped] -> [ped, ped, car]
                thresh = (thresh[1], thresh[1], thresh[0])
            else:
                raise ValueError(f"loss.ignore_bbox_thresh has {len(thresh)} values; the model has "
                                 f"{num_classes} classes")
        return cls(soft=mode == "soft", ignore_thresh=thresh or None, reg_weight=float(loss_cfg.reg_weight))


def targets_to_tensor(target: np.ndarray | torch.Tensor, num_classes: int, device: torch.device) -> torch.Tensor:
    """One frame's (N, 7) labels -> float32 tensor [cls, cx, cy, w, h, cls_conf, obj]; checks class ids."""
    t = torch.as_tensor(np.asarray(target, dtype=np.float32) if isinstance(target, np.ndarray) else target,
                        dtype=torch.float32, device=device)
    if t.ndim != 2 or t.shape[1] != 7:
        raise ValueError(f"frame labels must be (N, 7) FRAME_LABEL_COLUMNS, got shape {tuple(t.shape)}")
    cls_id = t[:, 4]
    bad = ~(((cls_id >= 0) & (cls_id < num_classes) & (cls_id == cls_id.round())) | (cls_id == IGNORE_CLASS_ID))
    if bool(bad.any()):
        raise ValueError(f"frame labels contain class ids {cls_id[bad].unique().tolist()}; allowed 0..{num_classes - 1} "
                         f"or {IGNORE_CLASS_ID} (ignore)")
    centers = t[:, 0:2] + t[:, 2:4] / 2
    return torch.cat((cls_id[:, None], centers, t[:, 2:4], t[:, 5:7]), dim=1)


def _split_boxes(lab: torch.Tensor, settings: LossSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """(valid mask, ignore mask) over the frame's boxes after LEOD's confidence relabelling."""
    ignore = lab[:, 0] == IGNORE_CLASS_ID
    if settings.ignore_thresh is not None and not settings.soft:
        thr = torch.tensor(settings.ignore_thresh + (0.0,), device=lab.device)
        cls_idx = torch.where(ignore, len(settings.ignore_thresh), lab[:, 0].long())
        t = thr[cls_idx]
        ignore = ignore | (lab[:, 6] < t) | (lab[:, 5] < t)  # objectness or class confidence below tau_c
    return ~ignore, ignore


def detection_loss(out: HeadOutput, targets: Sequence[np.ndarray | torch.Tensor], num_classes: int,
                   settings: LossSettings = LossSettings()) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss of a batch of labelled frames. Returns (total, {iou_loss (weighted), obj_loss, cls_loss, num_fg})."""
    preds = out.preds
    batch, num_anchors = preds.shape[:2]
    if len(targets) != batch:
        raise ValueError(f"got {len(targets)} target arrays for a batch of {batch} frames")
    centers = out.anchor_centers.float()
    strides = out.strides.float()
    obj_logits = preds[..., 4]
    cls_logits = preds[..., 5:]

    obj_target = torch.zeros(batch, num_anchors, device=preds.device)
    obj_valid = torch.ones(batch, num_anchors, dtype=torch.bool, device=preds.device)
    fg_masks, cls_targets, reg_targets = [], [], []
    for b, target in enumerate(targets):
        lab = targets_to_tensor(target, num_classes, preds.device)
        valid, ignore = _split_boxes(lab, settings)
        gt = lab[valid]
        assign = simota_assign(gt[:, 1:5], gt[:, 0].long(), preds[b, :, :4].detach(), cls_logits[b].detach(),
                               obj_logits[b].detach(), centers, strides) if len(gt) else None
        if bool(ignore.any()):
            in_ignore = center_prior(lab[ignore, 1:5], centers, strides).any(dim=0)
            in_valid = center_prior(gt[:, 1:5], centers, strides).any(dim=0) if len(gt) else torch.zeros_like(in_ignore)
            obj_valid[b] = ~(in_ignore & ~in_valid)
        if assign is None or assign.num_fg == 0:
            fg_masks.append(torch.zeros(num_anchors, dtype=torch.bool, device=preds.device))
            continue
        fg_masks.append(assign.fg_mask)
        cls_t, obj_t = _positive_targets(assign, gt, num_classes, settings.soft)
        obj_target[b, assign.fg_mask] = obj_t
        cls_targets.append(cls_t)
        reg_targets.append(gt[assign.matched_gt, 1:5])

    fg = torch.stack(fg_masks)  # (B, A)
    num_fg = int(fg.sum())
    denom = max(num_fg, 1)
    loss_obj = F.binary_cross_entropy_with_logits(obj_logits[obj_valid].float(), obj_target[obj_valid],
                                                  reduction="sum") / denom
    if num_fg:
        loss_iou = (1 - iou_cxcywh(preds[fg][:, :4].float(), torch.cat(reg_targets)) ** 2).sum() / denom
        loss_cls = F.binary_cross_entropy_with_logits(cls_logits[fg].float(), torch.cat(cls_targets),
                                                      reduction="sum") / denom
    else:  # keep the graph connected so backward() works on a frame batch without positives
        loss_iou = preds[..., :4].sum() * 0.0
        loss_cls = cls_logits.sum() * 0.0
    iou_term = settings.reg_weight * loss_iou
    total = iou_term + loss_obj + loss_cls
    return total, {"iou_loss": iou_term.detach(), "obj_loss": loss_obj.detach(), "cls_loss": loss_cls.detach(),
                   "num_fg": torch.tensor(float(num_fg))}


def _positive_targets(assign: Assignment, gt: torch.Tensor, num_classes: int,
                      soft: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(cls targets (F, C), obj targets (F,)) of one image's positive anchors."""
    cls_t = F.one_hot(gt[assign.matched_gt, 0].long(), num_classes).float() * assign.matched_iou[:, None]
    obj_t = torch.ones_like(assign.matched_iou)
    if soft:  # pseudo boxes: confidences scale the positive targets (GT boxes have 1)
        cls_t = cls_t * gt[assign.matched_gt, 5:6]
        obj_t = gt[assign.matched_gt, 6]
    return cls_t, obj_t
