"""A new camera end to end: ``presets/example_camera.yaml`` (a 200x260 camera file, three classes, the
synthetic camera rendering it) applied for DVC, then the real ``dvc repro`` of every stage on the micro
scale in a temporary copy of the repo (the helpers of ``make smoke``, flows/smoke.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flows.preset import apply_preset
from flows.server import prefect_server
from flows.smoke import MICRO_OVERRIDES, apply_overrides, check_outputs, make_repo_copy, repro, stage_env
from leod_core.cameras import resolve_camera
from flows.settings import load_config
from leod_core.events.h5_store import ReprReader
from leod_core.labels.table import read_labels
from leod_core.layout import labels_full_path, list_sequences
from leod_core.train.checkpoint import ModelSpec, load_checkpoint, load_detector

REPO = Path(__file__).resolve().parents[2]
PRESET = REPO / "presets" / "example_camera.yaml"


def test_example_camera_preset_loads_the_camera_file():
    cfg = load_config(PRESET)
    cam = cfg.camera
    assert cam == resolve_camera(REPO / "presets" / "example_camera.camera.yaml")
    assert (cam.sensor_hw, cam.class_names, cam.input_hw, cam.partition_hw) == \
        ((200, 260), ("car", "ped", "truck"), (224, 288), (7, 9))
    assert cam.sensor_hw not in {resolve_camera(n).sensor_hw for n in ("gen1", "gen4", "synth")}
    assert (cfg.synth.preset, cfg.synth.height, cfg.synth.num_classes) == ("micro", 0, 0)  # synth follows the camera


def test_dvc_repro_of_the_example_camera(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    repo = make_repo_copy(REPO, tmp_path / "repo")
    apply_preset(repo / "presets" / "example_camera.yaml", repo / "params.yaml")
    apply_overrides(repo, MICRO_OVERRIDES)
    cfg = load_config(repo / "params.yaml")
    assert cfg.dataset.camera["name"] == "example"  # written into params.yaml in full: DVC tracks its fields
    env = stage_env(repo)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{repo / 'mlflow.db'}"
    monkeypatch.setenv("PREFECT_HOME", env["PREFECT_HOME"])
    cam = cfg.camera
    with prefect_server(0) as url:
        env["PREFECT_API_URL"] = url
        result = repro(repo, env, timeout_s=600)
        assert result.returncode == 0, result.output[-4000:]
        # the last step of docs/tutorials/own-camera.md: the detector over a recording, video and CSV labels
        rec = sorted((repo / cfg.paths.raw / "test").glob("*_td.dat"))[0]
        predict = subprocess.run([sys.executable, "-m", "flows.cli", "predict", str(rec), "--ckpt",
                                  "artifacts/round_1/model/last.pt", "--out", "predictions", "--video"],
                                 cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert predict.returncode == 0, predict.stdout[-2000:] + predict.stderr[-2000:]
    assert check_outputs(repo) == []
    raw = repo / cfg.paths.raw
    assert list(raw.rglob("*_bbox.csv")) and not list(raw.rglob("*_bbox.npy"))  # labels came as CSV
    _check_video(repo / "predictions", rec, cam)
    data = repo / cfg.paths.dataset
    # the synthetic recordings at the camera's size, all three classes labelled
    labels = read_labels(labels_full_path(data, "train"))
    assert set(labels["class_id"].unique()) == {0, 1, 2}
    seq = list_sequences(data, "train", cam)[0]
    with ReprReader(seq.repr_h5) as reader:
        assert reader.hw == (200, 260)
    # the weights record the camera in full and rebuild a 3-class detector for its padded input
    ckpt = repo / "artifacts" / "round_1" / "model" / "last.pt"
    assert ModelSpec(**load_checkpoint(ckpt)["spec"]).camera_spec() == cam
    model = load_detector(ckpt, camera=cam)
    assert model.num_classes == 3 and model.camera == "example"
    metrics = json.loads((repo / "artifacts" / "round_1" / "eval" / "metrics.json").read_text())
    assert {"AP_car", "AP_ped", "AP_truck"} <= set(metrics), sorted(metrics)
    assert all(np.isfinite(metrics[k]) for k in ("AP", "AP_truck"))
    # the synth camera's weights do not fit it: refused in one line
    with pytest.raises(ValueError, match="checkpoint is for camera 'example' .* expected camera 'synth'"):
        load_detector(ckpt, camera="synth")


def _check_video(out: Path, rec: Path, cam) -> None:
    """One frame per 50 ms window up to the last event, the event frame and the GT panel side by side."""
    import av

    from leod_core.events.dat_io import read_dat
    from leod_core.labels.label_files import read_label_file

    name = rec.name.removesuffix("_td.dat")
    t_last = int(read_dat(rec).events["t"][-1])
    boxes = read_label_file(out / f"{name}_bbox.npy")
    assert set(np.unique(boxes["class_id"])) <= {0, 1, 2}  # (a micro model may find no box above the threshold)
    assert (out / f"{name}.parquet").is_file()
    with av.open(str(out / f"{name}.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name in ("h264", "libx264")
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == math.ceil(t_last / 50_000)
    height, width, _ = frames[0].shape
    assert abs(width / height - 2 * cam.sensor_hw[1] / cam.sensor_hw[0]) < 0.05  # two panels of the sensor's aspect
