"""Two CPU processes (gloo) train the fake model: identical weights on both ranks, one checkpoint by rank 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from leod_core.train.checkpoint import ModelSpec, load_checkpoint
from leod_core.train.ddp import DistInfo, dist_info_from_env, torchrun_command
from leod_core.train.loop import run_training
from tiny_config import FAKE_TRAIN, tiny_config
from train_fakes import FakeDetector, FakeLoader

HERE = Path(__file__).parent


def test_two_ranks_end_with_identical_weights(tmp_path) -> None:
    # the worker imports train_fakes (here) and tiny_config (tests/)
    path = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           str(HERE / "ddp_worker.py"), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # parameters and BatchNorm buffers
    ckpt = load_checkpoint(tmp_path / "run" / ".work" / "last_ckpt.pt")
    assert ckpt["step"] == 4 and len(ckpt["ranks"]) == 2  # per-rank loader / RNG / RNN states
    assert ckpt["ranks"][0]["loader"]["count"] == ckpt["ranks"][1]["loader"]["count"] == 4
    assert (tmp_path / "run" / "last.pt").is_file() and (tmp_path / "run" / "loss.csv").is_file()
    # gradients were averaged: rank 0 alone (same init, same data) ends elsewhere
    torch.set_num_threads(1)
    torch.manual_seed(100)
    cfg = tiny_config(base=FAKE_TRAIN)
    solo = run_training(cfg, 0, FakeDetector(), ModelSpec("nano", "synth"), FakeLoader(seed=7), tmp_path / "solo")
    assert not torch.equal(load_checkpoint(solo.weights)["model"]["head.weight"], r0["head.weight"])


def test_dist_info_and_torchrun_command(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert dist_info_from_env() == DistInfo(0, 1, 0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = dist_info_from_env()
    assert info.distributed and not info.is_main and info.local_rank == 1
    cmd = torchrun_command(2, "flows.cli", ["train", "--round", "0"])
    assert cmd[1:3] == ["-m", "torch.distributed.run"] and "--nproc-per-node=2" in cmd
    assert cmd[-5:] == ["-m", "flows.cli", "train", "--round", "0"]
