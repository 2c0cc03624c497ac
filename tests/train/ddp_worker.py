"""Run under torchrun by test_ddp.py: fake model/loader, different init and data per rank."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from leod_core.train import ddp
from leod_core.train.checkpoint import ModelSpec
from leod_core.train.loop import run_training
from tiny_config import FAKE_TRAIN, tiny_config
from train_fakes import FakeDetector, FakeLoader


def main(out: Path) -> None:
    torch.set_num_threads(1)
    info = ddp.dist_info_from_env()
    device = torch.device("cpu")
    ddp.init_distributed(info, device)
    cfg = tiny_config("train.devices=2", base=FAKE_TRAIN)
    torch.manual_seed(100 + info.rank)  # different initial weights: rank 0's must be broadcast
    model = FakeDetector()
    res = run_training(cfg, 0, model, ModelSpec("nano", "synth"), FakeLoader(seed=7 + info.rank), out / "run",
                       info=info, device=device)
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, out / f"rank{info.rank}.pt")
    assert res.steps == 4
    ddp.shutdown_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
