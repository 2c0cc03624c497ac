"""The labelling loop end to end through ``leod``: suggest-frames -> export-labels -> import-labels, with a
fake detector standing in for round 0's checkpoint (tests/pseudo_fakes.py), on two blob sequences."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from pseudo_fakes import BlobDetector

import leod_core.train.checkpoint as checkpoint
from flows.cli import main
from leod_core.cameras import get_camera
from leod_core.events.h5_store import write_representations
from leod_core.labelling.frame_list import read_frame_list
from leod_core.labels.table import read_labels, validate_labels, write_labels
from leod_core.layout import SequencePaths

CAM = get_camera("synth")
N = 80  # 4 s of 50 ms representations
LABEL_FRAMES = range(4, N, 2)
MARKED = {"a": 20, "b": 50}  # the repr where the detector half sees a second object


class HalfSeeingDetector(BlobDetector):
    """The blob detector; where the blob is drawn brighter (value 5) it also reports a second box 40 px
    below, scored 0.5 x 0.5: under the car thresholds (0.6), so only the uncertainty signal sees it."""

    def predict(self, features, conf_threshold=0.1, nms_iou=0.45):
        out = super().predict(features, conf_threshold, nms_iou)
        for i, img in enumerate(features[2]):
            if len(out[i]) and float(img.max()) == 5.0:
                extra = out[i][:1].copy()
                extra[0, 1] += 40
                extra[0, 5:7] = 0.5
                out[i] = np.concatenate([out[i], extra])
        return out


def write_sequence(root, name):
    seq = SequencePaths(root / "train" / name, CAM)
    seq.repr_dir.mkdir(parents=True)
    frames = np.zeros((N, 20, *CAM.repr_hw), np.uint8)
    for r in range(N):
        frames[r, 0, 10:18, 2 + r:10 + r] = 5 if r == MARKED[name] else 3
    write_representations(seq.repr_h5, list(frames), CAM.repr_hw)
    np.save(seq.repr_timestamps, (np.arange(N, dtype=np.int64) + 1) * 50_000)
    np.save(seq.objframe_idx_2_repr_idx, np.asarray(LABEL_FRAMES, dtype=np.int64))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    for name in MARKED:
        write_sequence(root / "data", name)
    (root / "art/round_0/model").mkdir(parents=True)
    (root / "art/round_0/model/last.pt").write_bytes(b"")
    gt = validate_labels(pd.DataFrame([dict(sequence="a", frame_idx=12, t=13 * 50_000, x=14.0, y=10.0, w=8.0, h=8.0,
                                            class_id=0, class_confidence=1.0, objectness=1.0, is_gt=True,
                                            track_id=-1, source="gt")]))
    write_labels(gt, root / "art/round_0/labels/labels.parquet")
    mp = pytest.MonkeyPatch()
    mp.setattr(checkpoint, "load_detector", lambda path, map_location="cpu", **_: HalfSeeingDetector())
    torch.set_num_threads(1)
    yield root
    mp.undo()


def leod(root, *argv):
    # the human ground truth in the test's folder: never the repository's labels/human.parquet
    return main([*argv, "--params", "params.yaml", "-S", f"paths.dataset={root}/data",
                 "-S", f"paths.artifacts={root}/art", "-S", f"paths.human_labels={root}/human_gt.parquet"])


@pytest.fixture(scope="module")
def suggested(world):
    assert leod(world, "suggest-frames", "--round", "1", "--budget", "6", "--device", "cpu") == 0
    return world / "art/labelling/round_1/suggestions.parquet"


def test_suggest_frames_ranks_the_half_seen_frames_first(world, suggested, capsys):
    df = read_frame_list(suggested)
    assert len(df) == 6 and df["rank"].tolist() == list(range(1, 7))
    assert {"score", "reason", "disagreement", "rejected", "inpainted", "uncertain", "t"} <= set(df.columns)
    top = df.head(2)
    assert sorted(zip(top.sequence, top.frame_idx)) == [("a", 20), ("b", 50)]
    assert all("under the thresholds" in r for r in top.reason)
    assert (df.frame_idx.isin(LABEL_FRAMES)).all() and not ((df.sequence == "a") & (df.frame_idx == 12)).any()
    for _, g in df.groupby("sequence"):  # 6 picks fit in two 4 s sequences 1 s apart
        assert np.all(np.diff(np.sort(g.t.to_numpy())) >= 1_000_000)
    # deterministic: a second run writes the same bytes
    first = suggested.read_bytes()
    assert leod(world, "suggest-frames", "--round", "1", "--budget", "6", "--device", "cpu") == 0
    assert suggested.read_bytes() == first
    assert "suggest-frames round 1: 6 of 75 unlabelled frames in 2 sequences" in capsys.readouterr().out


def test_suggestions_sheet_shows_the_picks_with_the_rounds_boxes(world, suggested, exported, tmp_path):
    """suggestions.png beside the frame list: a tile per pick (6: 4 columns, 2 rows), the events of the
    frame, and once round 1 is pseudo-labelled its boxes in red."""
    from PIL import Image

    from leod_core.viz.frames import PRED_COLOR
    from leod_core.viz.suggestions import suggestions_sheet

    scale = -(-180 // CAM.repr_hw[0])
    w, h = CAM.repr_hw[1] * scale, CAM.repr_hw[0] * scale + 2 * 12 + 4
    sheet = np.asarray(Image.open(suggested.with_suffix(".png")).convert("RGB"))
    assert sheet.shape == (2 * (h + 4) - 4, 4 * (w + 4) - 4, 3)
    first = sheet[:CAM.repr_hw[0] * scale, :w]
    assert (first != 255).any(axis=2).sum() == 8 * 8 * scale * scale  # the 8x8 blob of events, scaled
    picks = read_frame_list(suggested)
    boxes = read_labels(world / "art/round_1/labels/labels.parquet")
    red = np.all(np.asarray(Image.open(suggestions_sheet(picks, world / "data", CAM, tmp_path / "s.png", boxes))
                            .convert("RGB")) == PRED_COLOR, axis=2)
    assert red[:CAM.repr_hw[0] * scale, :w].sum() > 0 and not np.all(sheet == PRED_COLOR, axis=2).any()


@pytest.mark.parametrize("argv, message", [
    (["--round", "0", "--budget", "3"], "--round must be >= 1"),
    (["--round", "1", "--budget", "0"], "--budget must be >= 1, got 0"),
    (["--round", "2", "--budget", "3"], "round 1's weights not found"),
])
def test_suggest_frames_bad_input_in_one_line(world, capsys, argv, message):
    assert leod(world, "suggest-frames", *argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("leod suggest-frames: error: ") and message in err[0]


@pytest.fixture(scope="module")
def exported(world, suggested):
    assert leod(world, "pseudo-label", "--round", "1", "--device", "cpu") == 0
    assert leod(world, "export-labels", "--round", "1", "--frames", str(suggested)) == 0
    return world / "art/labelling/round_1/export"


def expected_boxes(world, frames):
    table = read_labels(world / "art/round_1/labels/labels.parquet")
    keys = set(zip(frames.sequence, frames.frame_idx))
    sel = np.array([k in keys for k in zip(table.sequence, table.frame_idx)]) & (table.class_id != 1024).to_numpy()
    return table[sel].reset_index(drop=True)


@pytest.mark.parametrize("name", ["label_studio.json", "coco.json", "cvat/a.xml"])
def test_loop_round_trip_through_every_format(world, suggested, exported, name, capsys):
    """export -> import without edits: the person's table holds the round's boxes exactly; the merged
    table swaps them in for the pseudo rows of those frames."""
    frames = read_frame_list(suggested)
    if name.startswith("cvat"):
        frames = frames[frames.sequence == "a"]
    assert leod(world, "import-labels", str(exported / name), "--round", "1") == 0
    human = read_labels(world / "art/labelling/round_1/human.parquet")
    want = expected_boxes(world, frames)
    assert len(want) >= len(frames)  # every suggested frame has its blob
    cols = ["sequence", "frame_idx", "t", "x", "y", "w", "h", "class_id", "track_id"]
    pd.testing.assert_frame_equal(human[cols], want[cols])
    assert (human.source == "human").all() and human.is_gt.all()
    merged = read_labels(world / "art/labelling/round_1/labels.parquet")
    pseudo = read_labels(world / "art/round_1/labels/labels.parquet")
    keys = set(zip(frames.sequence, frames.frame_idx))
    on = np.array([k in keys for k in zip(merged.sequence, merged.frame_idx)])
    assert (merged.source[on] == "human").all() and len(merged) == len(pseudo) - len(
        pseudo[[k in keys for k in zip(pseudo.sequence, pseudo.frame_idx)]]) + len(human)
    assert "import-labels round 1: " in capsys.readouterr().out


def test_import_refuses_in_one_line(world, exported, tmp_path, capsys):
    doc = json.loads((exported / "coco.json").read_text())
    doc["annotations"][0]["bbox"][1] = -20.0
    bad = tmp_path / "coco.json"
    bad.write_text(json.dumps(doc))
    (tmp_path / "manifest.json").write_text((exported / "manifest.json").read_text())
    assert leod(world, "import-labels", str(bad), "--round", "1") == 1
    err = capsys.readouterr().err.strip().splitlines()
    img = doc["images"][doc["annotations"][0]["image_id"] - 1]
    assert len(err) == 1 and err[0].startswith(f"leod import-labels: error: {bad}: frame "
                                               f"{img['sequence']}@{img['frame_idx']} ")
    assert "outside the 320x240 image" in err[0]
    assert leod(world, "import-labels", str(exported / "coco.json"), "--round", "2") == 1
    assert "the export is of round 1, not --round 2" in capsys.readouterr().err


def test_export_whole_round_and_bad_frames(world, exported, tmp_path, capsys):
    out = tmp_path / "whole"
    assert leod(world, "export-labels", "--round", "1", "--out", str(out), "--no-video", "--formats", "coco") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["frames"]) == 2 * len(LABEL_FRAMES) - 1 and manifest["videos"] == {}
    assert sorted(p.name for p in out.iterdir()) == ["coco.json", "images", "manifest.json"]
    capsys.readouterr()
    frames = tmp_path / "frames.parquet"
    pd.DataFrame({"sequence": ["zz"], "frame_idx": [3]}).to_parquet(frames)
    assert leod(world, "export-labels", "--round", "1", "--frames", str(frames), "--out", str(tmp_path / "x")) == 1
    assert "sequence 'zz' is not in" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert leod(world, "export-labels", "--round", "3") == 1
    assert "round 3's labels not found" in capsys.readouterr().err


def _returned_coco(exported, folder, images):
    """A COCO file returned for the export: ``images`` maps an exported image's index to the annotations
    (taken from the export's image of that index, or a list of other images' annotations) it comes back with."""
    doc = json.loads((exported / "coco.json").read_text())
    anns = {img["id"]: [a for a in doc["annotations"] if a["image_id"] == img["id"]] for img in doc["images"]}
    out_imgs, out_anns = [], []
    for i, src in images.items():
        img = doc["images"][i]
        out_imgs.append(img)
        for a in [x for j in src for x in anns[doc["images"][j]["id"]]]:
            out_anns.append({**a, "id": len(out_anns) + 1, "image_id": img["id"]})
    folder.mkdir()
    (folder / "manifest.json").write_text((exported / "manifest.json").read_text())
    (folder / "coco.json").write_text(json.dumps({**doc, "images": out_imgs, "annotations": out_anns}))
    return folder / "coco.json", [(img["sequence"], img["frame_idx"]) for img in doc["images"]]


def test_import_merges_into_the_human_table(world, exported, tmp_path, capsys):
    """Two imports into one human table: the second replaces the frames it reviewed (a frame now left empty
    loses its boxes, yet stays reviewed), the other frames of the first are kept."""
    from leod_core.labels.human import read_human

    table = tmp_path / "labels/human.parquet"

    def imp(path):
        return leod(world, "import-labels", str(path), "--round", "1", "--table", str(table),
                    "--out", str(path.parent / "h.parquet"), "--merged", str(path.parent / "m.parquet"))

    first, keys = _returned_coco(exported, tmp_path / "first", {0: [0], 1: [1], 2: []})  # frame 2: nothing there
    assert imp(first) == 0
    h = read_human(table)
    f0, f1, f2 = keys[:3]
    assert h.keys == {f0, f1, f2} and set(zip(h.boxes.sequence, h.boxes.frame_idx)) == {f0, f1}
    assert list(zip(h.empty_frames.sequence, h.empty_frames.frame_idx)) == [f2]
    assert (h.boxes.source == "human").all() and h.boxes.is_gt.all()
    assert len(read_labels(table)) == len(h.boxes)  # a plain label table to every other reader
    b0 = h.boxes[(h.boxes.sequence == f0[0]) & (h.boxes.frame_idx == f0[1])].reset_index(drop=True)
    assert "human ground truth -> " in capsys.readouterr().out

    second, _ = _returned_coco(exported, tmp_path / "second", {1: [], 2: [0]})  # frame 1 emptied, frame 2 boxed
    assert imp(second) == 0
    h2 = read_human(table)
    assert h2.keys == {f0, f1, f2}
    assert set(zip(h2.boxes.sequence, h2.boxes.frame_idx)) == {f0, f2}
    assert list(zip(h2.empty_frames.sequence, h2.empty_frames.frame_idx)) == [f1]
    pd.testing.assert_frame_equal(
        h2.boxes[(h2.boxes.sequence == f0[0]) & (h2.boxes.frame_idx == f0[1])].reset_index(drop=True), b0)
    on2 = h2.boxes[(h2.boxes.sequence == f2[0]) & (h2.boxes.frame_idx == f2[1])]
    assert len(on2) == len(b0) and np.array_equal(on2[["x", "y", "w", "h"]].to_numpy(), b0[["x", "y", "w", "h"]].to_numpy())


def test_pseudo_label_takes_the_human_table_as_ground_truth(world, exported, tmp_path, capsys):
    """``leod pseudo-label`` with a person's table: their boxes are the ground truth of the frames they
    reviewed (no pseudo box there), a frame left empty holds nothing, round 0's GT stays as it is."""
    from leod_core.labels.human import HumanLabels, write_human

    base = read_labels(world / "art/round_1/labels/labels.parquet")  # the round without a person's labels
    boxed, empty = ("a", 30), ("b", 40)
    for key in (boxed, empty):
        assert ((base.sequence == key[0]) & (base.frame_idx == key[1]) & (base.source == "pseudo")).any()
    box = validate_labels(pd.DataFrame([dict(sequence="a", frame_idx=30, t=31 * 50_000, x=50.0, y=40.0, w=10.0,
                                             h=12.0, class_id=1, class_confidence=1.0, objectness=1.0, is_gt=True,
                                             track_id=7, source="human")]))
    table = tmp_path / "human.parquet"
    write_human(HumanLabels(box, [(*boxed, 31 * 50_000), (*empty, 41 * 50_000)]), table)
    out = tmp_path / "round_1"
    assert main(["pseudo-label", "--round", "1", "--device", "cpu", "--out", str(out), "--params", "params.yaml",
                 "-S", f"paths.dataset={world}/data", "-S", f"paths.artifacts={world}/art",
                 "-S", f"paths.human_labels={table}"]) == 0
    df = read_labels(out / "labels.parquet")
    on = df[(df.sequence == "a") & (df.frame_idx == 30)].reset_index(drop=True)
    pd.testing.assert_frame_equal(on, box)
    assert not ((df.sequence == "b") & (df.frame_idx == 40)).any()
    gt = df[df.is_gt].reset_index(drop=True)
    kept = read_labels(world / "art/round_0/labels/labels.parquet")
    assert list(gt.source) == ["gt", "human"] and gt.iloc[:1].equals(kept)
    assert (df.source == "pseudo").sum() > 40
    assert "gt 1 + human 1, pseudo" in capsys.readouterr().out
