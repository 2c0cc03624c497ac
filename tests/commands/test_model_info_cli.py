"""``leod model-info``: parameters, padding, partition and stages of a preset on a camera (or a camera file)."""

from flows.cli import main


def test_model_info_prints_params_padding_partition_and_stages(capsys):
    assert main(["model-info", "--preset", "tiny", "--camera", "gen1"]) == 0
    out = capsys.readouterr().out
    assert "params: 4405141" in out
    assert "240x304 zero-padded bottom/right to 256x320" in out
    assert "partition: 8x10" in out
    assert "stage 4: stride 32, 256 ch, 8x10" in out


def test_model_info_bad_preset_is_one_line_error(capsys):
    assert main(["model-info", "--preset", "huge"]) == 1
    assert "unknown model preset" in capsys.readouterr().err


def test_model_info_shows_a_camera_file(tmp_path, capsys):
    cam = tmp_path / "cam.yaml"
    cam.write_text("name: mycam\nheight: 200\nwidth: 260\nclass_names: [car, ped, truck]\ndownsample_by_2: true\n"
                   "sequence_length: 7\ntflip_offset: -2\n")
    assert main(["model-info", "--camera", str(cam)]) == 0
    out = capsys.readouterr().out
    assert "camera: mycam, classes: 3 (car, ped, truck)" in out
    assert "sensor: 200x260, downsampled by 2 to 100x130" in out
    assert "input: repr 100x130 zero-padded bottom/right to 128x160" in out
    assert "partition: 4x5" in out and "sequence length L: 7, tflip offset: -2, label period: from the data" in out
    assert main(["model-info", "--params", str(tmp_path / "none.yaml"), "-S", f"dataset.camera={cam}",
                 "-S", "dataset.camera.class_names=[car,ped]"]) == 0  # 2 classes: the default per-class lists fit
    assert "camera: mycam, classes: 2 (car, ped)" in capsys.readouterr().out
    assert main(["model-info", "--camera", str(tmp_path / "nope.yaml")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("leod model-info: error: --camera: camera file not found") and "\n" not in err
