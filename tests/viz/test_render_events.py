"""render_events' colour lookup equals the per-pixel float blend it replaced, bit for bit (the evaluation
frames are DVC outputs whose hashes are pinned)."""

import numpy as np

from leod_core.viz.frames import _BG, _OFF, _ON, render_events


def _blend(rep: np.ndarray) -> np.ndarray:
    bins = rep.shape[0] // 2
    off = rep[:bins].astype(np.float32).sum(0)
    on = rep[bins:].astype(np.float32).sum(0)
    a_on = np.clip(on / 10.0, 0, 1)[..., None]
    a_off = np.clip(off / 10.0, 0, 1)[..., None]
    img = _BG * (1 - a_on) + _ON * a_on
    img = img * (1 - a_off) + _OFF * a_off
    return img.round().astype(np.uint8)


def test_lookup_equals_float_blend():
    rng = np.random.default_rng(0)
    rep = np.zeros((20, 24, 24), np.uint8)
    rep[3, :12, :12] = np.arange(144).reshape(12, 12) % 12  # every count 0..11 in one bin
    rep[15, :, :] = np.arange(24 * 24).reshape(24, 24) % 13
    rep[:, 12:, 12:] = rng.integers(0, 256, (20, 12, 12))  # saturated sums up to 2550
    assert np.array_equal(np.asarray(render_events(rep)), _blend(rep))
    assert np.array_equal(np.asarray(render_events(rep, scale=3)), np.repeat(np.repeat(_blend(rep), 3, 0), 3, 1))
