import numpy as np
import pandas as pd
import pytest
from PIL import Image

from leod_core.viz.frames import GT_COLOR, PRED_COLOR, render_events, save_frame
from leod_core.viz.plots import plot_pr_curves, plot_quality, plot_rounds


def test_render_events_colours_on_off_and_background():
    rep = np.zeros((20, 4, 5), np.uint8)
    rep[12, 1, 1] = 10  # ON
    rep[3, 2, 2] = 10  # OFF
    img = np.asarray(render_events(rep))
    assert img.shape == (4, 5, 3)
    assert tuple(img[0, 0]) == (255, 255, 255)
    assert img[1, 1, 2] > img[1, 1, 0]  # blue
    assert img[2, 2].max() < 60  # dark
    with pytest.raises(ValueError):
        render_events(np.zeros((3, 4, 5), np.uint8))


def test_save_frame_draws_gt_and_predictions(tmp_path):
    rep = np.zeros((20, 40, 50), np.uint8)
    path = save_frame(tmp_path / "f.png", rep, np.array([[5, 5, 20, 10, 0, 1]]), np.array([[20, 20, 10, 10, 1, 0.8, 1]]),
                      ("car", "ped"), min_height=80)
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (80, 100, 3)  # scaled x2
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert GT_COLOR in colours and PRED_COLOR in colours


def test_plots_write_pngs(tmp_path):
    curves = {"car": {"recall": np.linspace(0, 1, 101).tolist(), "precision": np.linspace(1, 0, 101).tolist()}}
    assert Image.open(plot_pr_curves(curves, tmp_path / "pr.png", ap={"car": 0.5})).size[0] > 100
    df = pd.DataFrame({"round": [0, 0, 1, 1], "AP": [0.3, 0.32, 0.35, 0.36],
                       "pseudo_precision": [np.nan, np.nan, 0.7, 0.72]})
    assert plot_rounds(df, tmp_path / "rounds.png").stat().st_size > 0
    with pytest.raises(ValueError, match="AP"):
        plot_rounds(df.drop(columns="AP"), tmp_path / "x.png")
    q = {"per_class": {"car": {"recall@0.5": 0.8, "precision@0.5": 0.7, "AP": 0.5}, "ped": {"recall@0.5": 0.4}}}
    assert plot_quality(q, tmp_path / "q.png").stat().st_size > 0


def test_plots_leave_pyplot_state_alone(tmp_path):
    import matplotlib
    backend = matplotlib.get_backend()
    plot_pr_curves({}, tmp_path / "empty.png")
    assert matplotlib.get_backend() == backend
