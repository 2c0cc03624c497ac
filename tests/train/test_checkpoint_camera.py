"""Weights record their camera (a built-in by name, any other camera in full) and are refused in one line
by a camera they do not fit (class count or padded input size)."""

from __future__ import annotations

import pytest
import torch

from leod_core.cameras import camera_from_mapping, get_camera
from leod_core.model.checkpoint_io import import_checkpoint
from leod_core.model.presets import build_detector
from leod_core.train.checkpoint import ModelSpec, load_checkpoint, load_detector, save_weights

MYCAM = camera_from_mapping({"name": "mycam", "height": 200, "width": 260, "class_names": ["car", "ped", "truck"]})
# same class count and padded input (128x160) as synth, other sensor size and names
SYNTH_LIKE = camera_from_mapping({"name": "like", "height": 100, "width": 150, "class_names": ["a", "b"]})

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_builtin_spec_is_its_name_and_others_are_recorded_in_full():
    assert ModelSpec.of("nano", get_camera("synth")) == ModelSpec("nano", "synth")  # files stay as they were
    spec = ModelSpec.of("nano", MYCAM)
    assert spec.camera == MYCAM.to_dict() and spec.camera_spec() == MYCAM and spec.camera_name == "mycam"


def test_custom_camera_weights_rebuild_from_the_file_alone(tmp_path):
    torch.manual_seed(0)
    model = build_detector("nano", MYCAM)
    path = save_weights(tmp_path / "w.pt", model.state_dict(), ModelSpec.of("nano", MYCAM))
    assert load_checkpoint(path)["spec"]["camera"]["height"] == 200
    rebuilt = load_detector(path)
    assert rebuilt.camera == "mycam"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), rebuilt.state_dict().values()))
    assert load_detector(path, camera=MYCAM) is not None


def test_weights_that_do_not_fit_the_camera_are_refused_in_one_line(tmp_path):
    path = save_weights(tmp_path / "synth.pt", build_detector("nano", "synth").state_dict(), ModelSpec("nano", "synth"))
    with pytest.raises(ValueError) as err:
        load_detector(path, camera=MYCAM)
    msg = str(err.value)
    assert msg == (f"{path}: checkpoint is for camera 'synth' (2 classes, input 128x160), expected camera "
                   "'mycam' (3 classes, input 224x288)")
    three = camera_from_mapping({"name": "three", "height": 120, "width": 160, "class_names": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"'synth' \(2 classes, input 128x160\), expected camera 'three' \(3 classes"):
        load_detector(path, camera=three)  # same input, other class count
    big = camera_from_mapping({"name": "big", "height": 240, "width": 304, "class_names": ["a", "b"]})
    with pytest.raises(ValueError, match=r"expected camera 'big' \(2 classes, input 256x320\)"):
        load_detector(path, camera=big)  # same classes, other input size
    assert load_detector(path, camera=SYNTH_LIKE).camera == "synth"  # fits: the file's camera is kept


def test_import_checkpoint_for_a_camera_file(tmp_path):
    cam_file = tmp_path / "mycam.yaml"
    cam_file.write_text("name: mycam\nheight: 200\nwidth: 260\nclass_names: [car, ped, truck]\n")
    sd = build_detector("nano", MYCAM).state_dict()
    torch.save({"state_dict": {f"mdl.{k}": v for k, v in sd.items()}}, tmp_path / "rvt.ckpt")
    import_checkpoint(tmp_path / "rvt.ckpt", tmp_path / "imported.pt", camera=str(cam_file))
    assert ModelSpec(**load_checkpoint(tmp_path / "imported.pt")["spec"]).camera_spec() == MYCAM
    with pytest.raises(ValueError, match="checkpoint has 3 classes but camera 'synth' has 2"):
        import_checkpoint(tmp_path / "rvt.ckpt", tmp_path / "x.pt", camera="synth")


def test_seven_class_rvt_file_is_gen4_with_all_classes(tmp_path):
    g4all = camera_from_mapping({"base": "gen4", "all_classes": True})
    model = build_detector("nano", g4all)
    torch.save({"state_dict": {f"mdl.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "g7.ckpt")
    import_checkpoint(tmp_path / "g7.ckpt", tmp_path / "g7.pt")  # no --camera: inferred from the 7 classes
    spec = ModelSpec(**load_checkpoint(tmp_path / "g7.pt")["spec"])
    assert spec.camera_spec() == g4all and spec.camera_spec().num_classes == 7
