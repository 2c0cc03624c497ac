import json

import torch

from flows.cli import main
from leod_core.model.presets import build_detector
from leod_core.train.checkpoint import ModelSpec, save_weights


def _micro_params(tmp_path, build_dataset):
    torch.set_num_threads(1)
    build_dataset(tmp_path / "ds")
    params = tmp_path / "params.yaml"
    params.write_text(f"paths:\n  dataset: {tmp_path / 'ds'}\n  artifacts: {tmp_path / 'art'}\n"
                      "dataset:\n  camera: synth\ndata:\n  sequence_length: 4\neval:\n  num_vis_frames: 1\n")
    return params


def test_evaluate_command_runs_round_checkpoint(tmp_path, capsys, build_dataset):
    params = _micro_params(tmp_path, build_dataset)
    torch.manual_seed(0)
    model = build_detector("nano", "synth")
    ckpt = tmp_path / "art" / "round_1" / "model" / "last.pt"
    save_weights(ckpt, model.state_dict(), ModelSpec(preset="nano", camera="synth"))
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


def test_imported_rvt_checkpoint_evaluates(tmp_path, capsys, build_dataset):
    # docs/tutorials/real-data.md's released-checkpoint workflow: import-checkpoint, then evaluate --ckpt on its output
    params = _micro_params(tmp_path, build_dataset)
    torch.manual_seed(0)
    sd = build_detector("nano", "synth").state_dict()
    src, dst = tmp_path / "rvt.ckpt", tmp_path / "round0.pt"
    torch.save({"epoch": 1, "state_dict": {f"mdl.{k}": v for k, v in sd.items()}}, src)
    assert main(["import-checkpoint", str(src), str(dst), "--camera", "synth"]) == 0
    assert "preset nano, camera synth" in capsys.readouterr().out
    assert main(["evaluate", "--round", "0", "--params", str(params), "--device", "cpu", "--ckpt", str(dst)]) == 0
    m = json.loads((tmp_path / "art" / "round_0" / "eval" / "metrics.json").read_text())
    assert 0.0 <= m["AP"] <= 1.0 and m["num_images"] == 6


def test_evaluate_refuses_other_camera_in_one_line(tmp_path, capsys, build_dataset):
    params = _micro_params(tmp_path, build_dataset)
    ckpt = save_weights(tmp_path / "gen1.pt", build_detector("nano", "gen1").state_dict(), ModelSpec("nano", "gen1"))
    assert main(["evaluate", "--round", "0", "--params", str(params), "--device", "cpu", "--ckpt", str(ckpt)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("leod evaluate: error: ") and str(ckpt) in err[-1]
    assert "camera 'gen1' (2 classes, input 256x320), expected camera 'synth'" in err[-1]
