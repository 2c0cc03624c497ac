"""Disk full while writing a representation or a checkpoint, and a corrupt chunk inside a dataset's
HDF5 met by training and pseudo-labelling: one error line naming the file (and the sequence and frames),
the previous good output intact, no temporary file left, no retry loop."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from conftest import REPO, assert_one_error_line, run_leod, tree_digest, write_raw_sequence
from flows.cli import main
from flows.smoke import MICRO_OVERRIDES


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_during_hdf5_write_keeps_the_previous_dataset(tmp_path: Path, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    raw, data = tmp_path / "raw", tmp_path / "data"
    write_raw_sequence(raw / "train", "s0")
    args = ["import-prophesee", str(raw), str(data), "--camera", "synth"]
    assert main(args) == 0
    good = tree_digest(data)
    capsys.readouterr()
    monkeypatch.setattr(h5py.Dataset, "__setitem__", _enospc)  # the disk fills while frames are written
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("leod import-prophesee: error:") and "No space left" in err[-1] and "s0" in err[-1]
    assert tree_digest(data) == good  # the previous import, byte for byte, and no temporary file beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "raw"]


def test_disk_full_during_checkpoint_write_keeps_the_previous_weights(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from leod_core.train.checkpoint import ModelSpec, save_weights

    spec = ModelSpec("nano", "synth")
    path = tmp_path / "last.pt"
    save_weights(path, {"w": torch.ones(3)}, spec, {}, meta={})
    before = path.read_bytes()

    def full_disk(obj, f, *a, **k):
        f.write(b"PK\x03\x04 half a checkpoint")
        _enospc()

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_weights(path, {"w": torch.zeros(3)}, spec, {}, meta={})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, prefect_url: str) -> Path:
    """A micro workspace: synthetic data imported, round-0 labels, a 2-step round-0 model."""
    ws = tmp_path_factory.mktemp("ws")
    shutil.copy(REPO / "params.yaml", ws / "params.yaml")
    over = [a for o in MICRO_OVERRIDES + ["train.steps=2"] for a in ("-S", o)]
    for cmd in (["synth", "data/raw", "--preset", "micro"], ["import-prophesee", "data/raw", "data/dataset", "--camera", "synth"],
                ["subsample", *over], ["train", "--round", "0", *over]):
        proc = run_leod(cmd, ws, prefect_url)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return ws


def _corrupt_one_chunk(ws: Path) -> tuple[str, Path]:
    """Overwrite the bytes of one compressed frame of the first training sequence; returns its name."""
    h5 = sorted((ws / "data/dataset/train").glob("*/event_representations_v2/*/*.h5"))[0]
    with h5py.File(h5, "r") as f:
        ds = f["data"]
        n = ds.shape[0]
        offset, size = ds.id.get_chunk_info(min(3, n - 1)).byte_offset, ds.id.get_chunk_info(min(3, n - 1)).size
    with open(h5, "r+b") as fh:
        fh.seek(offset)
        fh.write(np.random.default_rng(0).bytes(size))
    return h5.parts[-4], h5


def test_corrupt_chunk_in_training_and_pseudo_labelling(trained: Path, prefect_url: str) -> None:
    seq, h5 = _corrupt_one_chunk(trained)
    over = [a for o in MICRO_OVERRIDES + ["train.steps=20"] for a in ("-S", o)]
    before = tree_digest(trained / "artifacts" / "round_0" / "model")
    proc = run_leod(["train", "--round", "0", "--out", "artifacts/round_0/model", *over], trained, prefect_url)
    line = assert_one_error_line(proc, "train", seq, "frame")
    assert tree_digest(trained / "artifacts" / "round_0" / "model") == before, line
    proc = run_leod(["pseudo-label", "--round", "1", *over], trained, prefect_url)
    assert_one_error_line(proc, "pseudo-label", seq, "frame")
    assert not (trained / "artifacts" / "round_1" / "labels" / "labels.parquet").exists()
