import numpy as np
import torch

from leod_core.model.postprocess import postprocess


def test_postprocess_filters_nms_and_layout(head_output):
    out = head_output(batch=2)
    p = out.preds
    p[..., 4:] = -10.0  # everything below threshold ...
    # ... except two overlapping boxes of class 1 and one of class 0 in image 0
    p[0, 36, :] = torch.tensor([36.0, 36.0, 16.0, 16.0, 2.0, -1.0, 3.0])
    p[0, 37, :] = torch.tensor([38.0, 36.0, 16.0, 16.0, 1.0, -1.0, 2.0])  # IoU 0.78 with 36: suppressed
    p[0, 38, :] = torch.tensor([38.0, 36.0, 16.0, 16.0, 1.0, 2.0, -1.0])  # other class: kept
    dets = postprocess(out, conf_threshold=0.1, nms_iou=0.45)
    assert len(dets) == 2 and dets[1].shape == (0, 7)
    d = dets[0]
    assert d.dtype == np.float32 and d.shape == (2, 7)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    np.testing.assert_allclose(d[0], [28, 28, 16, 16, 1, sig(3.0), sig(2.0)], rtol=1e-6)
    np.testing.assert_allclose(d[1], [30, 28, 16, 16, 0, sig(2.0), sig(1.0)], rtol=1e-6)


def test_confidence_threshold_uses_obj_times_cls(head_output):
    out = head_output()
    out.preds[0, :, 4:] = -10.0
    out.preds[0, 10, 4:] = torch.tensor([0.0, 0.0, -10.0])  # obj 0.5 * cls 0.5 = 0.25
    assert len(postprocess(out, conf_threshold=0.25)[0]) == 1
    assert len(postprocess(out, conf_threshold=0.26)[0]) == 0
