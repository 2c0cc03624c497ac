"""Every file a leod command writes is read by every reader a command uses, and misfits fail in one line.

Writers: training (``last.pt``, ``best.pt``, the resume state ``.work/last_ckpt.pt``), ``import-checkpoint``,
plus files from outside / from before: ``leod-detector-v1`` (old import-checkpoint output), a raw RVT
Lightning ``.ckpt`` and LEOD's stripped ``mdl.*`` weights.
Readers: ``load_detector`` (``evaluate --ckpt``), the pseudo-label task's model loader (``pseudo-label
--ckpt``), ``load_weights_into`` (``train --init``) and ``import_checkpoint`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from leod_core.model.checkpoint_io import import_checkpoint
from leod_core.model.presets import build_detector
from leod_core.train.checkpoint import ModelSpec, load_checkpoint, load_detector, load_weights_into, save_weights
from leod_core.train.loop import train_round
from flows.pseudo_label import _load_model
from tiny_config import tiny_config
from train_fakes import write_tiny_synth_dataset

SPEC = ModelSpec("nano", "synth")
State = dict[str, torch.Tensor]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _lightning(sd: State) -> dict:
    """An RVT-style Lightning checkpoint: ``mdl.``-prefixed weights among training bookkeeping."""
    return {"epoch": 3, "global_step": 30, "pytorch-lightning_version": "1.8.6",
            "state_dict": {f"mdl.{k}": v for k, v in sd.items()}, "hyper_parameters": {"lr": 2e-4}}


def _random_state(seed: int, camera: str = "synth") -> State:
    torch.manual_seed(seed)
    return build_detector("nano", camera).state_dict()


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, tuple[Path, State]]:
    """name -> (file, the weights it holds), one file per writer."""
    root = tmp_path_factory.mktemp("writers")
    labels = write_tiny_synth_dataset(root / "ds", val=True)
    cfg = tiny_config("train.steps=2", "train.val_every=2", "train.threads=1")
    res = train_round(cfg, 0, labels, root / "ds", root / "model")
    files = {name: (path, load_checkpoint(path)["model"])
             for name, path in (("train last.pt", res.weights), ("train best.pt", res.best),
                                ("train resume state", root / "model" / ".work" / "last_ckpt.pt"))}
    sd = _random_state(1)
    torch.save(_lightning(sd), root / "rvt.ckpt")
    files["raw RVT .ckpt"] = (root / "rvt.ckpt", sd)
    import_checkpoint(root / "rvt.ckpt", root / "imported.pt", camera="synth")
    files["import-checkpoint"] = (root / "imported.pt", sd)
    sd = _random_state(2)
    torch.save({f"mdl.{k}": v for k, v in sd.items()}, root / "leod_stripped.ckpt")
    files["LEOD stripped weights"] = (root / "leod_stripped.ckpt", sd)
    sd = _random_state(3)
    torch.save({"format": "leod-detector-v1", "preset": "nano", "camera": "synth", "state_dict": sd},
               root / "legacy.pt")
    files["leod-detector-v1"] = (root / "legacy.pt", sd)
    return files


def _evaluate(path: Path, tmp: Path) -> State:
    return load_detector(path, map_location="cpu", camera="synth").state_dict()  # as tasks/evaluate.py


def _pseudo_label(path: Path, tmp: Path) -> State:
    return _load_model(str(path), "cpu", "synth", path.stat().st_mtime_ns).state_dict()


def _train_init(path: Path, tmp: Path) -> State:
    model = build_detector("nano", "synth")
    load_weights_into(model, path, SPEC)
    return model.state_dict()


def _import(path: Path, tmp: Path) -> State:
    import_checkpoint(path, tmp / "again.pt", camera="synth")
    return load_checkpoint(tmp / "again.pt")["model"]


READERS: dict[str, Callable[[Path, Path], State]] = {
    "evaluate --ckpt": _evaluate, "pseudo-label --ckpt": _pseudo_label, "train --init": _train_init,
    "import-checkpoint": _import,
}
WRITERS = ["train last.pt", "train best.pt", "train resume state", "import-checkpoint", "raw RVT .ckpt",
           "LEOD stripped weights", "leod-detector-v1"]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("writer", WRITERS)
def test_every_reader_reads_every_writer(written, writer, reader, tmp_path) -> None:
    path, expected = written[writer]
    got = READERS[reader](path, tmp_path)
    assert set(got) == set(expected)
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def _one_line_error(reader: str, path: Path, tmp: Path) -> str:
    with pytest.raises(ValueError) as info:
        READERS[reader](path, tmp)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


@pytest.mark.parametrize("reader", READERS)
def test_other_camera_input_size_is_refused(reader, tmp_path) -> None:
    path = save_weights(tmp_path / "gen1.pt", _random_state(0, "gen1"), ModelSpec("nano", "gen1"))
    msg = _one_line_error(reader, path, tmp_path)
    assert "camera 'gen1' (2 classes, input 256x320)" in msg
    assert "expected camera 'synth' (2 classes, input 128x160)" in msg


@pytest.mark.parametrize("reader", READERS)
def test_other_class_count_is_refused(reader, tmp_path) -> None:
    path = tmp_path / "rvt_gen4.ckpt"
    torch.save(_lightning(_random_state(0, "gen4")), path)
    assert "checkpoint has 3 classes but camera 'synth' has 2" in _one_line_error(reader, path, tmp_path)
    leod = save_weights(tmp_path / "gen4.pt", _random_state(0, "gen4"), ModelSpec("nano", "gen4"))
    assert "camera 'gen4' (3 classes" in _one_line_error(reader, leod, tmp_path)


def test_init_from_other_preset_or_unfitting_weights_is_refused(tmp_path) -> None:
    sd = _random_state(0)
    other = save_weights(tmp_path / "tiny.pt", sd, ModelSpec("tiny", "synth"))
    assert "preset 'tiny', expected preset 'nano'" in _one_line_error("train --init", other, tmp_path)
    cut = save_weights(tmp_path / "cut.pt", dict(list(sd.items())[:-3]), SPEC)
    assert "weights do not fit preset 'nano'" in _one_line_error("evaluate --ckpt", cut, tmp_path)
