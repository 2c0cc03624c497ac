import json
import os
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from leod_core.model.checkpoint_io import import_checkpoint, read_state_dict
from leod_core.model.presets import build_detector
from leod_core.train.checkpoint import load_checkpoint, load_detector

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _rvt_like_state_dict(preset: str) -> dict[str, torch.Tensor]:
    """Random tensors in the exact key/shape layout of RVT's model (from the fixture)."""
    shapes = json.loads((FIXTURES / f"rvt_keys_{preset}.json").read_text())["state_dict_shapes"]
    g = torch.Generator().manual_seed(0)
    return {k: (torch.randint(0, 5, s, generator=g) if k.endswith("num_batches_tracked")
                else torch.rand(s, generator=g) + 0.5) for k, s in shapes.items()}


def _lightning_ckpt(sd: dict[str, torch.Tensor]) -> dict:
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=10)
    cfg = OmegaConf.create({"model": {"backbone": {"embed_dim": 32, "partition_size": [8, 10]}, "x": None},
                            "lr": 2e-4, "flags": [True, "a", 3]})
    return {"epoch": 1, "global_step": 100, "pytorch-lightning_version": "1.8.6",
            "state_dict": {f"mdl.{k}": v for k, v in sd.items()}, "hyper_parameters": {"full_config": cfg},
            "optimizer_states": [opt.state_dict()], "lr_schedulers": [sched.state_dict()],
            "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(0.4), "dirpath": "/x"}}}


def test_lightning_checkpoint_imports_strictly(tmp_path):
    sd = _rvt_like_state_dict("tiny")
    src = tmp_path / "rvt-t.ckpt"
    torch.save(_lightning_ckpt(sd), src)
    dst = tmp_path / "out" / "model.pt"
    model = import_checkpoint(src, dst)
    assert (model.preset, model.camera) == ("tiny", "gen1")
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k])
    rebuilt = load_detector(dst)  # the reader of evaluate / pseudo-label
    assert torch.equal(rebuilt.state_dict()["yolox_head.cls_preds.0.bias"], sd["yolox_head.cls_preds.0.bias"])
    ckpt = load_checkpoint(dst)  # the layout of training's last.pt
    assert ckpt["spec"] == {"preset": "tiny", "camera": "gen1"} and ckpt["meta"]["imported_from"] == str(src)


def test_leod_extracted_weights_and_bare_state_dict(tmp_path):
    sd = _rvt_like_state_dict("small")
    torch.save({f"mdl.{k}": v for k, v in sd.items()}, tmp_path / "a.ckpt")  # LEOD extract_weight layout
    torch.save(sd, tmp_path / "b.pt")
    assert load_detector(tmp_path / "a.ckpt").preset == "small"
    assert set(read_state_dict(tmp_path / "b.pt")) == set(sd)


def test_code_running_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    src = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"mdl.x": torch.zeros(1)}, "payload": Evil()}, src)
    with pytest.raises(ValueError, match="refusing to load"):
        read_state_dict(src)
    with pytest.raises(ValueError, match="refusing to load"):
        load_detector(src)
    assert not marker.exists()


def test_mismatches_give_clear_errors(tmp_path):
    sd = _rvt_like_state_dict("tiny")
    torch.save(sd, tmp_path / "t.pt")
    with pytest.raises(ValueError, match="shape mismatches"):
        load_detector(tmp_path / "t.pt", preset="small")
    with pytest.raises(ValueError, match="classes"):
        load_detector(tmp_path / "t.pt", camera="gen4")
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError):
        read_state_dict(tmp_path / "junk.ckpt")


def test_gen4_import_infers_camera(tmp_path):
    model = build_detector("tiny", "gen4")
    torch.save({"state_dict": {f"mdl.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "g4.ckpt")
    assert load_detector(tmp_path / "g4.ckpt").camera == "gen4"
