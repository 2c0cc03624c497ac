"""Per-sequence label index and training-sequence discovery."""

import numpy as np
import pytest

from leod_core.cameras import CAMERAS, IGNORE_CLASS_ID
from leod_core.data.clip import ReprFiles, read_clip
from leod_core.data.sequence import SequenceLabels, build_sequence_labels, frames_from_table, load_train_sequences
from leod_core.labels.subsample import subsample_table


def test_frames_from_table_scales_and_keeps_ignore(tiny_dataset, label_reprs_of):
    _, full = tiny_dataset
    frames = frames_from_table(full, CAMERAS["gen4"].label_scale)
    a3 = frames["seq_a"][3]
    assert a3.dtype == np.float32 and a3.shape == (2, 7)
    np.testing.assert_allclose(a3[0], [1.5, 2.0, 3.0, 3.0, 1, 1, 1])
    assert a3[1, 4] == IGNORE_CLASS_ID
    assert set(frames["seq_c"]) == set(label_reprs_of(17).tolist())


def test_kept_frames_and_the_datasets_label_frames(tiny_dataset, tiny_camera, label_reprs_of):
    """A ground-truth table knows every label frame of the dataset (from its label index, not from the
    dropped labels); its boxes are the kept ones only."""
    root, full = tiny_dataset
    kept, _ = subsample_table(full, "wsod", 0.5, L=4)
    labels = build_sequence_labels(kept, tiny_camera, {"seq_a": label_reprs_of(30)})
    a = labels["seq_a"]
    np.testing.assert_array_equal(a.frame_repr_idx, label_reprs_of(30))
    assert set(a.kept_repr_idx) < set(label_reprs_of(30))
    r = int(a.kept_repr_idx[0])
    assert a.get(r) is not None and a.get(r + 1) is None
    dropped = sorted(set(label_reprs_of(30)) - set(a.kept_repr_idx))
    assert all(a.get(d) is None for d in dropped)
    # without the dataset's frames only the kept ones are known
    alone = build_sequence_labels(kept, tiny_camera)["seq_a"]
    np.testing.assert_array_equal(alone.frame_repr_idx, alone.kept_repr_idx)
    seqs = load_train_sequences(root, "train", tiny_camera, kept, all_label_frames=True)
    np.testing.assert_array_equal(seqs[0].labels.frame_repr_idx, label_reprs_of(30))


def test_load_train_sequences(tiny_dataset, tiny_camera, tmp_path, seq_lengths):
    root, full = tiny_dataset
    seqs = load_train_sequences(root, "train", tiny_camera, full)
    assert [s.name for s in seqs] == sorted(seq_lengths)
    assert [s.num_reprs for s in seqs] == [seq_lengths[s.name] for s in seqs]
    # SSOD: sequences without kept labels are not training sequences
    kept, _ = subsample_table(full, "ssod", 0.34, L=4)
    assert [s.name for s in load_train_sequences(root, "train", tiny_camera, kept)] == ["seq_a"]
    with pytest.raises(FileNotFoundError, match="seq_a"):
        load_train_sequences(tmp_path, "train", tiny_camera, full)


def test_read_clip_pads(tiny_dataset, tiny_camera):
    root, full = tiny_dataset
    seq = load_train_sequences(root, "train", tiny_camera, full)[0]
    files = ReprFiles()
    ev = read_clip(files.get(seq.paths.repr_h5), 5, 8, input_hw=tiny_camera.input_hw, length=4)
    assert ev.shape == (4, 20, *tiny_camera.input_hw) and ev.dtype.is_floating_point
    assert ev[:3, 0, 0, 0].tolist() == [6, 7, 8] and ev[3].abs().sum() == 0
    assert ev[:, :, 32:, :].abs().sum() == 0 and ev[:, :, :, 40:].abs().sum() == 0
    assert files.get(seq.paths.repr_h5) is files.get(seq.paths.repr_h5)  # opened once
    with pytest.raises(ValueError, match="outside"):
        read_clip(files.get(seq.paths.repr_h5), 25, 31)
    files.close()
