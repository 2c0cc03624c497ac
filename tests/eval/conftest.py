"""Shared fixtures of the evaluation tests."""

import numpy as np
import pandas as pd
import pytest

from leod_core.cameras import get_camera
from leod_core.events.h5_store import write_representations
from leod_core.labels.table import write_labels
from leod_core.layout import SequencePaths, labels_full_path

SYNTH = get_camera("synth")
H, W = SYNTH.repr_hw


@pytest.fixture
def build_dataset():
    return _build_dataset


def _build_dataset(root, shift_second=0):
    """Two test sequences of 16 reprs; car GT at frames 3 (t <= 0.5 s: not evaluated), 11, 13, 15;
    the repr shows the car as ON events (the second sequence's events shifted by ``shift_second`` px)."""
    rows = []
    for k, name in enumerate(("seq_a", "seq_b")):
        seq = SequencePaths(root / "test" / name, SYNTH)
        frames = np.zeros((16, 20, H, W), np.uint8)
        for f in (3, 11, 13, 15):
            x, y, w, h = 20 + 2 * f, 30, 40, 30
            dx = shift_second if k == 1 else 0
            frames[f, 15, y:y + h, x + dx:x + dx + w] = 3
            rows.append(dict(sequence=name, frame_idx=f, t=(f + 1) * 50_000, x=x, y=y, w=w, h=h, class_id=0,
                             class_confidence=1.0, objectness=1.0, is_gt=True, track_id=-1, source="gt"))
        write_representations(seq.repr_h5, iter(frames), (H, W))
    write_labels(pd.DataFrame(rows), labels_full_path(root, "test"))
