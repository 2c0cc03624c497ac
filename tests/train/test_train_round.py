"""train_round / `leod train` with the real nano detector and mixed loader on a tiny synth-sized dataset."""

from __future__ import annotations

import csv

import pytest
import torch

from leod_core.train.checkpoint import load_checkpoint, load_detector
from leod_core.train.loop import train_round
from tiny_config import tiny_config
from train_fakes import write_tiny_synth_dataset


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_ds")
    return root, write_tiny_synth_dataset(root)


def test_train_round_real_model_and_load_detector(dataset, tmp_path) -> None:
    root, labels = dataset
    cfg = tiny_config()
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


def test_validation_writes_best_and_val_ap(tmp_path_factory, tmp_path) -> None:
    root = tmp_path_factory.mktemp("synth_val")
    labels = write_tiny_synth_dataset(root, val=True)
    cfg = tiny_config("train.val_every=2")
    res = train_round(cfg, 0, labels, root, tmp_path / "model")
    assert res.best is not None and res.best_ap is not None and 0.0 <= res.best_ap <= 1.0
    best = load_checkpoint(res.best)
    assert best["meta"]["val_ap"] == res.best_ap and best["meta"]["step"] in (2, 3)
    with open(tmp_path / "model" / "loss.csv") as f:
        rows = {r["step"]: r for r in csv.DictReader(f)}
    assert rows["2"]["val_ap"] != "" and rows["3"]["val_ap"] != ""


def test_validation_without_val_split_is_skipped(dataset, tmp_path, caplog) -> None:
    root, labels = dataset
    res = train_round(tiny_config("train.val_every=2"), 0, labels, root, tmp_path / "m")
    assert res.best is None and "no best.pt" in caplog.text


def test_init_from_other_preset_is_a_clear_error(dataset, tmp_path) -> None:
    root, labels = dataset
    first = train_round(tiny_config("train.steps=1"), 0, labels, root, tmp_path / "r0")
    cfg = tiny_config("model.preset=tiny")
    with pytest.raises(ValueError, match="is preset 'nano', expected preset 'tiny'"):
        train_round(cfg, 1, labels, root, tmp_path / "r1", init_weights=first.weights)


def test_nan_filling_new_tensors_changes_no_weight(dataset, tmp_path, monkeypatch) -> None:
    """Training skips deterministic mode's NaN fill of new tensors (a speed-up); with the fill the weights
    are the same bits, so no op reads memory it did not write, and the caller's setting comes back."""
    import leod_core.train.loop as loop

    root, labels = dataset
    cfg = tiny_config()
    assert torch.utils.deterministic.fill_uninitialized_memory
    fast = load_checkpoint(train_round(cfg, 0, labels, root, tmp_path / "fast").weights)["model"]
    assert torch.utils.deterministic.fill_uninitialized_memory  # restored
    plain = loop._set_determinism

    def with_fill(device):
        restore = plain(device)
        torch.utils.deterministic.fill_uninitialized_memory = True
        return restore

    monkeypatch.setattr(loop, "_set_determinism", with_fill)
    filled = load_checkpoint(train_round(cfg, 0, labels, root, tmp_path / "filled").weights)["model"]
    assert fast.keys() == filled.keys() and all(torch.equal(fast[k], filled[k]) for k in fast)


@pytest.mark.parametrize("round_idx", [0, 1])
def test_training_reads_only_what_its_stage_declares(tmp_path_factory, tmp_path, round_idx) -> None:
    """The orchestration hands train_round its stage's restricted config (flows/stages.py); a key read but
    not declared would raise here (validation on, so its evaluation keys are read too). The weights record
    exactly the declared keys: DVC's params of the stage, not the resume interval it may also read."""
    from flows.stages import spec_of, stage_config
    from leod_core.config_view import declared_dict

    root = tmp_path_factory.mktemp("synth_declared")
    labels = write_tiny_synth_dataset(root, val=True)
    view = stage_config(tiny_config("train.val_every=2", "train.steps_self_train=3"), "train", round_idx)
    res = train_round(view, round_idx, labels, root, tmp_path / "model")
    assert res.best_ap is not None
    record = load_checkpoint(res.weights)["config"]
    assert record == declared_dict(view) and "paths" not in record and "ckpt_every" not in record["train"]
    assert set(spec_of("train", round_idx).params) >= {"train.threads", "subsample.ratio", "eval.nms_iou"}
