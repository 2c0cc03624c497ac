"""The ``evaluate`` stage's task (tasks/evaluate.py): its checkpoint check and the class-mean PR curve."""

import pandas as pd
import pytest

from flows.evaluate import evaluate_model, write_mean_pr_csv
from tiny_config import tiny_config


def _pr(out_dir, name, precision, recall=(0.0, 0.5, 1.0)):
    pd.DataFrame({"recall": recall, "precision": precision}).to_csv(out_dir / f"pr_{name}.csv", index=False)


def test_mean_pr_csv_averages_the_classes_on_their_grid(tmp_path):
    _pr(tmp_path, "car", [1.0, 0.5, 0.0])
    _pr(tmp_path, "ped", [0.5, 0.25, 0.0])
    path = write_mean_pr_csv(tmp_path, ("car", "ped"))
    assert path == tmp_path / "pr.csv"
    pd.testing.assert_frame_equal(pd.read_csv(path), pd.DataFrame({"recall": [0.0, 0.5, 1.0],
                                                                   "precision": [0.75, 0.375, 0.0]}))


def test_mean_pr_csv_refuses_another_recall_grid(tmp_path):
    _pr(tmp_path, "car", [1.0, 0.5, 0.0])
    _pr(tmp_path, "ped", [1.0, 0.5, 0.0], recall=(0.0, 0.4, 1.0))
    with pytest.raises(ValueError, match="pr_ped.csv: recall grid differs from pr_car.csv"):
        write_mean_pr_csv(tmp_path, ("car", "ped"))
    assert not (tmp_path / "pr.csv").exists()


def test_missing_checkpoint_fails_before_any_work(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        evaluate_model.fn(tiny_config(), tmp_path / "last.pt", tmp_path / "ds", "test", tmp_path / "eval")
    assert not (tmp_path / "eval").exists()
