import numpy as np
import pytest
import torch

from leod_core.labels.boxes import box_iou
from leod_core.model.boxes_torch import batched_nms, nms, pairwise_iou_cxcywh, pairwise_iou_xyxy


def _random_boxes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 2
    scores = torch.rand(n, generator=g)
    classes = torch.randint(0, 3, (n,), generator=g)
    return torch.cat((xy, xy + wh), dim=1), scores, classes


def _brute_force_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep: list[int] = []
    for i in order:
        if all(box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0] <= thr for j in keep):
            keep.append(i)
    return keep


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("block", [1024, 7])
def test_nms_matches_brute_force(seed, block):
    boxes, scores, _ = _random_boxes(120, seed)
    before = boxes.clone()
    kept = nms(boxes, scores, 0.45, block=block).tolist()
    assert kept == _brute_force_nms(boxes.numpy(), scores.numpy(), 0.45)
    assert torch.equal(boxes, before)  # inputs unchanged


def test_batched_nms_never_suppresses_across_classes():
    boxes, scores, classes = _random_boxes(150, 3)
    kept = set(batched_nms(boxes, scores, classes, 0.45).tolist())
    expected = set()
    for c in range(3):
        idx = torch.nonzero(classes == c).flatten()
        expected |= {int(idx[i]) for i in _brute_force_nms(boxes[idx].numpy(), scores[idx].numpy(), 0.45)}
    assert kept == expected


def test_nms_edge_cases():
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    same = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10]])
    assert nms(same, torch.tensor([0.2, 0.9]), 0.5).tolist() == [1]
    # IoU exactly at the threshold is kept (suppression needs IoU > threshold)
    half = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5]])  # IoU 0.5
    assert nms(half, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0, 1]


def test_pairwise_iou_agrees_with_numpy_reference():
    boxes, _, _ = _random_boxes(20, 4)
    ref = box_iou(boxes[:5].numpy(), boxes.numpy())
    np.testing.assert_allclose(pairwise_iou_xyxy(boxes[:5], boxes).numpy(), ref, rtol=1e-5, atol=1e-6)
    cxcywh = torch.cat(((boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]), dim=1)
    np.testing.assert_allclose(pairwise_iou_cxcywh(cxcywh[:5], cxcywh).numpy(), ref, rtol=1e-4, atol=1e-6)
