"""The CUDA-only branches of the training loop: autocast (bf16, or fp16 with a GradScaler) and SyncBatchNorm.

Skipped without a GPU, so the CPU suite never depends on one; a lent GPU machine runs them with
``pytest tests/train/test_cuda_smoke.py``. Each uses the real nano detector and mixed loader on the tiny
synthetic dataset, a few steps, and checks what a broken branch would break: finite losses, a checkpoint
that resumes, weights that load on the CPU.
"""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
from torch import nn

from leod_core.data.mixed import build_train_loader
from leod_core.model.presets import build_detector
from leod_core.train import loop
from leod_core.train.checkpoint import ModelSpec, load_checkpoint, load_detector
from leod_core.train.ddp import DistInfo
from leod_core.train.loop import run_training, train_round
from tiny_config import tiny_config
from train_fakes import write_tiny_synth_dataset

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

FOUR_STEPS = "train.steps=4"  # a crash at step 3 resumes from the step-2 checkpoint


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_cuda")
    return root, write_tiny_synth_dataset(root)


def _losses(metrics: list[dict]) -> torch.Tensor:
    return torch.tensor([m["loss"] for m in metrics])


def test_autocast_training_on_cuda_resumes_and_loads_on_cpu(dataset, tmp_path) -> None:
    root, labels = dataset
    cfg = tiny_config(FOUR_STEPS)
    assert loop._amp_dtype(torch.device("cuda")) in (torch.bfloat16, torch.float16)
    seen: list[dict] = []

    def crash_after_first_checkpoint(step: int, metrics: dict) -> None:
        seen.append(metrics)
        if step == 3:
            raise KeyboardInterrupt  # a crash after the step-2 checkpoint

    with pytest.raises(KeyboardInterrupt):
        train_round(cfg, 0, labels, root, tmp_path / "model", callback=crash_after_first_checkpoint)
    res = train_round(cfg, 0, labels, root, tmp_path / "model", callback=lambda s, m: seen.append(m))
    assert res.steps == 4 and res.resumed_from == 2 and torch.isfinite(_losses(seen)).all()
    model = load_detector(res.weights)  # CUDA-trained weights, read on the CPU by every command's reader
    assert all(p.device.type == "cpu" for p in model.parameters())
    with torch.no_grad():
        feats, _ = model.forward_backbone(torch.zeros(1, 20, 128, 160))
        assert len(model.predict(feats, conf_threshold=0.0)) == 1


def test_fp16_grad_scaler_state_is_checkpointed(dataset, tmp_path, monkeypatch) -> None:
    root, labels = dataset
    monkeypatch.setattr(loop, "_amp_dtype", lambda device: torch.float16)  # the branch of GPUs without bf16
    cfg = tiny_config(FOUR_STEPS)
    seen: list[dict] = []
    res = train_round(cfg, 0, labels, root, tmp_path / "model", callback=lambda s, m: seen.append(m))
    assert res.steps == 4 and torch.isfinite(_losses(seen)).all()
    scaler = load_checkpoint(tmp_path / "model" / loop.CKPT_NAME)["scaler"]
    assert scaler and scaler["scale"] > 0  # an enabled GradScaler saves its scale; a disabled one saves {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sync_batchnorm_branch_under_a_process_group(dataset, tmp_path, monkeypatch) -> None:
    """One NCCL process stands in for a job of two: the loop converts BatchNorm and runs its collectives."""
    root, labels = dataset
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    device = torch.device("cuda", 0)
    torch.cuda.set_device(device)
    dist.init_process_group("nccl", rank=0, world_size=1, device_id=device)
    converted: list[nn.Module] = []
    real_convert = nn.SyncBatchNorm.convert_sync_batchnorm
    monkeypatch.setattr(nn.SyncBatchNorm, "convert_sync_batchnorm",
                        lambda m, *a, **k: converted.append(real_convert(m, *a, **k)) or converted[-1])
    try:
        cfg = tiny_config(FOUR_STEPS)
        torch.manual_seed(0)
        model = build_detector(cfg.model.preset, cfg.camera)
        res = run_training(cfg, 0, model, ModelSpec(cfg.model.preset, cfg.camera.name),
                           build_train_loader(cfg, labels, root, seed=1), tmp_path / "model",
                           info=DistInfo(rank=0, world_size=2, local_rank=0), device=device)
    finally:
        dist.destroy_process_group()
    assert res.steps == 4 and converted
    assert any(isinstance(m, nn.SyncBatchNorm) for m in converted[0].modules())
    state = load_checkpoint(res.weights)["model"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
