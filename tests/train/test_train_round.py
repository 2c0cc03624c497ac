"""train_round / `leod train` with the real nano detector and mixed loader on a tiny synth-sized dataset."""

from __future__ import annotations

import json

import pytest
import torch

from flows.cli import main as leod_main
from leod_core.config import load_config
from leod_core.train.checkpoint import load_checkpoint, load_detector
from leod_core.train.loop import train_round
from train_fakes import write_tiny_synth_dataset

TINY = ["train.steps=3", "train.ckpt_every=2", "data.batch_size=2", "data.sequence_length=3",
        "train.pct_start=0.3", "model.preset=nano", "dataset.camera=synth"]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_ds")
    return root, write_tiny_synth_dataset(root)


def test_train_round_real_model_and_load_detector(dataset, tmp_path) -> None:
    root, labels = dataset
    cfg = load_config(None, TINY)
    seen = []
    res = train_round(cfg, 0, labels, root, tmp_path / "model", callback=lambda s, m: seen.append(m))
    assert res.steps == 3 and seen and all(torch.isfinite(torch.tensor(m["loss"])) for m in seen)
    assert (tmp_path / "model" / "loss.csv").is_file() and (tmp_path / "model" / ".work" / "last_ckpt.pt").is_file()
    model = load_detector(res.weights)
    state = load_checkpoint(res.weights)["model"]
    assert not model.training and all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    with torch.no_grad():
        feats, states = model.forward_backbone(torch.zeros(1, 20, 128, 160))
        assert len(model.predict(feats, conf_threshold=0.0)) == 1


def test_cli_train_defaults_and_errors(dataset, tmp_path, monkeypatch, capsys) -> None:
    root, labels = dataset
    monkeypatch.chdir(tmp_path)
    art = tmp_path / "artifacts"
    (art / "round_0" / "labels").mkdir(parents=True)
    (art / "round_0" / "labels" / "labels.parquet").write_bytes(labels.read_bytes())
    sets = [x for s in TINY + [f"paths.dataset={root}", f"paths.artifacts={art}"] for x in ("-S", s)]
    assert leod_main(["train", "--round", "0", "--params", "none.yaml", *sets]) == 1  # missing params file
    (tmp_path / "params.yaml").write_text("seed: 0\n")
    assert leod_main(["train", "--round", "0", *sets]) == 0
    metrics = json.loads((art / "round_0" / "model" / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["steps_per_s"] > 0 and "wall_s" in metrics
    # round 1 with init_from_previous: labels missing -> clear error naming the file
    assert leod_main(["train", "--round", "1", *sets, "-S", "train.init_from_previous=true"]) == 1
    assert "round_1/labels/labels.parquet" in capsys.readouterr().err
