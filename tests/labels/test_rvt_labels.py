"""RVT labels.npz -> label table rows and labels_full.parquet."""

from __future__ import annotations

import numpy as np
import pytest

from leod_core.cameras import get_camera
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from leod_core.labels.rvt_labels import build_labels_full, sequence_label_table
from leod_core.labels.table import LABEL_SCHEMA, read_labels
from leod_core.layout import SequencePaths, labels_full_path

CAM = get_camera("gen1")


def _write_seq(root, name, labels, starts, repr_idx, split="val"):
    seq = SequencePaths(root / split / name, CAM)
    seq.labels_npz.parent.mkdir(parents=True)
    seq.repr_dir.mkdir(parents=True)
    np.savez(seq.labels_npz, labels=labels, objframe_idx_2_label_idx=np.asarray(starts))
    np.save(seq.objframe_idx_2_repr_idx, np.asarray(repr_idx, dtype=np.int64))
    return seq


def test_table_rows_from_prophesee_npz(tmp_path):
    labels = np.zeros(3, PROPHESEE_BBOX_DTYPE)
    labels["t"] = [100_000, 100_000, 350_000]
    labels["x"], labels["w"], labels["h"] = [1, 2, 3], 40, 30
    labels["class_id"] = [0, 1, 0]
    labels["track_id"] = [7, 8, 7]
    labels["class_confidence"] = [1.0, 0.9, 1.0]
    seq = _write_seq(tmp_path, "s", labels, [0, 2], [1, 6])
    df = sequence_label_table(seq, "val")
    assert list(df.columns) == [f.name for f in LABEL_SCHEMA]
    assert df["frame_idx"].tolist() == [1, 1, 6]  # representation index of each box's label frame
    assert df["t"].tolist() == [100_000, 100_000, 350_000]
    assert df["track_id"].tolist() == [7, 8, 7]
    assert df["objectness"].tolist() == pytest.approx([1.0, 0.9, 1.0])
    assert (df["sequence"] == "s").all() and df["is_gt"].all() and (df["source"] == "gt").all()


def test_rvt_download_style_npz_without_track_id(tmp_path):
    dt = np.dtype([("t", "<u8"), ("x", "<f4"), ("y", "<f4"), ("w", "<f4"), ("h", "<f4"),
                   ("class_id", "u1"), ("class_confidence", "<f4")])
    labels = np.array([(100, 1, 2, 3, 4, 1, 0.5), (200, 5, 6, 7, 8, 0, 1.0)], dtype=dt)
    _write_seq(tmp_path, "b", labels, [0, 1], [3, 9])
    _write_seq(tmp_path, "a", np.zeros(0, PROPHESEE_BBOX_DTYPE), [], [])
    path = build_labels_full(tmp_path, "val", CAM)
    assert path == labels_full_path(tmp_path, "val")
    table = read_labels(path)
    assert table["sequence"].tolist() == ["b", "b"]
    assert table["frame_idx"].tolist() == [3, 9] and table["track_id"].tolist() == [-1, -1]
    assert table["objectness"].tolist() == [0.5, 1.0]


def test_empty_split_gives_empty_table(tmp_path):
    (tmp_path / "test").mkdir()
    assert len(read_labels(build_labels_full(tmp_path, "test", CAM))) == 0


def test_inconsistent_files_raise(tmp_path):
    labels = np.zeros(2, PROPHESEE_BBOX_DTYPE)
    seq = _write_seq(tmp_path, "s", labels, [0, 1], [4])
    with pytest.raises(ValueError, match="2 label frames"):
        sequence_label_table(seq, "val")
    seq.objframe_idx_2_repr_idx.unlink()
    with pytest.raises(FileNotFoundError, match="objframe_idx_2_repr_idx"):
        sequence_label_table(seq, "val")
    np.savez(seq.labels_npz, labels=labels)
    np.save(seq.objframe_idx_2_repr_idx, np.array([1, 2]))
    with pytest.raises(ValueError, match="objframe_idx_2_label_idx"):
        sequence_label_table(seq, "val")
