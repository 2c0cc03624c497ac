import numpy as np
import torch

from leod_core.config import LossConfig
from leod_core.model.presets import build_detector


def test_bptt_gather_loss_backward_and_predict():
    torch.manual_seed(0)
    model = build_detector("nano", "synth")
    L, B = 3, 2
    x = torch.rand(L, B, 20, 128, 160) * 3
    states, per_step = None, []
    for t in range(L):
        feats, states = model.forward_backbone(x[t], states)
        per_step.append(feats)
    pairs = [(1, 0), (2, 1), (2, 0)]
    gathered = model.gather_features(per_step, pairs)
    assert gathered[2].shape[0] == 3 and 1 not in gathered
    torch.testing.assert_close(gathered[3][1], per_step[2][3][1])
    targets = [np.array([[10, 20, 30, 25, 0, 1, 1]], np.float32), np.zeros((0, 7), np.float32),
               np.array([[50, 40, 20, 40, 1, 0.9, 0.8], [90, 60, 20, 20, 1024, 0, 0]], np.float32)]
    total, parts = model.loss(gathered, targets, LossConfig())
    assert torch.isfinite(total) and parts["num_fg"] > 0
    total.backward()
    grad = model.backbone.stages[0].downsample_cf2cl.conv.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0  # BPTT reaches the stem
    model.eval()
    dets = model.predict(gathered, conf_threshold=0.0, nms_iou=0.45)
    assert len(dets) == 3 and all(d.dtype == np.float32 and d.shape[1] == 7 for d in dets)
    assert dets[0].shape[0] > 0
    scores = dets[0][:, 5] * dets[0][:, 6]
    assert np.all(np.diff(scores) <= 1e-6)  # sorted by obj * cls


def test_states_can_be_detached_and_reset_per_sample():
    model = build_detector("nano", "synth").eval()
    x = torch.rand(2, 20, 128, 160)
    with torch.no_grad():
        f1, s1 = model.forward_backbone(x)
        # reset sample 0 only (RVT: multiply by ~is_first), keep sample 1
        keep = torch.tensor([0.0, 1.0]).view(2, 1, 1, 1)
        s_mixed = [(h * keep, c * keep) for h, c in s1]
        f2, _ = model.forward_backbone(x, s_mixed)
        f_fresh, _ = model.forward_backbone(x[:1])
    torch.testing.assert_close(f2[4][:1], f_fresh[4], rtol=1e-5, atol=1e-6)
