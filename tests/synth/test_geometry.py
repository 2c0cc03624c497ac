"""The synthetic camera at any sensor size and class count (``synth.height/width/num_classes``)."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from leod_core.cameras import camera_from_mapping, get_camera
from leod_core.config import ConfigError
from flows.settings import load_config
from leod_core.events.dat_io import read_dat
from leod_core.synth.presets import SynthPreset
from leod_core.synth.scene import CAR, OBJECT_KINDS, sample_scene
from leod_core.synth.simulator import (
    SynthGeometry, get_synth_preset, sequence_rng, sequence_specs, simulate_sequence, synth_geometry,
    write_synth_dataset,
)

# the scene statistics of the "micro" preset before it was made easier (2026-12-07), pinned here so the
# digest below keeps checking the renderer alone
TINY = SynthPreset(name="tiny", n_train=2, n_val=0, n_test=0, duration_s=1.0, objects_per_sequence=(3, 5))


def _digest(geometry: SynthGeometry | None = None) -> str:
    h = hashlib.sha256()
    for spec in sequence_specs(TINY, *([geometry] if geometry else [])):
        ev, bx = simulate_sequence(spec, sequence_rng(5, spec.split, spec.index))
        h.update(ev.tobytes())
        h.update(bx.tobytes())
    return h.hexdigest()[:16]


def test_the_synth_camera_renders_as_before():
    # digest of these two sequences computed with the code before synth had options (commit 3ea026f)
    assert _digest() == "de02d826d4f5cb95"
    assert _digest(SynthGeometry(120, 160, 2)) == "de02d826d4f5cb95"


def test_any_size_and_class_count(tmp_path):
    geometry = SynthGeometry(200, 260, 3)
    preset = dataclasses.replace(TINY, n_train=3, duration_s=1.5, objects_per_sequence=(6, 8))
    summaries = write_synth_dataset(tmp_path / "raw", preset, seed=1, geometry=geometry)
    assert [len(s.n_boxes_per_class) for s in summaries] == [3, 3, 3]
    assert all(sum(s.n_boxes_per_class[c] for s in summaries) > 0 for c in range(3))
    for s in summaries:
        dat = read_dat(tmp_path / "raw" / "train" / f"{s.name}_td.dat")
        ev = dat.events
        assert (dat.height, dat.width) == (200, 260)
        assert ev["x"].max() < 260 and ev["y"].max() < 200 and ev["x"].max() > 160 and ev["y"].max() > 120
        bx = np.load(tmp_path / "raw" / "train" / f"{s.name}_bbox.npy")
        assert set(bx["class_id"].tolist()) <= {0, 1, 2}
        assert (bx["x"] + bx["w"]).max() <= 260 and (bx["y"] + bx["h"]).max() <= 200


def test_extra_classes_are_other_kinds_of_the_two_shapes():
    preset = dataclasses.replace(TINY, objects_per_sequence=(300, 300), distractors_per_sequence=(0, 0))
    scene = sample_scene(np.random.default_rng(0), preset, 200, 260, num_classes=4)
    by_class = {c: [o for o in scene.objects if o.class_id == c] for c in range(4)}
    assert all(len(v) > 40 for v in by_class.values())  # drawn uniformly over the 4 classes
    width = {c: np.mean([o.shape.w for o in v]) for c, v in by_class.items()}
    assert width[2] > 1.4 * width[0]  # class 2: the car shape, 1.6 x larger
    assert type(by_class[3][0].shape) is type(by_class[1][0].shape)  # class 3: the pedestrian shape
    one = sample_scene(np.random.default_rng(0), preset, 64, 64, num_classes=1)
    assert {o.class_id for o in one.objects} == {CAR}
    with pytest.raises(ValueError, match=f"allowed: 1 to {len(OBJECT_KINDS)}"):
        sample_scene(np.random.default_rng(0), preset, 64, 64, num_classes=len(OBJECT_KINDS) + 1)


def test_synth_options_follow_the_camera_and_are_validated():
    cam = camera_from_mapping({"name": "c", "height": 200, "width": 260, "class_names": ["a", "b", "c"]})
    cfg = load_config(None)
    assert synth_geometry(cfg.synth, get_camera("synth")) == SynthGeometry(120, 160, 2)
    assert synth_geometry(cfg.synth, cam) == SynthGeometry(200, 260, 3)
    cfg = load_config(None, ["synth.height=64", "synth.num_classes=4"])
    assert synth_geometry(cfg.synth, cam) == SynthGeometry(64, 260, 4)
    from leod_core.config import _SYNTH_MAX_CLASSES  # noqa: PLC2701 (the schema's bound is the kinds table)
    assert _SYNTH_MAX_CLASSES == len(OBJECT_KINDS)
    for bad, key in (("synth.height=8", "synth.height"), ("synth.width=5000", "synth.width"),
                     (f"synth.num_classes={len(OBJECT_KINDS) + 1}", "synth.num_classes")):
        with pytest.raises(ConfigError, match=rf"params: {key}=.* is invalid"):
            load_config(None, [bad])
