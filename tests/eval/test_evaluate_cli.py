import json

import torch

from flows.cli import main
from leod_core.train.checkpoint import ModelSpec, save_weights



def test_evaluate_command_runs_round_checkpoint(tmp_path, capsys, build_dataset):
    from leod_core.model.presets import build_detector

    torch.set_num_threads(1)
    build_dataset(tmp_path / "ds")
    torch.manual_seed(0)
    model = build_detector("nano", "synth")
    ckpt = tmp_path / "art" / "round_1" / "model" / "last.pt"
    save_weights(ckpt, model.state_dict(), ModelSpec(preset="nano", camera="synth"))
    params = tmp_path / "params.yaml"
    params.write_text(f"paths:\n  dataset: {tmp_path / 'ds'}\n  artifacts: {tmp_path / 'art'}\n"
                      "dataset:\n  camera: synth\ndata:\n  sequence_length: 4\neval:\n  num_vis_frames: 1\n")
    rc = main(["evaluate", "--round", "1", "--params", str(params), "--device", "cpu"])
    assert rc == 0
    m = json.loads((tmp_path / "art" / "round_1" / "eval" / "metrics.json").read_text())
    assert 0.0 <= m["AP"] <= 1.0 and m["num_images"] == 6
    assert "AP_50" in capsys.readouterr().out


def test_evaluate_command_missing_checkpoint(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(f"paths:\n  artifacts: {tmp_path / 'art'}\n")
    assert main(["evaluate", "--round", "2", "--params", str(params)]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
