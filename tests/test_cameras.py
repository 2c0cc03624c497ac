"""Cameras as data: the built-ins pinned field by field, camera mappings and files, their validation."""

import dataclasses

import pytest

from leod_core.cameras import (
    CAMERAS, GEN4_ALL_CLASS_NAMES, CameraError, camera_from_mapping, get_camera, resolve_camera,
)

# every field of the three built-ins as they were before cameras became data (read off the old code)
BUILTINS = {
    "gen1": dict(name="gen1", sensor_hw=(240, 304), downsample_by_2=False, class_names=("car", "ped"),
                 max_raw_class_id=None, import_min_diag=30, import_min_side=10, eval_min_diag=30,
                 eval_min_side=10, eval_skip_us=500_000, partition_split_32=1, tflip_offset=-1,
                 label_period_us=250_000, sequence_length=21, all_class_names=()),
    "gen4": dict(name="gen4", sensor_hw=(720, 1280), downsample_by_2=True, class_names=("ped", "cyc", "car"),
                 max_raw_class_id=2, import_min_diag=0, import_min_side=5, eval_min_diag=30,
                 eval_min_side=10, eval_skip_us=500_000, partition_split_32=2, tflip_offset=-2,
                 label_period_us=None, sequence_length=10,
                 all_class_names=("pedestrian", "two wheeler", "car", "truck", "bus", "traffic sign",
                                  "traffic light")),
    "synth": dict(name="synth", sensor_hw=(120, 160), downsample_by_2=False, class_names=("car", "ped"),
                  max_raw_class_id=None, import_min_diag=15, import_min_side=5, eval_min_diag=15,
                  eval_min_side=5, eval_skip_us=500_000, partition_split_32=1, tflip_offset=-1,
                  label_period_us=50_000, sequence_length=10, all_class_names=()),
}
DERIVED = {  # repr_hw, input_hw, partition_hw, repr_h5_name
    "gen1": ((240, 304), (256, 320), (8, 10), "event_representations.h5"),
    "gen4": ((360, 640), (384, 640), (6, 10), "event_representations_ds2_nearest.h5"),
    "synth": ((120, 160), (128, 160), (4, 5), "event_representations.h5"),
}

EXAMPLE = {"name": "mycam", "height": 200, "width": 260, "class_names": ["car", "ped", "truck"]}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtins_keep_every_field(name):
    cam = get_camera(name)
    assert dataclasses.asdict(cam) == BUILTINS[name]
    assert (cam.repr_hw, cam.input_hw, cam.partition_hw, cam.repr_h5_name) == DERIVED[name]
    assert cam.is_builtin
    # a built-in written out as a mapping reads back to the same camera (the form weights store)
    assert camera_from_mapping(cam.to_dict()) == cam
    assert camera_from_mapping({"base": name}) == cam


def test_camera_mapping_defaults_and_derived_sizes():
    cam = camera_from_mapping(EXAMPLE)
    assert cam.sensor_hw == (200, 260) and cam.num_classes == 3 and not cam.is_builtin
    assert cam.input_hw == (224, 288) and cam.partition_hw == (7, 9)
    assert (cam.tflip_offset, cam.sequence_length, cam.label_period_us, cam.max_raw_class_id) == (-1, 10, None, None)
    half = camera_from_mapping(EXAMPLE | {"downsample_by_2": True, "partition_split_32": 2})
    assert half.repr_hw == (100, 130) and half.input_hw == (128, 192) and half.partition_hw == (2, 3)


def test_gen4_all_classes_keeps_the_seven_raw_classes():
    cam = camera_from_mapping({"base": "gen4", "all_classes": True})
    assert cam.class_names == GEN4_ALL_CLASS_NAMES and cam.num_classes == 7
    assert cam.max_raw_class_id is None and cam.name == "gen4" and not cam.is_builtin
    assert (cam.sensor_hw, cam.input_hw, cam.tflip_offset) == ((720, 1280), (384, 640), -2)


def test_camera_file_and_names(tmp_path):
    path = tmp_path / "cam.yaml"
    path.write_text("name: mycam\nheight: 200\nwidth: 260\nclass_names: [car, ped, truck]\nlabel_period_us: 50000\n")
    cam = resolve_camera(str(path))
    assert cam.sensor_hw == (200, 260) and cam.label_period_us == 50_000
    assert resolve_camera(path) == cam and resolve_camera(cam) is cam
    assert resolve_camera("gen1") is CAMERAS["gen1"]
    assert resolve_camera(EXAMPLE) == camera_from_mapping(EXAMPLE)


