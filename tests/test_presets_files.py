"""presets/gen1.yaml and presets/gen4.yaml are complete, valid params files with LEOD's values."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from leod_core.config import load_config

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "presets"
# sections a preset leaves to the schema defaults: the study runs on its own synthetic data
NOT_IN_PRESETS = ("study",)


def _keys(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        out |= _keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return out


@pytest.mark.parametrize("name", ["gen1", "gen4"])
def test_preset_is_complete(name):
    """Every key of params.yaml is written out, so the file can replace params.yaml as it is
    (a key added to params.yaml must be added to the presets too)."""
    written = _keys(OmegaConf.to_container(OmegaConf.load(PRESETS / f"{name}.yaml")))
    expected = {k for k in _keys(OmegaConf.to_container(OmegaConf.load(ROOT / "params.yaml")))
                if k.split(".")[0] not in NOT_IN_PRESETS}
    assert written == expected


def test_gen1_values():
    cfg = load_config(PRESETS / "gen1.yaml")
    assert cfg.dataset.camera == "gen1" and cfg.model.preset == "small"
    assert (cfg.subsample.setting, cfg.subsample.ratio) == ("wsod", 0.01)
    assert (cfg.data.sequence_length, cfg.data.batch_size, cfg.train.devices) == (21, 8, 1)
    assert (cfg.train.steps, cfg.train.lr) == (200_000, 2e-4)
    assert (cfg.train.steps_self_train, cfg.train.lr_self_train) == (150_000, 5e-4)
    assert (cfg.train.pct_start, cfg.train.div_factor, cfg.train.final_div_factor) == (0.005, 20.0, 10_000.0)
    assert cfg.per_class(cfg.pseudo.obj_thresh) == (0.6, 0.3)
    assert cfg.per_class(cfg.pseudo.cls_thresh) == (0.6, 0.3)
    assert cfg.per_class(cfg.loss.ignore_bbox_thresh) == (0.7, 0.35)
    assert (cfg.eval.conf_threshold, cfg.eval.nms_iou, cfg.eval.batch_size) == (0.001, 0.45, 16)
    assert cfg.pseudo.conf_threshold == 0.01 and cfg.pseudo.tta.hflip and cfg.pseudo.tta.tflip
    t = cfg.pseudo.tracker
    assert (t.iou_threshold, t.q, t.min_conf, t.min_track_len, t.inpaint) == (0.45, 0.9, 0.55, 6, True)
    assert cfg.data.augment.tflip == 0.5 and cfg.experiment_name() == "gen1-wsod-0.01"


def test_gen4_values():
    cfg = load_config(PRESETS / "gen4.yaml")
    assert cfg.dataset.camera == "gen4" and cfg.model.preset == "small"
    assert (cfg.data.sequence_length, cfg.data.batch_size, cfg.train.devices) == (10, 12, 2)
    assert (cfg.train.steps, cfg.train.lr) == (200_000, 3.46e-4)
    assert (cfg.train.steps_self_train, cfg.train.lr_self_train) == (150_000, 5e-4)
    # WSOD variants, expanded LEOD-style to [ped, cyc, car]
    assert cfg.per_class(cfg.pseudo.obj_thresh) == (0.5, 0.5, 0.6)
    assert cfg.per_class(cfg.pseudo.cls_thresh) == (0.5, 0.5, 0.6)
    assert cfg.per_class(cfg.loss.ignore_bbox_thresh) == (0.55, 0.55, 0.7)
    assert (cfg.eval.conf_threshold, cfg.eval.batch_size) == (0.001, 8)
    assert cfg.pseudo.tracker.min_track_len == 6 and cfg.experiment_name() == "gen4-wsod-0.01"


@pytest.mark.parametrize("name", ["gen1", "gen4"])
def test_preset_never_points_raw_at_dataset(name):
    """DVC deletes the synth stage's out (paths.synth) before re-running it: the real source folder
    (paths.raw) and the imported dataset must never be that folder."""
    cfg = load_config(PRESETS / f"{name}.yaml")
    assert Path(cfg.paths.raw) != Path(cfg.paths.dataset)
    assert Path(cfg.paths.synth) not in (Path(cfg.paths.raw), Path(cfg.paths.dataset))
