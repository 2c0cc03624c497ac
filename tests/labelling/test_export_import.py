"""export-labels' files read back by independent readers, and export -> import round trips (core level)."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pseudo_fakes import write_blob_sequence

from leod_core.cameras import get_camera
from leod_core.labelling.export import export_frames
from leod_core.labelling.importing import detect_format, human_table, merge_human, read_returned
from leod_core.labelling.manifest import find_manifest, read_manifest
from leod_core.labels.table import validate_labels

CAM = get_camera("gen4")  # downsampled by 2: image pixels = sensor pixels x 0.5 x scale
SCALE = 3


def row(seq, f, x, y, w, h, cls=0, conf=0.8, obj=0.7, tid=-1, source="pseudo"):
    return dict(sequence=seq, frame_idx=f, t=(f + 1) * 50_000, x=x, y=y, w=w, h=h, class_id=cls,
                class_confidence=conf, objectness=obj, is_gt=source == "gt", track_id=tid, source=source)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelling")
    for name in ("s1", "s2"):
        write_blob_sequence(root / "data", name, CAM, n=12, gt_frames=range(0, 12, 2))
    rng = np.random.default_rng(0)
    rows = []
    for seq, frames in (("s1", (2, 4, 6)), ("s2", (4, 8))):
        for f in frames:  # a tracked car moving right, an untracked pedestrian, odd float32 coordinates
            rows.append(row(seq, f, 100.0 + 3 * f + np.float32(rng.random()), 80.123456, 61.7, 40.3, tid=7))
            rows.append(row(seq, f, np.float32(rng.uniform(0, 500)), np.float32(rng.uniform(0, 300)), 33.33, 77.77,
                            cls=1, conf=0.5, obj=0.9))
    rows.append(row("s1", 2, 10, 10, 20, 20, cls=1024))  # an ignore box: not exported
    rows.append(row("s1", 10, 10, 10, 20, 20))  # a frame not exported
    table = validate_labels(pd.DataFrame(rows))
    frames = pd.DataFrame({"sequence": ["s2", "s1", "s1", "s1", "s2", "s2"], "frame_idx": [4, 6, 2, 4, 8, 0]})
    r = export_frames(frames, table, root / "data", CAM, root / "export", round_idx=1, scale=SCALE, fps=5.0)
    expected = table[table.frame_idx.isin([2, 4, 6, 8]) & (table.class_id != 1024)].reset_index(drop=True)
    return r, expected, table


def test_layout_manifest_images_and_videos(export):
    r, expected, _ = export
    out, m = r.out, r.manifest
    h, w = CAM.repr_hw[0] * SCALE, CAM.repr_hw[1] * SCALE
    assert m.image_hw == (h, w) and m.pixel_scale == 0.5 * SCALE and m.round == 1
    assert [(f.sequence, f.frame_idx, f.video_frame) for f in m.frames] == \
        [("s1", 2, 0), ("s1", 4, 1), ("s1", 6, 2), ("s2", 0, 0), ("s2", 4, 1), ("s2", 8, 2)]
    assert m.frames[0].t == 3 * 50_000
    for f in m.frames:
        with Image.open(out / f.image) as img:
            assert img.size == (w, h)
    assert r.boxes == len(expected) and r.clipped == 0
    import av

    for seq in ("s1", "s2"):
        with av.open(str(out / m.videos[seq])) as container:
            frames = list(container.decode(video=0))
        assert len(frames) == 3 and (frames[0].height, frames[0].width) == (h, w)
    assert sorted(p.name for p in out.iterdir()) == ["coco.json", "cvat", "images", "label_studio.json",
                                                     "label_studio_config.xml", "manifest.json", "video"]
    assert read_manifest(out / "manifest.json") == m


def test_coco_read_by_pycocotools(export):
    COCO = pytest.importorskip("pycocotools.coco").COCO
    r, expected, _ = export
    coco = COCO(str(r.out / "coco.json"))
    assert sorted(c["name"] for c in coco.loadCats(coco.getCatIds())) == sorted(CAM.class_names)
    assert len(coco.getImgIds()) == 6 and len(coco.getAnnIds()) == len(expected)
    [img] = [i for i in coco.loadImgs(coco.getImgIds()) if i["file_name"] == "images/s2/000008.png"]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
    want = expected[(expected.sequence == "s2") & (expected.frame_idx == 8)]
    s = 0.5 * SCALE
    got = sorted((a["bbox"], coco.loadCats(a["category_id"])[0]["name"], a["attributes"]["track_id"]) for a in anns)
    assert got == sorted(([float(np.float64(x) * s), float(np.float64(y) * s), float(np.float64(w) * s),
                           float(np.float64(h) * s)], CAM.class_names[c], t)
                         for x, y, w, h, c, t in want[["x", "y", "w", "h", "class_id", "track_id"]].itertuples(index=False))
    assert sorted(a["score"] for a in anns) == pytest.approx([0.5 * 0.9, 0.8 * 0.7])


def test_cvat_xml_parsed_independently(export):
    """Parse CVAT for video 1.1 by its documented layout, without the writer's reader."""
    r, expected, _ = export
    root = ET.parse(r.out / "cvat" / "s1.xml").getroot()
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    assert root.findtext("meta/task/size") == "3" and root.findtext("meta/task/source") == "s1.mp4"
    assert [n.text for n in root.findall("meta/task/labels/label/name")] == list(CAM.class_names)
    shown = []
    for track in root.findall("track"):
        boxes = track.findall("box")
        frames = [int(b.get("frame")) for b in boxes]
        assert frames == sorted(frames) and all(b.get("keyframe") == "1" for b in boxes)
        # a track ends with an 'outside' box unless its last box is on the video's last frame
        assert boxes[-1].get("outside") == "1" or frames[-1] == 2
        for b in boxes:
            if b.get("outside") == "0":
                shown.append((track.get("id"), track.get("label"), int(b.get("frame")),
                              float(b.get("xbr")) - float(b.get("xtl"))))
    want = expected[expected.sequence == "s1"]
    assert len(shown) == len(want)
    # the tracked car is one track over video frames 0, 1, 2 with leod's id
    assert sorted(f for tid, label, f, _ in shown if tid == "7") == [0, 1, 2]
    assert {label for tid, label, _, _ in shown if tid == "7"} == {CAM.class_names[0]}
    assert len({tid for tid, _, _, _ in shown}) == 1 + 3  # three one-box pedestrian tracks


