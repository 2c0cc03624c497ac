"""Augmentation: frames and boxes move together (REFERENCE 7a)."""

import numpy as np
import pytest
import torch

from leod_core.config import AugmentConfig
from leod_core.data.augment import (
    AugmentParams, Zoom, apply_spatial, clamp_boxes, hflip_boxes, place_zoom_in, sample_random_params,
    sample_stream_params, time_flip_frames, zoom_in_boxes, zoom_out_boxes,
)

HW = (32, 40)


def _box(x, y, w, h, c=0):
    return np.array([[x, y, w, h, c, 1, 1]], dtype=np.float32)


def _draw(boxes: np.ndarray, hw=HW, T=2) -> torch.Tensor:
    ev = torch.zeros((T, 20, *hw))
    for x, y, w, h in boxes[:, :4].astype(int):
        ev[:, 3, y:y + h, x:x + w] = 1.0
    return ev


def _bbox_of(mask: torch.Tensor) -> np.ndarray:
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()], dtype=np.float32)


def test_hflip_twice_is_identity_and_moves_drawn_box():
    b = np.concatenate([_box(3, 5, 7, 4), _box(30, 1, 10, 9, 1)])
    np.testing.assert_allclose(hflip_boxes(hflip_boxes(b, 40), 40), b)
    ev = _draw(b[:1])
    ev2, (lab,) = apply_spatial(ev, [[b[:1]]], AugmentParams(hflip=True))
    np.testing.assert_allclose(_bbox_of(ev2[0, 3] > 0), lab[0][0, :4])
    np.testing.assert_allclose(lab[0][0, :4], [40 - 3 - 7, 5, 7, 4])


@pytest.mark.parametrize("zoom", [Zoom(1.25, 4, 3), Zoom(1.5, 10, 8), Zoom(1.1, 0, 0)])
def test_zoom_in_moves_drawn_box(zoom):
    b = _box(14, 12, 8, 6)
    ev2, (lab,) = apply_spatial(_draw(b), [[b]], AugmentParams(zoom_in=zoom))
    assert ev2.shape == (2, 20, *HW)
    np.testing.assert_allclose(_bbox_of(ev2[1, 3] > 0), lab[0][0, :4], atol=1.01)


@pytest.mark.parametrize("zoom", [Zoom(1.2, 5, 4), Zoom(1.05, 1, 0)])
def test_zoom_out_moves_drawn_box(zoom):
    b = _box(10, 8, 12, 10)
    ev2, (lab,) = apply_spatial(_draw(b), [[b]], AugmentParams(zoom_out=zoom))
    np.testing.assert_allclose(_bbox_of(ev2[0, 3] > 0), lab[0][0, :4], atol=1.01)
    wh, ww = int(32 / zoom.factor), int(40 / zoom.factor)
    outside = torch.ones(HW, dtype=torch.bool)
    outside[zoom.y0:zoom.y0 + wh, zoom.x0:zoom.x0 + ww] = False
    assert ev2[:, :, outside].abs().sum() == 0  # pasted into zeros


def test_boxes_clamped_and_flat_removed():
    b = np.concatenate([_box(-5, 2, 10, 4), _box(35, 30, 10, 10), _box(0, 0, 3, 3)])
    out = clamp_boxes(b, HW)
    np.testing.assert_allclose(out[:, :4], [[0, 2, 5, 4], [35, 30, 5, 2], [0, 0, 3, 3]])
    # zoom into the top-left corner: the far box leaves the window and is removed
    z = zoom_in_boxes(np.concatenate([_box(2, 2, 4, 4), _box(34, 26, 4, 4)]), Zoom(1.5, 0, 0), HW)
    assert len(z) == 1
    assert len(zoom_out_boxes(_box(2, 2, 4, 4), Zoom(1.2, 3, 3), HW)) == 1


def test_time_flip_reverses_and_flips_channels():
    ev = torch.arange(3 * 20, dtype=torch.float32).reshape(3, 20, 1, 1).expand(3, 20, 2, 2).clone()
    out = time_flip_frames(ev)
    assert out[0, 0, 0, 0] == ev[2, 19, 0, 0] and out[2, 19, 1, 1] == ev[0, 0, 1, 1]
    assert torch.equal(time_flip_frames(out), ev)


def test_none_labels_pass_and_every_label_list_transformed():
    b = _box(3, 5, 7, 4)
    _, (lab, wh) = apply_spatial(_draw(b), [[None, b], [b, None]], AugmentParams(hflip=True))
    assert lab[0] is None and wh[1] is None
    np.testing.assert_allclose(lab[1], wh[0])


def test_zoom_in_window_contains_a_latest_box():
    rng = np.random.default_rng(0)
    labels = [_box(1, 1, 4, 4), None, _box(25, 18, 6, 5)]  # latest labelled = last
    for _ in range(50):
        p = place_zoom_in(AugmentParams(zoom_in=Zoom(float(rng.uniform(1, 1.5)), 0, 0)), labels, HW, rng)
        f = p.zoom_in.factor
        wh, ww = int(32 / f), int(40 / f)
        assert p.zoom_in.x0 <= 25 and p.zoom_in.x0 + ww >= 31 and p.zoom_in.y0 <= 18 and p.zoom_in.y0 + wh >= 23
        assert 0 <= p.zoom_in.x0 <= 40 - ww and 0 <= p.zoom_in.y0 <= 32 - wh
    assert place_zoom_in(AugmentParams(zoom_in=Zoom(1.3, 0, 0)), [None], HW, rng).zoom_in is None


def test_param_sampling_rates():
    rng = np.random.default_rng(1)
    cfg = AugmentConfig()  # hflip .5, zoom .8 (in:out 8:2), tflip .5, stream zoom-out .5
    ps = [sample_random_params(rng, cfg, HW) for _ in range(4000)]
    assert abs(np.mean([p.hflip for p in ps]) - 0.5) < 0.03
    assert abs(np.mean([p.tflip for p in ps]) - 0.5) < 0.03
    assert abs(np.mean([p.zoom_in is not None for p in ps]) - 0.64) < 0.03
    assert abs(np.mean([p.zoom_out is not None for p in ps]) - 0.16) < 0.03
    assert all(1 <= p.zoom_in.factor <= 1.5 for p in ps if p.zoom_in)
    assert all(1 <= p.zoom_out.factor <= 1.2 for p in ps if p.zoom_out)
    ss = [sample_stream_params(rng, cfg, HW) for _ in range(2000)]
    assert all(p.zoom_in is None for p in ss)
    assert abs(np.mean([p.zoom_out is not None for p in ss]) - 0.5) < 0.04
    off = AugmentConfig(hflip=0, zoom_random=0, zoom_stream=0, tflip=0)
    assert sample_random_params(rng, off, HW) == AugmentParams()
