"""SimOTA label assignment of YOLOX, as functions (REFERENCE 5d).

For one image: candidates are anchors whose cell center lies within +-1.5 strides of a GT center
(center prior only, no inside-box test). Cost[g, a] = sum_c BCE(sqrt(sig(cls) * sig(obj)), onehot(g))
+ 3 * (-log(IoU + 1e-8)) + 1e6 * [a outside g's center region]. Each GT takes its dynamic_k lowest-cost
candidates, k = max(1, int(sum of its top-10 IoUs)); an anchor claimed twice keeps the cheapest GT.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from leod_core.model.boxes_torch import pairwise_iou_cxcywh

__all__ = ["CENTER_RADIUS", "IOU_COST_WEIGHT", "TOPK_CANDIDATES", "OUTSIDE_COST", "Assignment",
           "center_prior", "simota_assign"]

CENTER_RADIUS = 1.5  # candidate region half-size, in strides
IOU_COST_WEIGHT = 3.0
TOPK_CANDIDATES = 10  # IoUs summed for dynamic k
OUTSIDE_COST = 1e6  # cost of an anchor outside the GT's center region


@dataclass
class Assignment:
    """Result for one image: ``fg_mask`` (A,) positive anchors; for the positives in anchor order,
    ``matched_gt`` (F,) index of their GT and ``matched_iou`` (F,) IoU of their prediction with it."""

    fg_mask: torch.Tensor
    matched_gt: torch.Tensor
    matched_iou: torch.Tensor

    @property
    def num_fg(self) -> int:
        return int(self.matched_gt.numel())


def center_prior(gt_cxcywh: torch.Tensor, anchor_centers: torch.Tensor, strides: torch.Tensor,
                 radius: float = CENTER_RADIUS) -> torch.Tensor:
    """(G, A) bool: anchor center strictly inside the +-radius*stride square around each GT center."""
    half = strides[None, :] * radius  # (1, A)
    ax, ay = anchor_centers[None, :, 0], anchor_centers[None, :, 1]
    gx, gy = gt_cxcywh[:, 0:1], gt_cxcywh[:, 1:2]
    # the four margins written as YOLOX does, so boundary cases round the same way
    deltas = torch.stack((ax - (gx - half), ay - (gy - half), (gx + half) - ax, (gy + half) - ay), dim=-1)
    return deltas.min(dim=-1).values > 0.0


def _empty(num_anchors: int, device: torch.device) -> Assignment:
    return Assignment(torch.zeros(num_anchors, dtype=torch.bool, device=device),
                      torch.zeros(0, dtype=torch.long, device=device), torch.zeros(0, device=device))


@torch.no_grad()
def simota_assign(gt_cxcywh: torch.Tensor, gt_classes: torch.Tensor, pred_cxcywh: torch.Tensor,
                  cls_logits: torch.Tensor, obj_logits: torch.Tensor, anchor_centers: torch.Tensor,
                  strides: torch.Tensor) -> Assignment:
    """Assign anchors of one image. gt (G, 4) center-xywh px, gt_classes (G,) long; pred (A, 4);
    cls_logits (A, C); obj_logits (A,); anchor_centers (A, 2); strides (A,). Computed in float32."""
    num_anchors, num_classes = cls_logits.shape
    num_gt = gt_cxcywh.shape[0]
    if num_gt == 0:
        return _empty(num_anchors, cls_logits.device)
    in_center = center_prior(gt_cxcywh, anchor_centers, strides)  # (G, A)
    cand = in_center.any(dim=0)  # (A,)
    if not bool(cand.any()):
        return _empty(num_anchors, cls_logits.device)
    gt = gt_cxcywh.float()
    ious = pairwise_iou_cxcywh(gt, pred_cxcywh[cand].float())  # (G, n)
    probs = (cls_logits[cand].float().sigmoid() * obj_logits[cand].float().sigmoid()[:, None]).sqrt()  # (n, C)
    onehot = F.one_hot(gt_classes.long(), num_classes).float()  # (G, C)
    n = probs.shape[0]
    cls_cost = F.binary_cross_entropy(probs[None].expand(num_gt, n, num_classes),
                                      onehot[:, None].expand(num_gt, n, num_classes), reduction="none").sum(-1)
    cost = cls_cost + IOU_COST_WEIGHT * -torch.log(ious + 1e-8) + OUTSIDE_COST * (~in_center[:, cand]).float()

    # dynamic k per GT from the sum of its top IoUs over all candidates
    topk_ious = torch.topk(ious, min(TOPK_CANDIDATES, n), dim=1).values
    dynamic_k = topk_ious.sum(dim=1).int().clamp(min=1)  # (G,)
    ranks = cost.argsort(dim=1, stable=True)  # cheapest first
    take = torch.arange(n, device=cost.device)[None, :] < dynamic_k[:, None]  # (G, n) in rank order
    matching = torch.zeros_like(take).scatter_(1, ranks, take)  # (G, n) in candidate order

    # an anchor claimed by several GTs keeps the GT of minimum cost
    multi = matching.sum(dim=0) > 1
    if bool(multi.any()):
        best = cost[:, multi].argmin(dim=0)
        matching[:, multi] = False
        matching[best, multi.nonzero().squeeze(1)] = True
    fg_cand = matching.any(dim=0)  # (n,)
    matched_gt = matching[:, fg_cand].float().argmax(dim=0)
    matched_iou = ious[matched_gt, fg_cand.nonzero().squeeze(1)]
    fg_mask = cand.clone()
    fg_mask[cand] = fg_cand
    return Assignment(fg_mask, matched_gt, matched_iou)
