"""Figures of the README and the documentation pages that no other test holds (issue 27, "claims and tests
agree").

Each test asserts a value in the code or the repository AND that the page stating it (README.md or a
hand-written page under docs/, where the README's details moved in issue 31) states that value, so the
two cannot drift apart silently: change one, and this file says which sentence of which page to update.
Cheap on purpose (no pipeline run, no training): a few seconds in all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: the pages the claims live on, relative to the repository
LOCKS_PAGE = "docs/explanation/reproducibility.md"  # the locked installs
UI_PAGE = "docs/tutorials/ui.md"  # the MLflow UI extra
SYNTH_PAGE = "docs/explanation/synthetic-camera.md"
FORMATS_PAGE = "docs/how-to/formats.md"
MODELS_PAGE = "docs/how-to/presets.md"  # model presets and sizes
MICRO_PAGE = "docs/explanation/reproducibility.md"  # the micro pipeline and what make verify checks


def _says(page: str, *phrases: str) -> None:
    """Every phrase appears in ``page`` (whitespace-insensitive: the pages wrap their lines)."""
    text = " ".join((REPO / page).read_text().split())
    for phrase in phrases:
        assert " ".join(phrase.split()) in text, f"{page} does not say {phrase!r}"


def _locked_packages(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if re.match(r"^[A-Za-z0-9_.-]+==", line))


def test_lock_package_counts() -> None:
    """"`requirements.lock`: N packages" and "`requirements-ui.lock` (N packages" are the files' entries."""
    _says(LOCKS_PAGE, f"`requirements.lock`: {_locked_packages(REPO / 'requirements.lock')} packages")
    _says(UI_PAGE, f"`requirements-ui.lock` ({_locked_packages(REPO / 'requirements-ui.lock')} packages")


def test_synthetic_camera_and_presets() -> None:
    """The synthetic camera's sensor and DVS model, and the sizes of the three dataset presets."""
    from leod_core.cameras import get_camera
    from leod_core.synth.presets import get_synth_preset

    cam = get_camera("synth")
    assert cam.sensor_hw == (120, 160) and cam.class_names == ("car", "ped")
    _says(SYNTH_PAGE, "a 160×120 sensor, two classes (car, pedestrian)")
    default, micro, small = (get_synth_preset(n) for n in ("default", "micro", "small"))
    assert default.step_us == 2000 and default.contrast_mean == 0.2 and default.refractory_us == 1000
    _says(SYNTH_PAGE, "at a 2 ms internal step", "contrast thresholds (mean 0.2) with a 1 ms refractory period")
    assert (default.n_train, default.n_val, default.n_test, default.duration_s) == (24, 6, 8, 10.0)
    assert (small.n_train, small.n_val, small.n_test, small.duration_s) == (16, 4, 6, 4.0)
    assert (micro.n_train, micro.n_val, micro.n_test, micro.duration_s) == (3, 1, 1, 2.5)
    _says(SYNTH_PAGE, "`default` = 24 train / 6 val / 8 test sequences of 10 s",
          "`micro` = 3 / 1 / 1 sequences of 2.5 s", "`small` = 16 / 4 / 6 sequences of 4 s")
    # the easier micro scene the detecting micro pipeline needs
    assert micro.objects_per_sequence == (5, 7) and micro.low_contrast_prob == 0.0 and micro.stop_prob == 0.0
    assert micro.distractors_per_sequence[1] == 1 and micro.hot_pixels[1] == 1
    _says(MICRO_PAGE,
          "5-7 objects per sequence, no low-contrast objects, no stops, at most 1 distractor and 1 hot pixel")


def test_import_chunk_size() -> None:
    from leod_core.events.prophesee_import import CHUNK_EVENTS

    assert CHUNK_EVENTS == 2 ** 20
    _says(FORMATS_PAGE, "streamed in chunks of 2^20 events")


@pytest.mark.parametrize("preset,camera,count,phrase", [
    ("nano", "synth", 1_115_093, "`nano` on `synth` (the default) has 1,115,093 parameters"),
    ("small", "gen4", 9_870_456, "9,870,456 on `gen4` (3 classes)"),
])  # small on gen1 (9,870,165, RVT's count): tests/model/test_presets.py::test_rvt_parameter_counts_at_gen1
def test_model_parameter_counts(preset: str, camera: str, count: int, phrase: str) -> None:
    from leod_core.model.presets import build_detector

    model = build_detector(preset, camera)
    assert sum(p.numel() for p in model.parameters()) == count
    _says(MODELS_PAGE, phrase)


def test_micro_configurations() -> None:
    """The plumbing micro config (fault tests) and the detecting one (smoke, verify, the end-to-end test)."""
    from flows.smoke import MICRO_DETECT_OVERRIDES, MICRO_OVERRIDES

    def final(overrides: list[str]) -> dict[str, str]:
        return dict(o.split("=", 1) for o in overrides)  # a later override wins, as apply_overrides does

    plumbing, detect = final(MICRO_OVERRIDES), final(MICRO_DETECT_OVERRIDES)
    assert plumbing["rounds"] == "1" and plumbing["train.steps"] == "12"
    assert detect["synth.preset"] == "micro" and detect["subsample.ratio"] == "0.2"
    assert (detect["rounds"], detect["train.steps"], detect["train.steps_self_train"]) == ("2", "250", "200")
    _says(MICRO_PAGE, "`MICRO_OVERRIDES` (12 training steps, 1 self-training round",
          "WSOD 20 % (`subsample.ratio=0.2`), 250 steps in round 0, 200 per self-training round, two "
          "self-training rounds")


def test_micro_hash_record() -> None:
    """verify/micro_hashes.json: one record, every stage of the 2-round DAG; the data stages' outputs."""
    from flows.verify import _data_stages
    from flows.stages import stage_order

    records = json.loads((REPO / "verify/micro_hashes.json").read_text())["platforms"]
    outputs = {sum(map(len, rec.values())) for rec in records.values()}
    assert all(set(rec) == set(stage_order(2)) for rec in records.values())
    assert _data_stages() == ["synth", "import", "subsample"]
    n_data = {sum(len(rec[s]) for s in _data_stages()) for rec in records.values()}
    assert outputs == {37} and n_data == {3}, (outputs, n_data)
    _says(MICRO_PAGE, f"its {outputs.pop()} outputs ({len(stage_order(2))} stages:", "the 3 outputs of the data stages")
