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
