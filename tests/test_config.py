"""params.yaml loading and validation."""

from pathlib import Path

import pytest

from leod_core.config import ConfigError
from flows.settings import load_config

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


def test_full_labels_replace_the_label_efficient_values():
    """LEOD's full-label dataset configs: time flip 0 (and the preset's L / steps) once subsample.ratio is 1."""
    sparse = load_config(None, ["data.sequence_length=10", "train.steps=50"])
    assert (sparse.data.sequence_length, sparse.data.augment.tflip, sparse.train.steps) == (10, 0.5, 50)
    for setting in ("wsod", "ssod"):
        full = load_config(None, ["data.sequence_length=10", "train.steps=50", f"subsample.setting={setting}",
                                  "subsample.ratio=1.0"])
        assert full.all_labels and (full.data.sequence_length, full.data.augment.tflip, full.train.steps) == (10, 0.0, 50)
    full = load_config(None, ["subsample.ratio=1.0", "full_labels.sequence_length=4", "full_labels.steps=70",
                              "full_labels.tflip=0.25"])
    assert (full.data.sequence_length, full.data.augment.tflip, full.train.steps) == (4, 0.25, 70)
    assert full.data.augment.hflip == sparse.data.augment.hflip  # nothing else changes
    with pytest.raises(ConfigError, match="full_labels.tflip"):
        load_config(None, ["full_labels.tflip=2"])


def test_retired_top_level_seed_is_ignored_with_a_warning(tmp_path, caplog) -> None:
    from leod_core.config import LeodConfig

    old = tmp_path / "params.yaml"
    old.write_text("rounds: 2\nseed: 3\n")
    with caplog.at_level("WARNING", logger="leod_core.config"):
        cfg = load_config(old)
    assert cfg.rounds == 2 and not hasattr(LeodConfig, "seed")
    assert "'seed' (in " in caplog.text and "train.seed" in caplog.text


def test_core_schema_knows_no_orchestration_keys():
    # leod_core reads no Prefect / MLflow / DVC / study settings: its schema refuses them, the pipeline's has them
    from leod_core import config as core
    from flows.settings import PipelineConfig

    with pytest.raises(ConfigError, match=r"^params: unknown key 'orchestration' \(in .*params.yaml\)$"):
        core.load_config(REPO / "params.yaml")
    cfg = load_config(REPO / "params.yaml")
    assert isinstance(cfg, PipelineConfig) and cfg.study.rounds == 2 and cfg.experiment_name() == "synth-wsod-0.05"
    assert not hasattr(core.load_config(None), "study")