@pytest.mark.parametrize("change, message", [
    ({"height": 0}, "dataset.camera.height=0 is invalid"),
    ({"width": -3}, "dataset.camera.width=-3 is invalid"),
    ({"height": 2.5}, "dataset.camera.height=2.5 is invalid"),
    ({"class_names": []}, "dataset.camera.class_names=[] is invalid"),
    ({"class_names": ["car", "car"]}, "dataset.camera.class_names="),
    ({"colour": "red"}, "dataset.camera.colour: unknown camera field"),
    ({"downsample_by_2": True, "height": 201}, "dataset.camera.downsample_by_2=True needs an even"),
    ({"max_raw_class_id": 1}, "dataset.camera.max_raw_class_id=1 is invalid; allowed: null or 2"),
    ({"label_period_us": 33_333}, "dataset.camera.label_period_us=33333 is invalid"),
    ({"tflip_offset": 1}, "dataset.camera.tflip_offset=1 is invalid"),
    ({"sequence_length": 0}, "dataset.camera.sequence_length=0 is invalid"),
    ({"base": "gen9"}, "dataset.camera.base='gen9' is invalid; allowed: one of gen1, gen4, synth"),
    ({"all_classes": True}, "dataset.camera.all_classes=True needs dataset.camera.all_class_names"),
    ({"all_classes": "yes"}, "dataset.camera.all_classes='yes' is invalid"),
])
def test_bad_camera_fields_are_one_line_naming_the_key(change, message):
    with pytest.raises(CameraError) as err:
        camera_from_mapping(EXAMPLE | change)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_fields_and_contradictions():
    with pytest.raises(CameraError, match=r"dataset.camera.width: missing"):
        camera_from_mapping({"name": "x", "height": 10, "class_names": ["a"]})
    with pytest.raises(CameraError, match="max_raw_class_id=2 contradicts dataset.camera.all_classes"):
        camera_from_mapping({"base": "gen4", "all_classes": True, "max_raw_class_id": 2})


def test_bad_camera_files_name_the_file(tmp_path):
    with pytest.raises(CameraError, match="camera file not found"):
        resolve_camera(str(tmp_path / "nope.yaml"))
    with pytest.raises(CameraError, match="allowed: one of gen1, gen4, synth, a camera mapping"):
        resolve_camera("gen9")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nheight: -1\nwidth: 4\nclass_names: [a]\n")
    with pytest.raises(CameraError, match=rf"dataset.camera.height=-1 is invalid.*\(in {bad}\)"):
        resolve_camera(str(bad))
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(CameraError, match="not a mapping"):
        resolve_camera(str(tmp_path / "list.yaml"))


# ---------------------------------------------------------------------------------- through params.yaml
def test_camera_in_params_file_block_and_overrides(tmp_path):
    from flows.settings import load_config

    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "cam.yaml").write_text(
        "name: mycam\nheight: 200\nwidth: 260\nclass_names: [car, ped, truck]\nlabel_period_us: 50000\n")
    # an overlay names the camera file relative to itself; the loaded config holds the camera in full
    (tmp_path / "presets" / "p.yaml").write_text(
        "dataset:\n  camera: cam.yaml\nloss:\n  ignore_bbox_thresh: [0.7, 0.35, 0.7]\n"
        "pseudo:\n  obj_thresh: [0.6, 0.3, 0.6]\n  cls_thresh: [0.6, 0.3, 0.6]\n")
    cfg = load_config(tmp_path / "presets" / "p.yaml")
    assert cfg.camera == resolve_camera(str(tmp_path / "presets" / "cam.yaml"))
    assert cfg.dataset.camera == cfg.camera.to_dict() and cfg.experiment_name() == "mycam-wsod-0.05"
    assert cfg.per_class((0.7, 0.35, 0.7)) == (0.7, 0.35, 0.7)
    # -S refines the file's camera field by field
    cfg = load_config(tmp_path / "presets" / "p.yaml", ["dataset.camera.downsample_by_2=true"])
    assert cfg.camera.repr_hw == (100, 130) and cfg.camera.name == "mycam"
    # a 2-list expands LEOD-style only for gen4's classes; another 3-class camera needs 3 values
    with pytest.raises(ValueError, match=r"params: loss.ignore_bbox_thresh=\[0.7, 0.35\] is invalid"):
        load_config(tmp_path / "presets" / "p.yaml", ["loss.ignore_bbox_thresh=[0.7,0.35]"])
    # a built-in given by name stays a name; a block equal to a built-in becomes its name
    assert load_config(None).dataset.camera == "synth"
    assert load_config(None, ["dataset.camera.base=gen1"]).dataset.camera == "gen1"
    g4 = load_config(None, ["dataset.camera=gen4", "dataset.camera.all_classes=true",
                            *(f"{k}=[{','.join(['0.5'] * 7)}]" for k in
                              ("loss.ignore_bbox_thresh", "pseudo.obj_thresh", "pseudo.cls_thresh"))])
    assert g4.camera.num_classes == 7 and g4.camera.sensor_hw == (720, 1280)


def test_bad_camera_in_params_is_one_line_naming_key_and_file(tmp_path):
    from leod_core.config import ConfigError
    from flows.settings import load_config

    (tmp_path / "cam.yaml").write_text("name: mycam\nheight: 0\nwidth: 260\nclass_names: [car]\n")
    (tmp_path / "p.yaml").write_text("dataset:\n  camera: cam.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "p.yaml")
    assert str(err.value) == (f"params: dataset.camera.height=0 is invalid; allowed: an integer > 0 (sensor rows) "
                              f"(in {tmp_path / 'cam.yaml'})")
    (tmp_path / "q.yaml").write_text("dataset:\n  camera: missing.yaml\n")
    with pytest.raises(ConfigError, match=rf"params: dataset.camera: camera file not found: {tmp_path}/missing.yaml"):
        load_config(tmp_path / "q.yaml")
    with pytest.raises(ConfigError, match="params: dataset.camera.class_names=\\[\\] is invalid"):
        load_config(None, ["dataset.camera.class_names=[]"])
    with pytest.raises(ConfigError, match="params: dataset.camera.colour: unknown camera field"):
        load_config(None, ["dataset.camera.colour=red"])
