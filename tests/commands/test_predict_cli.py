"""``leod predict`` through the real CLI: predict -> evaluate-boxes reproduces leod evaluate; one-line errors."""

from __future__ import annotations

import json

import pytest

from flows.cli import main
from leod_core.eval.prophesee import METRIC_KEYS
from leod_core.model.presets import build_detector
from leod_core.train.checkpoint import ModelSpec, save_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(tmp_path, dataset_root):
    p = tmp_path / "params.yaml"
    p.write_text(f"paths:\n  dataset: {dataset_root}\n  artifacts: {tmp_path / 'art'}\ndataset:\n  camera: synth\n"
                 "data:\n  sequence_length: 3\neval:\n  num_vis_frames: 0\ntrain:\n  threads: 1\n"
                 f"mlflow:\n  tracking_uri: sqlite:///{tmp_path / 'mlflow.db'}\n")
    return p


def test_predict_then_evaluate_boxes_equals_leod_evaluate(raw_root, dataset_root, trained_ckpt, tmp_path, capsys):
    """Same checkpoint, same label frames: the Prophesee metrics of predict's *_bbox.npy files equal
    ``leod evaluate``'s to the last digit (the label frames are 100 ms apart, so the +-50 ms matching of
    a per-sequence file sees only that frame's predictions, as evaluate's per-frame keys do)."""
    params = str(_params(tmp_path, dataset_root))
    ev, pred = tmp_path / "eval", tmp_path / "pred"
    assert main(["evaluate", "--round", "0", "--ckpt", str(trained_ckpt), "--out", str(ev), "--params", params,
                 "--device", "cpu"]) == 0
    seqs = [str(dataset_root / "test" / n) for n in ("rec_a", "rec_b")]
    assert main(["predict", *seqs, "--ckpt", str(trained_ckpt), "--out", str(pred), "--at-labels",
                 "--params", params, "--device", "cpu"]) == 0
    assert "predict: 2 recording(s), camera synth" in capsys.readouterr().out
    assert main(["evaluate-boxes", str(raw_root / "test"), str(pred), "--camera", "synth",
                 "--output", str(tmp_path / "boxes.json")]) == 0
    want = json.loads((ev / "metrics.json").read_text())
    got = json.loads((tmp_path / "boxes.json").read_text())
    assert want["AP_50"] > 0 and want["num_dt"] > 0
    keys = [*METRIC_KEYS, *(f"{k}_{c}" for k in METRIC_KEYS for c in ("car", "ped")), "num_images", "num_gt", "num_dt"]
    assert {k: got[k] for k in keys} == {k: want[k] for k in keys}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "Traceback" not in "\n".join(err)
    assert err[-1].startswith("leod predict: error: ")
    return err[-1]


def test_unknown_recording_format_is_one_line(tmp_path, trained_ckpt, capsys):
    clip = tmp_path / "clip.avi"
    clip.write_bytes(b"RIFF")
    assert main(["predict", str(clip), "--ckpt", str(trained_ckpt), "--out", str(tmp_path / "o")]) == 1
    assert f"{clip}: unknown recording format" in _one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_checkpoint_of_another_camera_is_one_line(tmp_path, dataset_root, capsys):
    ckpt = save_weights(tmp_path / "gen4.pt", build_detector("nano", "gen4").state_dict(), ModelSpec("nano", "gen4"))
    assert main(["predict", str(dataset_root / "test" / "rec_a"), "--ckpt", str(ckpt), "--camera", "synth",
                 "--out", str(tmp_path / "o")]) == 1
    line = _one_line_error(capsys)
    assert str(ckpt) in line and "camera 'gen4' (3 classes, input 384x640), expected camera 'synth' (2 classes" in line
    assert list((tmp_path / "o").iterdir()) == []


def test_unwritable_video_path_is_one_line_before_any_work(tmp_path, dataset_root, trained_ckpt, capsys):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "videos"
    assert main(["predict", str(dataset_root / "test" / "rec_a"), "--ckpt", str(trained_ckpt), "--out", str(out),
                 "--video"]) == 1
    assert f"cannot write predictions or videos to {out}" in _one_line_error(capsys)


def test_bad_rate_names_the_key(tmp_path, dataset_root, trained_ckpt, capsys):
    assert main(["predict", str(dataset_root / "test" / "rec_a"), "--ckpt", str(trained_ckpt),
                 "--out", str(tmp_path / "o"), "--every-ms", "70"]) == 1
    assert "predict.every_ms=70 is invalid" in _one_line_error(capsys)


def test_predict_video_is_an_mlflow_artifact(dataset_root, trained_ckpt, tmp_path):
    from mlflow.tracking import MlflowClient

    params = str(_params(tmp_path, dataset_root))
    out = tmp_path / "pred"
    assert main(["predict", str(dataset_root / "test" / "rec_a"), "--ckpt", str(trained_ckpt), "--out", str(out),
                 "--video", "--params", params, "--device", "cpu"]) == 0
    assert (out / "rec_a.mp4").is_file()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
            if r.data.tags.get("stage") == "predict"]
    assert len(runs) == 1
    logged = [a.path for a in client.list_artifacts(runs[0].info.run_id, "predictions")]
    assert logged == ["predictions/rec_a.mp4"]  # the video opens in the UI; the box files stay on disk
