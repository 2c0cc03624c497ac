"""Sample data shared by a core test folder and tests/commands or tests/tasks (registered as a plugin by
tests/conftest.py, so each session-scoped fixture is built once however many folders use it).

Prediction: raw synth-sized recordings (a car and a pedestrian crossing), the same recordings imported into
the RVT layout, and a nano detector trained on them for a few dozen steps. Evaluation: a two-sequence test
split, folders of GT/prediction ``_bbox.npy`` files. Synthesis: the micro preset. Labels: small tables for
the sub-sampling and pseudo-label quality tests.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

# light imports only: every pytest run loads this module; torch, pandas and the rest load in the fixtures
from leod_core.cameras import get_camera
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.layout import SequencePaths, labels_full_path

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
    from leod_core.events.prophesee_import import find_raw_sequences, import_sequence
    from leod_core.labels.rvt_labels import build_labels_full

    root = tmp_path_factory.mktemp("predict_ds")
    for split in ("test", "train"):
        for raw in find_raw_sequences(raw_root, "test"):
            import_sequence(raw, root / split, SYNTH, split)
        build_labels_full(root, split, SYNTH)
    return root


#: a few dozen steps of the real training loop: a weak detector, but with a non-zero AP and boxes above
#: the drawing threshold, so equal metrics mean equal detections
TRAIN_OVERRIDES = ("train.steps=30", "train.lr=3e-3", "train.pct_start=0.1", "train.ckpt_every=1000",
                   "train.threads=1", "data.batch_size=4", "subsample.ratio=1.0")


@pytest.fixture(scope="session")
def trained_ckpt(dataset_root, tmp_path_factory):
    import torch

    from leod_core.train.loop import train_round
    from tiny_config import tiny_config

    threads = torch.get_num_threads()
    try:
        res = train_round(tiny_config(*TRAIN_OVERRIDES), 0, labels_full_path(dataset_root, "train"),
                          dataset_root, tmp_path_factory.mktemp("predict_model"))
    finally:
        torch.set_num_threads(threads)
    return res.weights


@pytest.fixture
def build_dataset():
    return _build_dataset


def _build_dataset(root, shift_second=0):
    """Two test sequences of 16 reprs; car GT at frames 3 (t <= 0.5 s: not evaluated), 11, 13, 15;
    the repr shows the car as ON events (the second sequence's events shifted by ``shift_second`` px)."""
    import pandas as pd

    from leod_core.events.h5_store import write_representations
    from leod_core.labels.table import write_labels

    h, w = SYNTH.repr_hw
    rows = []
    for k, name in enumerate(("seq_a", "seq_b")):
        seq = SequencePaths(root / "test" / name, SYNTH)
        frames = np.zeros((16, 20, h, w), np.uint8)
        for f in (3, 11, 13, 15):
            x, y, bw, bh = 20 + 2 * f, 30, 40, 30
            dx = shift_second if k == 1 else 0
            frames[f, 15, y:y + bh, x + dx:x + dx + bw] = 3
            rows.append(dict(sequence=name, frame_idx=f, t=(f + 1) * 50_000, x=x, y=y, w=bw, h=bh, class_id=0,
                             class_confidence=1.0, objectness=1.0, is_gt=True, track_id=-1, source="gt"))
        write_representations(seq.repr_h5, iter(frames), (h, w))
    write_labels(pd.DataFrame(rows), labels_full_path(root, "test"))


#: LEOD's prediction files: the Prophesee box fields plus objectness
LEOD_PRED_DTYPE = np.dtype([("t", "<i8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                            ("class_id", "<u4"), ("class_confidence", "<f4"), ("objectness", "<f4")])


def _gt(t0=1_000_000):
    a = np.zeros(4, PROPHESEE_BBOX_DTYPE)
    a["t"] = [t0, t0, t0 + 250_000, t0 + 250_000]
    a["x"], a["y"], a["w"], a["h"] = [10, 100, 12, 102], 20, [60, 30, 60, 30], [40, 60, 40, 60]
    a["class_id"] = [0, 1, 0, 1]
    a["class_confidence"] = 1
    return a


def _as_pred(gt):
    p = np.zeros(len(gt), LEOD_PRED_DTYPE)
    for f in ("t", "x", "y", "w", "h", "class_id", "class_confidence"):
        p[f] = gt[f]
    p["objectness"] = 0.9
    return p


@pytest.fixture
def box_folders(tmp_path):
    """(gt dir, prediction dir): GT of seq_a and seq_b, predictions (= the GT) of seq_a only."""
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    np.save(gt_dir / "seq_a_bbox.npy", _gt())
    np.save(gt_dir / "seq_b_bbox.npy", _gt(2_000_000))
    np.save(pred_dir / "seq_a_bbox.npy", _as_pred(_gt()))  # extra objectness field is fine
    return gt_dir, pred_dir


@pytest.fixture(scope="session")
def micro_dir(tmp_path_factory):
    """The micro preset written once by the library; yields (root, seconds)."""
    from leod_core.synth.simulator import write_synth_dataset

    root = tmp_path_factory.mktemp("synth") / "raw"
    t0 = time.perf_counter()
    write_synth_dataset(root, "micro", seed=3)
    return root, time.perf_counter() - t0


def tree_files(root):
    """Relative paths of every file under ``root``, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def labels_table(rows):
    """rows: (sequence, frame_idx, x, y, w, h, class_id, conf, source)."""
    import pandas as pd

    from leod_core.labels.table import validate_labels

    recs = [dict(sequence=s, frame_idx=f, t=0, x=x, y=y, w=w, h=h, class_id=c, class_confidence=conf,
                 objectness=conf, is_gt=src == "gt", track_id=-1, source=src)
            for s, f, x, y, w, h, c, conf, src in rows]
    cols = ["sequence", "frame_idx", "t", "x", "y", "w", "h", "class_id", "class_confidence", "objectness", "is_gt",
            "track_id", "source"]
    return validate_labels(pd.DataFrame(recs, columns=cols))


def withheld_table():
    """The withheld GT of the pseudo-label quality tests (gen1 classes)."""
    return labels_table([("a", 3, 10, 10, 40, 30, 0, 1, "gt"), ("a", 3, 100, 50, 20, 40, 1, 1, "gt"),
                         ("a", 5, 12, 10, 40, 30, 0, 1, "gt"), ("b", 2, 50, 50, 40, 40, 0, 1, "gt")])


def as_pseudo(df, dx=0.0, conf=0.8):
    out = df.copy()
    out["x"] += dx
    out["source"], out["is_gt"], out["class_confidence"] = "pseudo", False, conf
    return out


def full_gt_table():
    """The sub-sampling tests' full GT: sequences of 12, 3 and 7 label frames (frame_idx 2, 7, 12, ...), 2 boxes
    each."""
    import pandas as pd

    rows = []
    for s, n in (("s0", 12), ("s1", 3), ("s2", 7)):
        for f in range(n):
            for b in range(2):
                rows.append(dict(sequence=s, frame_idx=5 * f + 2, t=f * 100, x=1.0 + b, y=2.0, w=10.0, h=10.0,
                                 class_id=b, class_confidence=1.0, objectness=1.0, is_gt=True, track_id=-1,
                                 source="gt"))
    return pd.DataFrame(rows)
