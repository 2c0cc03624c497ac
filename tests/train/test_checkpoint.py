"""Checkpoint I/O: atomic weights/state files, weights_only loading, RNG round trip, clear errors."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from leod_core.train.checkpoint import (
    ModelSpec, capture_rng, load_checkpoint, restore_rng, save_checkpoint, save_weights,
)


def test_weights_round_trip(tmp_path) -> None:
    net = torch.nn.Linear(3, 2)
    path = save_weights(tmp_path / "m" / "last.pt", net.state_dict(), ModelSpec("nano", "synth"),
                        config={"train": {"lr": 1e-3}}, meta={"step": 5})
    assert path.is_file() and not list(path.parent.glob(".*tmp*"))  # atomic: no temp left behind
    ckpt = load_checkpoint(path)
    assert ckpt["spec"] == {"preset": "nano", "camera": "synth"}
    assert ckpt["config"]["train"]["lr"] == 1e-3 and ckpt["meta"]["step"] == 5
    other = torch.nn.Linear(3, 2)
    other.load_state_dict(ckpt["model"])
    assert torch.equal(other.weight, net.weight)


def test_rng_round_trip_through_file(tmp_path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    save_checkpoint(tmp_path / "c.pt", {"model": {}, "spec": {"preset": "nano", "camera": "synth"},
                                        "step": 0, "rng": capture_rng()})
    expect = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    restore_rng(load_checkpoint(tmp_path / "c.pt")["rng"])
    got = (random.random(), np.random.rand(), torch.rand(1))
    assert got[0] == expect[0] and got[1] == expect[1] and torch.equal(got[2], expect[2])


def test_errors_are_one_line(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"state_dict": {}}, tmp_path / "rvt.ckpt")
    with pytest.raises(ValueError, match="import-checkpoint"):
        load_checkpoint(tmp_path / "rvt.ckpt")
    with pytest.raises(ValueError, match="lacks"):
        save_checkpoint(tmp_path / "x.pt", {"model": {}})
