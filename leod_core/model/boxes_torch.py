"""Box operations in torch: IoU variants and class-wise NMS (no torchvision)."""

from __future__ import annotations

import torch

__all__ = ["cxcywh_to_xyxy", "pairwise_iou_cxcywh", "iou_cxcywh", "pairwise_iou_xyxy", "nms", "batched_nms"]


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) center xywh -> (..., 4) x1y1x2y2."""
    half = boxes[..., 2:4] / 2
    return torch.cat((boxes[..., :2] - half, boxes[..., :2] + half), dim=-1)


def pairwise_iou_cxcywh(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of (N, 4) and (M, 4) center-xywh boxes -> (N, M); YOLOX ``bboxes_iou(xyxy=False)`` (no eps)."""
    tl = torch.maximum(a[:, None, :2] - a[:, None, 2:] / 2, b[None, :, :2] - b[None, :, 2:] / 2)
    br = torch.minimum(a[:, None, :2] + a[:, None, 2:] / 2, b[None, :, :2] + b[None, :, 2:] / 2)
    inter = (br - tl).clamp(min=0).prod(dim=2)
    area_a = a[:, 2:].prod(dim=1)
    area_b = b[:, 2:].prod(dim=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def iou_cxcywh(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Element-wise IoU of (N, 4) center-xywh boxes -> (N,); YOLOX ``IOUloss`` (eps 1e-16 in the union)."""
    tl = torch.maximum(pred[:, :2] - pred[:, 2:] / 2, target[:, :2] - target[:, 2:] / 2)
    br = torch.minimum(pred[:, :2] + pred[:, 2:] / 2, target[:, :2] + target[:, 2:] / 2)
    inter = (br - tl).clamp(min=0).prod(dim=1)
    union = pred[:, 2:].prod(dim=1) + target[:, 2:].prod(dim=1) - inter
    return inter / (union + 1e-16)


def pairwise_iou_xyxy(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of (N, 4) and (M, 4) x1y1x2y2 boxes -> (N, M); 0 where the union is empty."""
    tl = torch.maximum(a[:, None, :2], b[None, :, :2])
    br = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (br - tl).clamp(min=0).prod(dim=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(dim=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(dim=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms(boxes_xyxy: torch.Tensor, scores: torch.Tensor, iou_threshold: float, block: int = 1024) -> torch.Tensor:
    """Greedy NMS: indices of kept boxes, by decreasing score. A box is dropped when its IoU with a kept,
    higher-scoring box is > iou_threshold (torchvision semantics). Inputs are not modified.

    IoUs are computed ``block`` rows at a time, so memory stays O(block * N) for thousands of boxes.
    """
    if boxes_xyxy.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes_xyxy.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    boxes = boxes_xyxy[order]
    n = boxes.shape[0]
    suppressed = torch.zeros(n, dtype=torch.bool, device=boxes.device)
    for start in range(0, n, block):
        stop = min(start + block, n)
        iou = pairwise_iou_xyxy(boxes[start:stop], boxes[start:]) > iou_threshold  # (blk, n - start)
        # resolve the block greedily on its small square part, then propagate to the later boxes
        square = iou[:, : stop - start]
        sup_blk = suppressed[start:stop].clone()
        for i in range(stop - start):
            if not sup_blk[i]:
                sup_blk[i + 1:] |= square[i, i + 1:]
        suppressed[start:stop] = sup_blk
        kept_blk = ~sup_blk
        if stop < n:
            suppressed[stop:] |= iou[kept_blk, stop - start:].any(dim=0)
    return order[~suppressed]


def batched_nms(boxes_xyxy: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """Class-wise NMS: boxes of different classes never suppress each other (coordinate-offset trick)."""
    if boxes_xyxy.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes_xyxy.device)
    offset = classes.to(boxes_xyxy.dtype)[:, None] * (boxes_xyxy.max() - boxes_xyxy.min() + 1)
    return nms(boxes_xyxy - boxes_xyxy.min() + offset, scores, iou_threshold)