def test_label_studio_tasks(export):
    r, expected, _ = export
    tasks = json.loads((r.out / "label_studio.json").read_text())
    assert len(tasks) == 6 and all(t["predictions"][0]["model_version"] == "leod round 1" for t in tasks)
    regions = [g for t in tasks for g in t["predictions"][0]["result"]]
    assert len(regions) == len(expected)
    v = regions[0]["value"]
    assert 0 <= v["x"] <= 100 and v["rectanglelabels"][0] in CAM.class_names
    assert "RectangleLabels" in (r.out / "label_studio_config.xml").read_text()


@pytest.mark.parametrize("name", ["label_studio.json", "cvat/s1.xml", "cvat/s2.xml", "coco.json"])
def test_round_trip_reproduces_the_boxes_exactly(export, name):
    r, expected, table = export
    path = r.out / name
    manifest = read_manifest(find_manifest(path))
    returned = read_returned(path, manifest)
    human = human_table(returned, manifest, path)
    want = expected if not name.startswith("cvat") else expected[expected.sequence == name[5:7]]
    cols = ["sequence", "frame_idx", "t", "x", "y", "w", "h", "class_id"]
    key = ["sequence", "frame_idx", "class_id", "x"]
    got = human.sort_values(key).reset_index(drop=True)
    exp = want.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[cols], exp[cols])  # bit for bit: float32 columns compared exactly
    assert (got.source == "human").all() and got.is_gt.all() and (got.objectness == 1).all()
    tracked = exp.track_id >= 0
    assert (got.track_id[tracked] == exp.track_id[tracked]).all()
    # merged into the round's table: the reviewed frames hold the person's boxes only
    merged = merge_human(table, human, {(f.sequence, f.frame_idx) for f in (manifest.frames[n] for n in returned.frames)})
    assert not ((merged.sequence == "s1") & (merged.frame_idx == 2) & (merged.class_id == 1024)).any() or \
        name == "cvat/s2.xml"
    assert ((merged.frame_idx == 10) & (merged.source == "pseudo")).sum() == 1  # not exported: kept


def edit(path, fn):
    text = path.read_text()
    path.write_text(fn(text))


