"""The labelling loop as a user closes it, on a finished pipeline (a copy of the session's plumbing run):
``leod suggest-frames`` -> ``leod export-labels`` -> a person's boxes (a returned COCO file) -> ``leod
import-labels`` into ``paths.human_labels`` -> ``dvc status`` marks the stages that read it -> ``dvc repro``
retrains round 1 on the person's boxes, and its quality report leaves the reviewed frames out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.server import prefect_server
from flows.smoke import repro
from flows.settings import load_config
from leod_core.labelling.frame_list import read_frame_list
from leod_core.labels.human import read_human
from leod_core.labels.table import read_labels

BIN = Path(sys.executable).parent
BUDGET = 4


def _leod(repo: Path, env: dict[str, str], *argv: str) -> str:
    proc = subprocess.run([str(BIN / "leod"), *argv], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"leod {' '.join(argv)}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc.stdout


def _status(repo: Path, env: dict[str, str]) -> set[str]:
    proc = subprocess.run([str(BIN / "dvc"), "status", "--json"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(json.loads(proc.stdout))


def _a_persons_coco(export: Path, folder: Path) -> tuple[Path, int]:
    """The export's COCO file returned with one box drawn on each of its images (the detectors of the
    plumbing run find nothing, so there is nothing to correct, only to add)."""
    doc = json.loads((export / "coco.json").read_text())
    car = doc["categories"][0]["id"]
    anns = [{"id": i + 1, "image_id": img["id"], "category_id": car, "iscrowd": 0, "area": 30.0 * 24.0,
             "bbox": [img["width"] * 0.25, img["height"] * 0.3, 30.0, 24.0]} for i, img in enumerate(doc["images"])]
    folder.mkdir()
    shutil.copy(export / "manifest.json", folder / "manifest.json")
    (folder / "coco.json").write_text(json.dumps({**doc, "annotations": anns}))
    return folder / "coco.json", len(anns)


def test_suggest_label_import_then_dvc_repro_trains_on_the_persons_boxes(plumbing_run, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    repo, env = plumbing_run.copy_to(tmp_path / "repo")
    monkeypatch.setenv("PREFECT_HOME", env["PREFECT_HOME"])
    cfg = load_config(repo / "params.yaml")
    human_path = repo / cfg.paths.human_labels
    assert not len(read_human(human_path).reviewed)  # the committed table is empty
    model_before = (repo / "artifacts/round_1/model/last.pt").read_bytes()
    with prefect_server(0) as url:
        env["PREFECT_API_URL"] = url
        _leod(repo, env, "suggest-frames", "--round", "1", "--budget", str(BUDGET))
        frames = read_frame_list(repo / "artifacts/labelling/round_1/suggestions.parquet")
        assert len(frames) == BUDGET and frames.sequence.nunique() > 1  # spread over sequences
        _leod(repo, env, "export-labels", "--round", "1", "--frames",
              "artifacts/labelling/round_1/suggestions.parquet", "--formats", "coco", "--no-video")
        returned, n_boxes = _a_persons_coco(repo / "artifacts/labelling/round_1/export", tmp_path / "returned")
        assert n_boxes == BUDGET
        _leod(repo, env, "import-labels", str(returned), "--round", "1")
        human = read_human(human_path)
        keys = set(zip(frames.sequence, frames.frame_idx.astype(int)))
        assert human.keys == keys and len(human.boxes) == BUDGET and (human.boxes.source == "human").all()

        # the person's table is an input of the stages that read it, and of nothing else
        assert _status(repo, env) == {"pseudo_label@1", "pseudo_quality@1"}
        run = repro(repo, env, timeout_s=600)
    assert run.returncode == 0, run.output[-4000:]
    assert run.ran[:1] == ["pseudo_label@1"] and {"pseudo_quality@1", "train@1", "evaluate@1"} <= set(run.ran)
    assert _status(repo, env) == set()

    table = read_labels(repo / "artifacts/round_1/labels/labels.parquet")
    mine = table[table.source == "human"]
    assert len(mine) == BUDGET and mine.is_gt.all() and set(zip(mine.sequence, mine.frame_idx.astype(int))) == keys
    on_reviewed = [k in keys for k in zip(table.sequence, table.frame_idx.astype(int))]
    assert (table[on_reviewed].source == "human").all()  # no pseudo or inpainted box on a reviewed frame
    quality = json.loads((repo / "artifacts/round_1/quality/quality.json").read_text())
    assert quality["counts"]["human"] == BUDGET and quality["counts"]["reviewed_frames"] == BUDGET
    assert (repo / "artifacts/round_1/model/last.pt").read_bytes() != model_before  # retrained on them
