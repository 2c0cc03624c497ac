import json
from pathlib import Path

import pytest
import torch

from leod_core.cameras import get_camera
from leod_core.model.presets import PRESETS, build_detector

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("preset,expected", [("tiny", 4_405_141), ("small", 9_870_165), ("base", 18_536_469)])
def test_rvt_parameter_counts_at_gen1(preset, expected):
    model = build_detector(preset, "gen1")
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
def test_state_dict_matches_rvt_keys_and_shapes(preset):
    """Keys/shapes dumped from RVT's own YoloXDetector (Gen1 config): strict checkpoint compatibility."""
    ref = json.loads((FIXTURES / f"rvt_keys_{preset}.json").read_text())
    model = build_detector(preset, "gen1")
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert ours == ref["state_dict_shapes"]
    assert sum(p.numel() for p in model.parameters()) == ref["num_parameters"]
    # a state dict in RVT's layout loads strictly
    model.load_state_dict({k: torch.zeros(s) for k, s in ref["state_dict_shapes"].items()}, strict=True)


def test_nano_synth_builds_and_runs():
    cam = get_camera("synth")
    model = build_detector("nano", cam).eval()
    assert model.num_classes == 2 and model.preset == "nano" and model.camera == "synth"
    with torch.no_grad():
        feats, states = model.forward_backbone(torch.rand(1, 20, *cam.input_hw))
        out = model.forward_detect(feats)
    assert out.preds.shape == (1, 16 * 20 + 8 * 10 + 4 * 5, 7)
    assert len(states) == 4


def test_unknown_preset_or_camera():
    with pytest.raises(ValueError, match="preset"):
        build_detector("huge", "gen1")
    with pytest.raises(ValueError, match="camera"):
        build_detector("nano", "gen9")
    assert set(PRESETS) == {"nano", "tiny", "small", "base"}
