"""Tiny RVT-layout dataset for the loader tests: 3 sequences of 30/24/17 reprs at 32x40.

Repr r carries markers: channel 0 pixel (0, 0) = r + 1 and channel 19 pixel (0, 0) = 100 + r, so a
test can read back which repr a timestep shows and whether its channels were flipped. Label frames sit
at reprs 3, 5, 7, ...; each has one box whose x equals its repr index (x = r, y = 4, 6x6, class r % 2)
plus, on every third frame, an ignore box.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from leod_core.cameras import IGNORE_CLASS_ID
from leod_core.events.h5_store import write_representations
from leod_core.labels.table import validate_labels
from leod_core.layout import SequencePaths
from tiny_config import small_camera

SEQ_LENGTHS = {"seq_a": 30, "seq_b": 24, "seq_c": 17}
HW = (32, 40)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def seq_lengths() -> dict[str, int]:
    return dict(SEQ_LENGTHS)


@pytest.fixture(scope="session")
def label_reprs_of():
    """n reprs -> repr indices of the label frames."""
    return label_reprs


@pytest.fixture(scope="session")
def tiny_camera():
    return small_camera(HW)


def label_reprs(n: int) -> np.ndarray:
    return np.arange(3, n, 2)


def _frames(n: int) -> np.ndarray:
    data = np.zeros((n, 20, *HW), dtype=np.uint8)
    for r in range(n):
        data[r, 0, 0, 0] = r + 1
        data[r, 19, 0, 0] = 100 + r
    return data


def _rows(name: str, n: int) -> list[dict]:
    rows = []
    for k, r in enumerate(label_reprs(n)):
        boxes = [(float(r), 4.0, 6.0, 6.0, r % 2)]
        if k % 3 == 0:
            boxes.append((20.0, 20.0, 8.0, 8.0, IGNORE_CLASS_ID))
        for x, y, w, h, c in boxes:
            rows.append(dict(sequence=name, frame_idx=int(r), t=int(r) * 50_000, x=x, y=y, w=w, h=h, class_id=c,
                             class_confidence=1.0, objectness=1.0, is_gt=True, track_id=-1, source="gt"))
    return rows


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, tiny_camera):
    """(dataset root, full GT table) of the train split."""
    root = tmp_path_factory.mktemp("tiny_ds")
    rows = []
    for name, n in SEQ_LENGTHS.items():
        paths = SequencePaths(root / "train" / name, tiny_camera)
        paths.repr_dir.mkdir(parents=True)
        write_representations(paths.repr_h5, list(_frames(n)), HW)
        np.save(paths.repr_timestamps, (np.arange(n, dtype=np.int64) + 1) * 50_000)
        np.save(paths.objframe_idx_2_repr_idx, label_reprs(n).astype(np.int64))
        rows += _rows(name, n)
    return root, validate_labels(pd.DataFrame(rows))
