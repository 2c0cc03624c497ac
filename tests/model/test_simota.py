import torch

from leod_core.model.simota import center_prior, simota_assign


def _assign(out, gt_cxcywh, gt_cls):
    return simota_assign(gt_cxcywh, gt_cls, out.preds[0, :, :4], out.preds[0, :, 5:], out.preds[0, :, 4],
                         out.anchor_centers, out.strides)


def test_center_prior_is_the_3x3_cells_around_the_center(head_output):
    out = head_output()
    gt = torch.tensor([[36.0, 36.0, 16.0, 16.0]])
    region = center_prior(gt, out.anchor_centers, out.strides)[0].reshape(8, 8)
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[3:6, 3:6] = True  # centers 28, 36, 44 are within +-12 px of 36
    assert torch.equal(region, expected)


def test_single_gt_takes_dynamic_k_lowest_cost_anchors(head_output):
    out = head_output()
    p = out.preds[0]
    p[:, 2:4] = 1.0  # tiny predictions: IoU ~ 1/256 with the GT
    gt = torch.tensor([[36.0, 36.0, 16.0, 16.0]])
    p[36, :4] = gt[0]  # cell (x4, y4): exact box, IoU 1
    p[37, :4] = torch.tensor([38.0, 36.0, 16.0, 16.0])  # cell (x5, y4): IoU 224/288
    p[28, :4] = torch.tensor([36.0, 33.0, 16.0, 16.0])  # cell (x4, y3): IoU 208/304
    p[0, :4] = gt[0]  # perfect but outside the center region: never a candidate
    a = _assign(out, gt, torch.tensor([0]))
    # k = int(1 + 0.778 + 0.684 + 6 / 256) = 2 -> the two lowest-cost (highest-IoU) candidates
    assert a.fg_mask.nonzero().flatten().tolist() == [36, 37]
    assert a.matched_gt.tolist() == [0, 0]
    torch.testing.assert_close(a.matched_iou, torch.tensor([1.0, 224 / 288]))


def test_anchor_claimed_by_two_gts_keeps_the_cheaper_one(head_output):
    out = head_output()
    p = out.preds[0]
    gt = torch.tensor([[36.0, 36.0, 16.0, 16.0], [44.0, 36.0, 16.0, 16.0]])
    p[36, :4] = torch.tensor([37.0, 36.0, 16.0, 16.0])  # closer to GT 0
    a = _assign(out, gt, torch.tensor([0, 1]))
    idx = a.fg_mask.nonzero().flatten().tolist()
    assert 36 in idx
    assert a.matched_gt[idx.index(36)].item() == 0
    assert a.matched_gt.numel() == len(idx)


def test_no_gt_or_no_candidate_gives_empty_assignment(head_output):
    out = head_output()
    a = _assign(out, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert a.num_fg == 0 and not a.fg_mask.any()
    far = torch.tensor([[1000.0, 1000.0, 10.0, 10.0]])  # center outside the image: no candidate anchors
    assert _assign(out, far, torch.tensor([1])).num_fg == 0
