"""The numpy stacked histogram must be bit-identical to RVT's torch formula (written out below)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from leod_core.events.histogram import downsample_2x_nearest_exact, stacked_histogram, time_bin_bounds


def rvt_reference(t, x, y, p, height, width, bins=10, cutoff=10) -> np.ndarray:
    """RVT ``StackedHistogram.construct`` (fastmode=True) re-written from its published arithmetic."""
    torch.set_num_threads(1)
    rep = torch.zeros((2, bins, height, width), dtype=torch.uint8)
    if len(t) == 0:
        return rep.reshape(-1, height, width).numpy()
    t, x, y, p = (torch.from_numpy(np.asarray(a, dtype=np.int64)) for a in (t, x, y, p))
    t0, t1 = t[0], t[-1]
    t_norm = (t - t0) / max(t1 - t0, 1)  # int64 / int64 tensor -> float32 (torch default dtype)
    t_idx = torch.clamp((t_norm * bins).floor(), max=bins - 1)
    idx = x + width * y + height * width * t_idx.long() + bins * height * width * p
    rep.put_(idx, torch.ones_like(idx, dtype=torch.uint8), accumulate=True)
    return torch.clamp(rep, min=0, max=cutoff).reshape(-1, height, width).numpy()


def _random_events(rng, n, height, width, duration):
    t = np.sort(rng.integers(0, duration + 1, n)) + int(rng.integers(0, 10**9))
    return t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n)


@pytest.mark.parametrize("seed", range(6))
def test_matches_rvt_random(seed):
    rng = np.random.default_rng(seed)
    h, w = 6, 7
    for duration in (0, 1, 3, 9, 10, 11, 997, 49_999, 50_000, 123_457):
        ev = _random_events(rng, int(rng.integers(1, 400)), h, w, duration)
        np.testing.assert_array_equal(stacked_histogram(*ev, h, w), rvt_reference(*ev, h, w))


def test_bin_bounds_match_float32_formula_for_every_duration():
    # every event time from t0 to t0 + duration, for many durations: bins equal torch's per-event formula
    for duration in list(range(1, 400)) + [49_999, 50_000, 65_537, 999_999]:
        t = torch.arange(duration + 1, dtype=torch.int64) + 17
        ref = torch.clamp(((t - t[0]) / max(t[-1] - t[0], 1) * 10).floor(), max=9).long().numpy()
        bounds = time_bin_bounds(t.numpy(), 10)
        ours = np.repeat(np.arange(10), np.diff(bounds))
        np.testing.assert_array_equal(ours, ref, err_msg=f"duration {duration}")


def test_long_window_uses_exact_slow_path():
    rng = np.random.default_rng(1)
    ev = _random_events(rng, 2000, 4, 5, 2**25 + 3)  # float32 rounding of t - t0 matters here
    np.testing.assert_array_equal(stacked_histogram(*ev, 4, 5), rvt_reference(*ev, 4, 5))


def test_empty_window_is_zero():
    e = np.zeros(0, dtype=np.int64)
    out = stacked_histogram(e, e, e, e, 3, 4)
    assert out.shape == (20, 3, 4) and out.dtype == np.uint8 and not out.any()


def test_one_event():
    out = stacked_histogram(np.array([5]), np.array([2]), np.array([1]), np.array([1]), 3, 4)
    assert out.sum() == 1 and out[10, 1, 2] == 1  # polarity 1, bin 0


def test_all_events_at_one_timestamp():
    rng = np.random.default_rng(3)
    n = 300
    ev = (np.full(n, 777), rng.integers(0, 4, n), rng.integers(0, 3, n), rng.integers(0, 2, n))
    out = stacked_histogram(*ev, 3, 4)
    np.testing.assert_array_equal(out, rvt_reference(*ev, 3, 4))
    assert out[1:10].sum() == 0 and out[11:20].sum() == 0  # duration 0 -> everything in bin 0


@pytest.mark.parametrize("hits,expected", [(255, 10), (256, 0), (259, 3), (300, 10), (512, 0)])
def test_hot_pixel_wraps_like_uint8(hits, expected):
    t = np.zeros(hits, dtype=np.int64)
    x = np.full(hits, 1)
    y = np.zeros(hits, dtype=np.int64)
    p = np.zeros(hits, dtype=np.int64)
    out = stacked_histogram(t, x, y, p, 2, 2)
    assert out[0, 0, 1] == expected
    np.testing.assert_array_equal(out, rvt_reference(t, x, y, p, 2, 2))


def test_cutoff_and_bins_arguments():
    rng = np.random.default_rng(4)
    ev = _random_events(rng, 3000, 3, 3, 1000)
    np.testing.assert_array_equal(stacked_histogram(*ev, 3, 3, bins=5, count_cutoff=200),
                                  rvt_reference(*ev, 3, 3, bins=5, cutoff=200))
    assert stacked_histogram(*ev, 3, 3, bins=1, count_cutoff=None).max() > 10  # None = 255


def test_rejects_bad_input():
    t = np.array([0, 5, 3])
    z = np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match="not sorted"):
        stacked_histogram(t, z, z, z, 2, 2)
    with pytest.raises(ValueError, match="outside the sensor"):
        stacked_histogram(np.arange(3), np.array([0, 2, 0]), z, z, 2, 2)
    with pytest.raises(ValueError, match="polarity"):
        stacked_histogram(np.arange(3), z, z, np.array([0, 1, 2]), 2, 2)
    with pytest.raises(ValueError, match="length"):
        stacked_histogram(np.arange(2), z, z, z, 2, 2)


@pytest.mark.parametrize("hw", [(6, 8), (7, 9), (5, 4), (720 // 40, 1280 // 40)])
def test_downsample_matches_torch_nearest_exact(hw):
    rng = np.random.default_rng(0)
    rep = rng.integers(0, 11, (20, *hw), dtype=np.uint8)
    ref = F.interpolate(torch.from_numpy(rep)[None], scale_factor=0.5, mode="nearest-exact")[0].numpy()
    ours = downsample_2x_nearest_exact(rep)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)
    np.testing.assert_array_equal(ours, rep[:, 1::2, 1::2][:, : hw[0] // 2, : hw[1] // 2])  # picks (2i+1, 2j+1)
