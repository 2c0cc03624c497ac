"""Fixtures of the prediction tests: raw synth-sized recordings (a car and a pedestrian crossing), the same
recordings imported into the RVT layout, and a nano detector trained on them for a few dozen steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from leod_core.cameras import get_camera
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.events.prophesee_import import find_raw_sequences, import_sequence
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.labels.rvt_labels import build_labels_full

SYNTH = get_camera("synth")
H, W = SYNTH.sensor_hw
DURATION_US = 2_000_000
LABEL_US = 100_000  # label frames > 100 ms apart: the +-50 ms match of a _bbox.npy never mixes two frames
NAMES = ("rec_a", "rec_b")


def _objects(k: int, t_us: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float, float, int]]:
    """(x0, y0, w, h, class) of the two objects at times ``t_us``; recording ``k`` is shifted."""
    s = t_us / 1e6
    car = (10 + 40 * s + 8 * k, np.full_like(s, 30 + 10 * k), 36.0, 22.0, 0)
    ped = (130 - 30 * s - 5 * k, np.full_like(s, 70.0), 12.0, 30.0, 1)
    return [car, ped]


def _events(k: int, rng: np.random.Generator) -> np.ndarray:
    """ON events along each object's leading edge, OFF along its trailing edge, every 0.5 ms, plus noise."""
    parts = []
    for t in np.arange(0, DURATION_US, 500):
        for x0, y0, w, h, _ in _objects(k, np.array([t], np.float64)):
            ys = np.arange(int(y0[0]), int(y0[0] + h))
            n = len(ys)
            lead, trail = (x0[0] + w, x0[0]) if w > 20 else (x0[0], x0[0] + w)
            for x, p in ((lead, 1), (trail, 0)):
                xi = int(np.clip(x, 0, W - 1))
                keep = rng.random(n) < 0.5
                parts.append(np.rec.fromarrays([np.full(keep.sum(), t), np.full(keep.sum(), xi), ys[keep],
                                                np.full(keep.sum(), p)], dtype=EVENT_DTYPE))
        m = rng.poisson(2)
        parts.append(np.rec.fromarrays([np.full(m, t), rng.integers(0, W, m), rng.integers(0, H, m),
                                        rng.integers(0, 2, m)], dtype=EVENT_DTYPE))
    ev = np.concatenate(parts).view(np.ndarray).astype(EVENT_DTYPE)
    return ev[np.argsort(ev["t"], kind="stable")]


def _boxes(k: int) -> np.ndarray:
    t = np.arange(LABEL_US, DURATION_US, LABEL_US)
    rows = []
    for x0, y0, w, h, c in _objects(k, t.astype(np.float64)):
        for i, ti in enumerate(t):
            rows.append((ti, x0[i], y0[i], w, h, c))
    out = np.zeros(len(rows), PROPHESEE_BBOX_DTYPE)
    for f, col in zip(("t", "x", "y", "w", "h", "class_id"), zip(*rows)):
        out[f] = col
    out["class_confidence"] = 1.0
    return out[np.argsort(out["t"], kind="stable")]


@pytest.fixture(scope="session")
def raw_root(tmp_path_factory):
    """``raw/test/NAME_td.dat`` + ``NAME_bbox.npy`` for both recordings."""
    root = tmp_path_factory.mktemp("predict_raw")
    rng = np.random.default_rng(0)
    for k, name in enumerate(NAMES):
        write_dat(root / "test" / f"{name}_td.dat", _events(k, rng), H, W)
        np.save(root / "test" / f"{name}_bbox.npy", _boxes(k))
    return root


@pytest.fixture(scope="session")
def dataset_root(raw_root, tmp_path_factory):
    """The raw recordings imported (RVT layout + labels_full.parquet) as the test split, and again as the
    train split (what the checkpoint below is trained on)."""
    root = tmp_path_factory.mktemp("predict_ds")
    for split in ("test", "train"):
        for raw in find_raw_sequences(raw_root, "test"):
            import_sequence(raw, root / split, SYNTH, split)
        build_labels_full(root, split, SYNTH)
    return root


#: a few dozen steps of the real training loop: a weak detector, but with a non-zero AP and boxes above
#: the drawing threshold, so equal metrics mean equal detections
TRAIN_OVERRIDES = ["dataset.camera=synth", "model.preset=nano", "train.steps=30", "train.lr=3e-3",
                   "train.pct_start=0.1", "train.ckpt_every=1000", "train.threads=1", "data.batch_size=4",
                   "data.sequence_length=3", "subsample.ratio=1.0"]


@pytest.fixture(scope="session")
def trained_ckpt(dataset_root, tmp_path_factory):
    from leod_core.config import load_config
    from leod_core.layout import labels_full_path
    from leod_core.train.loop import train_round

    threads = torch.get_num_threads()
    try:
        res = train_round(load_config(None, TRAIN_OVERRIDES), 0, labels_full_path(dataset_root, "train"),
                          dataset_root, tmp_path_factory.mktemp("predict_model"))
    finally:
        torch.set_num_threads(threads)
    return res.weights
