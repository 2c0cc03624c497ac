"""``leod pseudo-label`` end to end with the blob detector standing in for the checkpoint."""

import numpy as np
import pandas as pd
import pytest
from pseudo_fakes import BlobDetector, write_blob_sequence

import leod_core.train.checkpoint as checkpoint
from flows.cli import main
from leod_core.cameras import get_camera
from leod_core.labels.table import read_labels, validate_labels, write_labels


@pytest.fixture
def world(tmp_path, monkeypatch):
    cam = get_camera("synth")
    for name in ("a", "b"):
        write_blob_sequence(tmp_path / "data", name, cam)
    (tmp_path / "art/round_0/model").mkdir(parents=True)
    (tmp_path / "art/round_0/model/last.pt").write_bytes(b"")
    gt = validate_labels(pd.DataFrame([dict(sequence="a", frame_idx=12, t=13 * 50_000, x=14.0, y=10.0, w=8.0, h=8.0,
                                            class_id=0, class_confidence=1.0, objectness=1.0, is_gt=True,
                                            track_id=-1, source="gt")]))
    write_labels(gt, tmp_path / "art/round_0/labels/labels.parquet")
    monkeypatch.setattr(checkpoint, "load_detector", lambda path, map_location="cpu", **_: BlobDetector())
    return tmp_path, gt


def args(root, *extra):
    return ["pseudo-label", "--params", "params.yaml", "--round", "1", "--device", "cpu",
            "-S", f"paths.dataset={root}/data", "-S", f"paths.artifacts={root}/art", *extra]


def test_cli_writes_table_and_export(world, capsys):
    root, gt = world
    assert main(args(root)) == 0
    df = read_labels(root / "art/round_1/labels/labels.parquet")
    pd.testing.assert_frame_equal(df[df.is_gt].reset_index(drop=True), gt)
    assert set(df.sequence) == {"a", "b"} and (df.source == "pseudo").sum() > 40
    npz = root / "art/round_1/labels/leod_export/train/b/labels_v2/labels.npz"
    with np.load(npz) as z:
        assert len(z["labels"]) == (df.sequence == "b").sum()
    assert "gt 1, pseudo" in capsys.readouterr().out


def test_cli_bad_round_and_missing_ckpt(world, capsys):
    root, _ = world
    assert main(args(root)[:4] + ["0"] + args(root)[5:]) == 1
    assert "--round must be >= 1" in capsys.readouterr().err
    assert main(args(root, "--ckpt", str(root / "nope.pt"))) == 1
    assert "checkpoint not found" in capsys.readouterr().err
