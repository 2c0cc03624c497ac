"""presets/gen1.yaml and presets/gen4.yaml: overlays on params.yaml that merge into LEOD's full configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from flows.preset import apply_preset
from leod_core.config import BASE_KEY, ConfigError, config_to_dict
from flows.settings import load_config

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "presets"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NAMES = ["gen1", "gen4"]


def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def _full(name: str) -> dict:
    """The preset's config as loaded when the presets were complete files (dumped before the change)."""
    return json.loads((FIXTURES / f"presets_{name}_full.json").read_text())


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """params.yaml and presets/ in a temporary folder (the overlays' ``base: ../params.yaml`` resolves there)."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(PRESETS, tmp_path / "presets")
    return tmp_path


@pytest.mark.parametrize("name", NAMES)
def test_merged_overlay_equals_the_former_full_preset(name):
    assert config_to_dict(load_config(PRESETS / f"{name}.yaml")) == _full(name)


@pytest.mark.parametrize("name", NAMES)
def test_overlay_holds_only_keys_that_differ_from_params(name):
    """A key equal to params.yaml's value would go stale silently when the default changes."""
    overlay = OmegaConf.to_container(OmegaConf.load(PRESETS / f"{name}.yaml"))
    assert overlay.pop(BASE_KEY) == "../params.yaml"
    defaults = _flat(OmegaConf.to_container(OmegaConf.load(ROOT / "params.yaml")))
    same = {k: v for k, v in _flat(overlay).items() if k not in defaults or defaults[k] == v}
    assert same == {}


@pytest.mark.parametrize("name", NAMES)
def test_key_added_to_params_reaches_the_merged_preset(repo_copy, name):
    params = repo_copy / "params.yaml"
    without = OmegaConf.load(params)
    del without.eval["num_vis_frames"]  # as if params.yaml did not have the key yet: the schema default
    OmegaConf.save(without, params)
    assert load_config(repo_copy / "presets" / f"{name}.yaml").eval.num_vis_frames == 6
    without.eval.num_vis_frames = 9  # the key is added to params.yaml (with a non-default value)
    OmegaConf.save(without, params)
    assert load_config(repo_copy / "presets" / f"{name}.yaml").eval.num_vis_frames == 9


def test_overrides_apply_on_top_of_the_overlay():
    cfg = load_config(PRESETS / "gen1.yaml", ["train.threads=3", "rounds=1"])
    assert (cfg.train.threads, cfg.rounds, cfg.dataset.camera) == (3, 1, "gen1")


def test_unknown_key_in_overlay_is_one_line_naming_key_and_file(repo_copy):
    overlay = repo_copy / "presets" / "gen1.yaml"
    overlay.write_text(overlay.read_text().replace("\ntrain:\n", "\ntrain:\n  nonsense: 1\n"))
    with pytest.raises(ConfigError) as exc:
        load_config(overlay)
    msg = str(exc.value)
    assert "train.nonsense" in msg and str(overlay) in msg and "\n" not in msg


@pytest.mark.parametrize("base, expected", [
    ("nope.yaml", "not found"), ("gen1.yaml", "already an overlay"), ("[1, 2]", "invalid"),
    ("'x'\nrounds: [", "not valid YAML")])
def test_bad_base_is_one_line(repo_copy, base, expected):
    overlay = repo_copy / "presets" / "gen1.yaml"
    overlay.write_text(f"{BASE_KEY}: {base}\n")
    with pytest.raises(ConfigError, match=expected) as exc:
        load_config(overlay)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", NAMES)
def test_applied_preset_is_the_full_config_for_dvc(repo_copy, name):
    """``python -m flows.preset``: params.yaml gets every key (DVC reads it), loading to the same config."""
    params = repo_copy / "params.yaml"
    apply_preset(repo_copy / "presets" / f"{name}.yaml", params)
    written = OmegaConf.to_container(OmegaConf.load(params))
    assert written.pop("applied_preset") == f"presets/{name}.yaml"
    assert written == _full(name)
    assert config_to_dict(load_config(params)) == _full(name)
    # the same preset over its applied file changes nothing: `--params presets/<name>.yaml` keeps working
    assert config_to_dict(load_config(repo_copy / "presets" / f"{name}.yaml")) == _full(name)
    assert f"last_round: {_full(name)['rounds']}" in (repo_copy / "rounds.yaml").read_text()


def test_presets_never_stack(repo_copy):
    """An overlay on another preset's values would keep that preset's values of the keys it leaves out."""
    params = repo_copy / "params.yaml"
    apply_preset(repo_copy / "presets" / "gen1.yaml", params)
    with pytest.raises(ConfigError, match="presets/gen1.yaml applied"):
        load_config(repo_copy / "presets" / "gen4.yaml")
    with pytest.raises(ConfigError, match="git checkout"):
        apply_preset(repo_copy / "presets" / "gen4.yaml", params)


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


@pytest.mark.parametrize("name, L, full_L", [("gen1", 21, 21), ("gen4", 10, 5)])
def test_full_label_runs_get_leods_full_label_config(name, L, full_L):
    """LEOD config/dataset/gen1.yaml, gen4.yaml: prob_tflip 0 and L 21 / 5; RVT's 400k steps on full data."""
    sparse = load_config(PRESETS / f"{name}.yaml")
    assert (sparse.data.sequence_length, sparse.data.augment.tflip, sparse.train.steps) == (L, 0.5, 200000)
    full = load_config(PRESETS / f"{name}.yaml", ["subsample.ratio=1.0"])
    assert (full.data.sequence_length, full.data.augment.tflip, full.train.steps) == (full_L, 0.0, 400000)
