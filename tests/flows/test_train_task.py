"""The ``train`` stage's publishing and loss-table tasks (tasks/train.py), without Prefect (``.fn``)."""

import json

import pytest

from leod_core.round_layout import METRICS_FILE, WEIGHTS_FILE
from flows.train import loss_rows, publish_model


def _work(tmp_path, best=True):
    work = tmp_path / ".work" / "round_0" / "model"
    (work / ".work").mkdir(parents=True)
    (work / WEIGHTS_FILE).write_bytes(b"last")
    if best:
        (work / "best.pt").write_bytes(b"best")
    (work / "loss.csv").write_text("step,loss\n1,0.5\n")
    (work / ".work" / "last_ckpt.pt").write_bytes(b"resume state")
    (work / METRICS_FILE).write_text(json.dumps({"steps": 3, "weights": str(work / WEIGHTS_FILE),
                                                 "best": str(work / "best.pt") if best else None}))
    return work


@pytest.mark.parametrize("best", [True, False])
def test_publish_copies_the_finished_files_and_names_them(tmp_path, best):
    work, out = _work(tmp_path, best), tmp_path / "round_0" / "model"
    out.mkdir(parents=True)
    (out / "stale.pt").write_bytes(b"old run")
    assert publish_model.fn(work, out) == out / WEIGHTS_FILE
    want = {WEIGHTS_FILE, "loss.csv", METRICS_FILE} | ({"best.pt"} if best else set())
    assert {p.name for p in out.iterdir()} == want  # replaced whole: no stale file, no resume state
    assert (out / WEIGHTS_FILE).read_bytes() == b"last"
    summary = json.loads((out / METRICS_FILE).read_text())
    assert summary == {"steps": 3, "weights": str(out / WEIGHTS_FILE), "best": str(out / "best.pt") if best else None}
    assert not work.exists()  # the spent work folder is deleted


def test_publish_without_weights_fails_and_keeps_the_output(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    (out / WEIGHTS_FILE).write_bytes(b"previous")
    with pytest.raises(FileNotFoundError, match="training left no weights"):
        publish_model.fn(work, out)
    assert (out / WEIGHTS_FILE).read_bytes() == b"previous" and work.exists()


def test_loss_rows_skip_empty_cells(tmp_path):
    csv_path = tmp_path / "loss.csv"
    csv_path.write_text("step,loss,lr,val_ap\n1,0.5,0.001,\n2.0,0.25,0.002,0.125\n")
    assert loss_rows(csv_path) == [(1, {"loss": 0.5, "lr": 0.001}), (2, {"loss": 0.25, "lr": 0.002, "val_ap": 0.125})]
    assert loss_rows(tmp_path / "missing.csv") == []