def test_refuses_boxes_outside_the_image_and_frames_not_exported(export, tmp_path):
    r, _, _ = export
    manifest = read_manifest(r.out / "manifest.json")
    h, w = manifest.image_hw
    # COCO: a box past the right border
    doc = json.loads((r.out / "coco.json").read_text())
    doc["annotations"][0]["bbox"][0] = w - 1.0
    bad = tmp_path / "coco.json"
    bad.write_text(json.dumps(doc))
    img = doc["images"][doc["annotations"][0]["image_id"] - 1]
    with pytest.raises(ValueError, match=rf"{bad}: frame {img['sequence']}@{img['frame_idx']} .*outside the {w}x{h}"):
        human_table(read_returned(bad, manifest), manifest, bad)
    # COCO: an image that was not exported
    doc = json.loads((r.out / "coco.json").read_text())
    doc["images"][0]["file_name"] = "images/s1/000010.png"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"image 1 \('images/s1/000010.png'\) was not exported"):
        read_returned(bad, manifest)
    # CVAT: a box on a frame past the video
    xml = tmp_path / "s1.xml"
    xml.write_text((r.out / "cvat/s1.xml").read_text().replace('frame="2"', 'frame="5"', 1))
    with pytest.raises(ValueError, match=rf"{xml}: frame 5 of s1 was not exported"):
        read_returned(xml, manifest)
    # Label Studio: a task of a frame that was not exported, and a box with a negative corner
    tasks = json.loads((r.out / "label_studio.json").read_text())
    tasks[1]["data"]["frame_idx"] = 3
    ls = tmp_path / "ls.json"
    ls.write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match=rf"{ls}: task 2: frame s1@3 was not exported"):
        read_returned(ls, manifest)
    tasks = json.loads((r.out / "label_studio.json").read_text())
    tasks[0]["annotations"] = [{"result": [dict(tasks[0]["predictions"][0]["result"][0],
                                                value=dict(tasks[0]["predictions"][0]["result"][0]["value"], x=-5.0))]}]
    ls.write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match=rf"{ls}: frame s1@2 \(images/s1/000002.png\): box x=-"):
        human_table(read_returned(ls, manifest), manifest, ls)


def test_label_studio_annotations_win_over_predictions(export, tmp_path):
    r, _, _ = export
    manifest = read_manifest(r.out / "manifest.json")
    tasks = json.loads((r.out / "label_studio.json").read_text())
    region = dict(tasks[0]["predictions"][0]["result"][0])
    region["value"] = dict(region["value"], x=10.0, y=20.0, width=5.0, height=5.0, rectanglelabels=[CAM.class_names[1]])
    region.pop("meta", None)
    tasks[0]["annotations"] = [{"was_cancelled": True, "result": []}, {"result": [region]}]
    ls = tmp_path / "ls.json"
    ls.write_text(json.dumps(tasks))
    returned = read_returned(ls, manifest)
    assert returned.unreviewed == [1, 2, 3, 4, 5]
    human = human_table(returned, manifest, ls)
    first = human[(human.sequence == "s1") & (human.frame_idx == 2)]
    assert len(first) == 1 and first.class_id.iloc[0] == 1 and first.track_id.iloc[0] == -1
    assert first.x.iloc[0] == np.float32(10.0 / 100 * manifest.image_hw[1] / manifest.pixel_scale)


def test_label_studio_prediction_ids_refused_in_one_line(export, tmp_path):
    """Label Studio's quick export of every task (GET /api/projects/ID/export?download_all_tasks=true)
    gives predictions as ids: a task without annotation then has no boxes in the file (make label-check
    saw it on Label Studio 1.23.2)."""
    r, _, _ = export
    manifest = read_manifest(r.out / "manifest.json")
    tasks = json.loads((r.out / "label_studio.json").read_text())
    tasks[0]["annotations"] = [{"was_cancelled": False, "result": tasks[0]["predictions"][0]["result"]}]
    for i, t in enumerate(tasks):
        t["predictions"] = [i + 1]
    ls = tmp_path / "ls.json"
    ls.write_text(json.dumps(tasks))
    with pytest.raises(ValueError, match=rf"{ls}: task 2 \(s\d@\d+\) has no annotation and its predictions are ids"):
        read_returned(ls, manifest)
    ls.write_text(json.dumps(tasks[:1]))  # the export of the annotated tasks only reads
    assert read_returned(ls, manifest).frames == [0]


def test_detect_format(export, tmp_path):
    r, _, _ = export
    assert detect_format(r.out / "coco.json") == "coco"
    assert detect_format(r.out / "label_studio.json") == "label_studio"
    assert detect_format(r.out / "cvat/s1.xml") == "cvat"
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ValueError, match="unknown labels format"):
        detect_format(tmp_path / "x.txt")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="neither a Label Studio task list nor a COCO file"):
        detect_format(tmp_path / "x.json")
