"""LEOD-layout export round trip."""

import os

import numpy as np
import pandas as pd
import pytest
from pseudo_fakes import camera_for, write_blob_sequence

from leod_core.labels.boxes import LEOD_BBOX_DTYPE
from leod_core.labels.table import validate_labels
from leod_core.layout import SequencePaths
from leod_core.pseudo.export import export_leod_layout


def _row(seq, f, x, gt, cls=0, src=None):
    return dict(sequence=seq, frame_idx=f, t=(f + 1) * 50_000, x=x, y=2.0, w=10.0, h=6.0, class_id=cls,
                class_confidence=0.7, objectness=0.8, is_gt=gt, track_id=1, source=src or ("gt" if gt else "pseudo"))


def test_round_trip_and_relative_symlinks(tmp_path):
    cam = camera_for(True)
    data = tmp_path / "data"
    write_blob_sequence(data, "a", cam)
    write_blob_sequence(data, "b", cam)
    (data / "test").mkdir()
    df = validate_labels(pd.DataFrame([_row("a", 3, 1.5, False), _row("a", 3, 9.0, False, 1024, "inpainted"),
                                       _row("a", 5, 4.0, True), _row("a", 9, 7.0, False)]))
    out = tmp_path / "artifacts" / "round_1" / "labels" / "leod_export"
    export_leod_layout(df, data, out, cam)
    a = SequencePaths(out / "train" / "a", cam)
    with np.load(a.labels_npz) as z:
        labels, idx = z["labels"], z["objframe_idx_2_label_idx"]
    assert labels.dtype == LEOD_BBOX_DTYPE and idx.dtype == np.int64
    np.testing.assert_array_equal(idx, [0, 2, 3])
    np.testing.assert_array_equal(np.load(a.objframe_idx_2_repr_idx), [3, 5, 9])
    np.testing.assert_array_equal(labels["x"], [1.5, 9.0, 4.0, 7.0])
    np.testing.assert_array_equal(labels["t"], [0, 0, 6 * 50_000, 0])  # only GT keeps its timestamp
    np.testing.assert_array_equal(labels["class_id"], [0, 1024, 0, 0])
    np.testing.assert_allclose(labels["objectness"], 0.8)
    link = os.readlink(a.repr_h5)
    assert not os.path.isabs(link) and a.repr_h5.resolve() == (data / "train" / "a" / a.repr_h5.relative_to(a.root)).resolve()
    assert not a.repr_h5.resolve().is_symlink() and a.repr_h5.is_symlink()
    b = SequencePaths(out / "train" / "b", cam)
    with np.load(b.labels_npz) as z:
        assert len(z["labels"]) == 0 and len(z["objframe_idx_2_label_idx"]) == 0
    assert (out / "test").is_symlink() and not os.path.isabs(os.readlink(out / "test"))
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # atomic: no temp left
    # re-export replaces the folder
    export_leod_layout(df[df.frame_idx != 9], data, out, cam)
    np.testing.assert_array_equal(np.load(a.objframe_idx_2_repr_idx), [3, 5])


def test_unknown_sequence_is_rejected(tmp_path):
    cam = camera_for(False)
    write_blob_sequence(tmp_path / "data", "a", cam)
    df = validate_labels(pd.DataFrame([_row("zzz", 3, 1.0, False)]))
    with pytest.raises(ValueError, match="zzz"):
        export_leod_layout(df, tmp_path / "data", tmp_path / "out", cam)
