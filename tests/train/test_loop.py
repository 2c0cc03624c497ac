"""Training loop: resume after a crash is bit-identical on CPU, LR/steps per round, outputs on disk."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from leod_core.train.checkpoint import ModelSpec, load_checkpoint
from leod_core.train.loop import loss_settings, round_lr_steps, run_training
from tiny_config import FAKE_TRAIN, tiny_config
from train_fakes import FakeDetector, FakeLoader

SPEC = ModelSpec("nano", "synth")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cfg(**over):
    base = {"train.steps": 6, "train.steps_self_train": 5, "train.seed": 0, "train.lr_self_train": 2e-2}
    base.update(over)
    return tiny_config(*(f"{k}={v}" for k, v in base.items()), base=FAKE_TRAIN)


def _run(cfg, out, init_seed=0, callback=None, round_idx=0, **kw):
    torch.manual_seed(init_seed)
    return run_training(cfg, round_idx, FakeDetector(), SPEC, FakeLoader(seed=7), out, callback=callback, **kw)


class _Crash(RuntimeError):
    pass


def _crash_at(step_to_die: int):
    def cb(step, metrics):
        if step == step_to_die:
            raise _Crash(f"killed at {step}")
    return cb


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_after_crash_is_bit_identical(tmp_path) -> None:
    cfg = _cfg()
    full = _run(cfg, tmp_path / "full")
    with pytest.raises(_Crash):
        _run(cfg, tmp_path / "crashed", callback=_crash_at(3))
    ckpt = load_checkpoint(tmp_path / "crashed" / ".work" / "last_ckpt.pt")
    assert ckpt["step"] == 2 and len(ckpt["ranks"][0]["rnn"]["keys"]) == 2  # both stream slots
    assert not (tmp_path / "crashed" / "last.pt").exists()
    # a fresh process would start from other random weights and RNG: the checkpoint must override both
    resumed = _run(cfg, tmp_path / "crashed", init_seed=123)
    assert resumed.resumed_from == 2 and full.resumed_from == 0
    _assert_same_state(load_checkpoint(full.weights)["model"], load_checkpoint(resumed.weights)["model"])
    with open(tmp_path / "full" / "loss.csv") as f_a, open(tmp_path / "crashed" / "loss.csv") as f_b:
        rows_a, rows_b = list(csv.DictReader(f_a)), list(csv.DictReader(f_b))
    assert [r["step"] for r in rows_b] == [str(s) for s in range(1, 7)]
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]
    # the files DVC hashes are byte-identical to an uninterrupted run's; only timing.json differs
    for name in ("last.pt", "loss.csv"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "crashed" / name).read_bytes(), name
    m_full, m_resumed = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("full", "crashed"))
    assert m_full.pop("weights") != m_resumed.pop("weights")  # the only difference: the run's own folder
    assert m_full == m_resumed and "wall_s" not in m_full
    assert json.loads((tmp_path / "crashed" / "timing.json").read_text())["resumed_from"] == 2


def test_two_runs_same_seed_identical_and_different_seed_differs(tmp_path) -> None:
    cfg = _cfg(**{"train.steps": 3, "train.ckpt_every": 10})
    a = load_checkpoint(_run(cfg, tmp_path / "a").weights)["model"]
    b = load_checkpoint(_run(cfg, tmp_path / "b").weights)["model"]
    c = load_checkpoint(_run(cfg, tmp_path / "c", init_seed=5).weights)["model"]
    _assert_same_state(a, b)
    assert not torch.equal(a["head.weight"], c["head.weight"])


def test_outputs_metrics_and_callback(tmp_path) -> None:
    cfg = _cfg()
    seen = []
    res = _run(cfg, tmp_path, callback=lambda s, m: seen.append((s, m)))
    assert [s for s, _ in seen] == list(range(1, 7))
    assert {"loss", "loss_iou", "loss_obj", "loss_cls", "lr", "steps_per_s"} <= set(seen[0][1])
    assert seen[0][1]["lr"] == pytest.approx(1e-2 / 20)  # OneCycle starts at lr / div_factor
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 6 and metrics["final_loss"] == pytest.approx(seen[-1][1]["loss"])
    weights = load_checkpoint(res.weights)
    assert weights["spec"] == {"preset": "nano", "camera": "synth"} and weights["config"]["train"]["steps"] == 6
    assert "optimizer" not in weights  # last.pt is small: weights + spec + config only
    assert res.best is None and not (tmp_path / "best.pt").exists()


def test_finished_run_is_not_retrained(tmp_path) -> None:
    cfg = _cfg()
    first = _run(cfg, tmp_path)
    again = _run(cfg, tmp_path, init_seed=99)
    assert again.resumed_from == 6
    _assert_same_state(load_checkpoint(first.weights)["model"], load_checkpoint(again.weights)["model"])


def test_changed_config_starts_fresh(tmp_path) -> None:
    with pytest.raises(_Crash):
        _run(_cfg(), tmp_path, callback=_crash_at(3))
    res = _run(_cfg(**{"train.lr": 5e-3}), tmp_path)
    assert res.resumed_from == 0


def test_round_settings_and_init_weights(tmp_path) -> None:
    cfg = _cfg()
    assert round_lr_steps(cfg, 0) == (1e-2, 6) and round_lr_steps(cfg, 2) == (2e-2, 5)
    assert loss_settings(cfg, 0).ignore_thresh is None  # LEOD pre-training: no ignore thresholds
    assert loss_settings(cfg, 1).ignore_thresh == (0.7, 0.35)
    r0 = _run(cfg, tmp_path / "r0")
    seen = []
    r1 = _run(cfg, tmp_path / "r1", round_idx=1, init_seed=4, init_weights=r0.weights,
              callback=lambda s, m: seen.append(m["lr"]))
    assert r1.steps == 5 and seen[0] == pytest.approx(2e-2 / 20)
    # initialised from round 0: after 5 small steps the weights are still close to round 0's
    w0 = load_checkpoint(r0.weights)["model"]["head.weight"]
    w1 = load_checkpoint(r1.weights)["model"]["head.weight"]
    torch.manual_seed(4)
    fresh = FakeDetector().head.weight.detach()
    assert (w1 - w0).abs().max() < (fresh - w0).abs().max()
