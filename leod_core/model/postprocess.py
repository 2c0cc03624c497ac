"""YOLOX post-processing: per-anchor max class, confidence filter, class-wise NMS (REFERENCE 3b, 5c).

Keep an anchor when objectness * max class probability >= ``conf_threshold``; NMS per class on that
score. Output per image: float32 (N, 7) ``[x, y, w, h, class_id, class_confidence, objectness]``
(top-left xywh in input pixels; class confidence = max class probability, the COCO score), sorted by
decreasing obj * cls score.
"""

from __future__ import annotations

import numpy as np
import torch

from leod_core.model.boxes_torch import batched_nms, cxcywh_to_xyxy
from leod_core.model.head import HeadOutput

__all__ = ["postprocess"]


@torch.no_grad()
def postprocess(out: HeadOutput, conf_threshold: float = 0.1, nms_iou: float = 0.45) -> list[np.ndarray]:
    """Decoded head output -> one float32 (N, 7) array per image."""
    preds = out.preds.float()
    obj = preds[..., 4].sigmoid()
    cls_conf, cls_id = preds[..., 5:].sigmoid().max(dim=-1)
    score = obj * cls_conf
    results = []
    for b in range(preds.shape[0]):
        keep = score[b] >= conf_threshold
        xyxy = cxcywh_to_xyxy(preds[b, keep, :4])
        idx = batched_nms(xyxy, score[b, keep], cls_id[b, keep], nms_iou)
        xyxy = xyxy[idx]
        det = torch.stack((xyxy[:, 0], xyxy[:, 1], xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1],
                           cls_id[b, keep][idx].float(), cls_conf[b, keep][idx], obj[b, keep][idx]), dim=1)
        results.append(det.cpu().numpy().astype(np.float32, copy=False))
    return results
