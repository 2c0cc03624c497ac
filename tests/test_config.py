"""params.yaml loading and validation."""

from pathlib import Path

import pytest

from leod_core.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]


def test_params_yaml_matches_schema_defaults():
    # params.yaml documents every knob: it must parse and equal the schema defaults
    assert load_config(REPO / "params.yaml") == load_config(None)


def test_derived_values_not_written_back():
    cfg = load_config(None)
    assert cfg.camera.input_hw == (128, 160)
    assert cfg.camera.partition_hw == (4, 5)
    assert cfg.experiment_name() == "synth-wsod-0.05"


@pytest.mark.parametrize("override, key", [
    ("subsample.ratio=1.5", "subsample.ratio"),
    ("subsample.ratio=0", "subsample.ratio"),
    ("train.steps=-3", "train.steps"),
    ("dataset.camera=gen9", "dataset.camera"),
    ("subsample.setting=full", "subsample.setting"),
    ("model.preset=huge", "model.preset"),
    ("data.batch_size=abc", "data.batch_size"),
    ("pseudo.tracker.q=1.5", "pseudo.tracker.q"),
    ("eval.memory_reset_every=-1", "eval.memory_reset_every"),
    ("nonsense=1", "nonsense"),
    ("train.nonsense=1", "train.nonsense"),
    ("base=params.yaml", "base"),  # a file's overlay marker, never an override
])
def test_bad_values_name_the_key_in_one_line(override, key):
    with pytest.raises(ConfigError) as exc:
        load_config(None, [override])
    msg = str(exc.value)
    assert key in msg
    assert "\n" not in msg


def test_wsod_ratio_above_half_rejected_but_full_allowed():
    with pytest.raises(ConfigError, match="subsample.ratio"):
        load_config(None, ["subsample.ratio=0.6"])
    assert load_config(None, ["subsample.ratio=1.0"]).subsample.ratio == 1.0
    assert load_config(None, ["subsample.setting=ssod", "subsample.ratio=0.6"]).subsample.ratio == 0.6


def test_per_class_expansion_gen4():
    cfg = load_config(None, ["dataset.camera=gen4"])
    assert cfg.per_class((0.7, 0.35)) == (0.35, 0.35, 0.7)
    with pytest.raises(ConfigError, match="pseudo.obj_thresh"):
        load_config(None, ["pseudo.obj_thresh=[0.1,0.2,0.3,0.4]"])


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
