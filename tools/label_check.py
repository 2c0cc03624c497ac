"""``make label-check``: the labelling loop through a real Label Studio, its HTTP API and a browser.

In a temporary folder: a tiny dataset (two synthetic event sequences of the ``synth`` camera, cars and a
pedestrian drawn as moving textured shapes) and a round 1 whose label table boxes them, then

1. ``leod export-labels --round 1 --frames ...`` with Label Studio's local-files URLs;
2. Label Studio from ``.venv-label`` on 127.0.0.1 (a free port), data under the temporary folder;
3. over its HTTP API: create a project with the export's interface XML, a local-files storage over the
   export, import the tasks with their predictions; check that the server serves a task's image;
4. submit an annotation of one task that MOVES one predicted box (by a known offset in image pixels) and
   DELETES the other, as a person would in the editor, then export the annotated tasks (JSON);
5. ``leod import-labels`` that export (the annotated tasks): the person's table must hold exactly the
   moved box, in sensor pixels, within Label Studio's percent rounding, and the deleted box must be gone;
   a snapshot export of every task with its predictions in full imports too, the unannotated tasks
   giving back the round's boxes bit for bit;
6. headless Chromium (Debian's, driven by Playwright as ``make ui-check`` does) logs in, opens another
   task's labelling page, waits for the event frame and the pre-annotation regions, saves
   ``docs/ui/label_studio_task.png`` and checks it against a second screenshot with the regions hidden:
   that one shows the exported frame, and the difference is the boxes' outlines and nothing else.

The server is stopped on every way out. Prints one line per check and ``label-check: N/N passed``;
exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import label_studio as ls  # noqa: E402  (tools/label_studio.py)
from check_result import CheckResult  # noqa: E402  (tools/check_result.py)

from flows.server import free_port  # noqa: E402
from leod_core.cameras import get_camera  # noqa: E402
from leod_core.events.h5_store import write_representations  # noqa: E402
from leod_core.labels.table import read_labels, validate_labels, write_labels  # noqa: E402
from leod_core.layout import SequencePaths  # noqa: E402

SHOT = ROOT / "docs" / "ui" / "label_studio_task.png"
CHROMIUM = os.environ.get("LEOD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}
RENDER_TIMEOUT_MS = 120_000  # the editor's React bundle on two busy cores
CAM = get_camera("synth")
N = 40  # representations of 50 ms per sequence: 2 s
BINS = 10
LABEL_FRAMES = np.arange(2, N, 2)
#: frames exported (sequence, frame_idx): the first is the one annotated over the API, the second the
#: one the browser opens
FRAMES = [("a", 10), ("a", 24), ("b", 16)]
#: the move applied to the first task's car box, in image pixels (2 image px per sensor px here)
MOVE_PX = (24.0, -10.0)


@dataclass(frozen=True)
class Obj:
    """A moving object: class, size (repr px), position at frame 0 and speed (repr px per frame)."""
    class_id: int
    w: int
    h: int
    x0: float
    y0: float
    vx: float
    vy: float
    track_id: int

    def box(self, f: float) -> tuple[float, float, float, float]:
        return self.x0 + self.vx * f, self.y0 + self.vy * f, float(self.w), float(self.h)


OBJECTS = {
    "a": [Obj(0, 34, 16, 8.0, 70.0, 2.0, 0.0, 1), Obj(1, 10, 22, 130.0, 24.0, -1.5, 0.5, 2)],
    "b": [Obj(0, 40, 18, 140.0, 50.0, -2.5, 0.5, 3)],
}


def _texture(obj: Obj, rng: np.random.Generator) -> np.ndarray:
    """The object's look: an outline with a sparse inside (what moving edges light up in events)."""
    t = rng.random((obj.h, obj.w)) < 0.35
    t[0, :] = t[-1, :] = t[:, 0] = t[:, -1] = True
    if obj.class_id == 0:  # a car: windows and wheels
        t[2:obj.h // 2, obj.w // 4:obj.w // 2] = t[2:obj.h // 2, obj.w // 2 + 2:3 * obj.w // 4] = True
        t[obj.h - 3:, 3:8] = t[obj.h - 3:, obj.w - 8:obj.w - 3] = True
    return t


def _paint(img: np.ndarray, tex: np.ndarray, x: float, y: float) -> None:
    h, w = img.shape
    xi, yi = int(round(x)), int(round(y))
    x1, y1, x2, y2 = max(xi, 0), max(yi, 0), min(xi + tex.shape[1], w), min(yi + tex.shape[0], h)
    if x2 > x1 and y2 > y1:
        img[y1:y2, x1:x2] |= tex[y1 - yi:y2 - yi, x1 - xi:x2 - xi]


def event_frames(objects: list[Obj], seed: int) -> np.ndarray:
    """(N, 2*BINS, H, W) uint8 stacked histograms: per time bin, OFF where an object's texture left a
    pixel, ON where it arrived, and sparse noise."""
    rng = np.random.default_rng(seed)
    h, w = CAM.repr_hw
    textures = [_texture(o, rng) for o in objects]

    def scene(f: float) -> np.ndarray:
        img = np.zeros((h, w), bool)
        for o, tex in zip(objects, textures):
            _paint(img, tex, *o.box(f)[:2])
        return img

    out = np.zeros((N, 2 * BINS, h, w), np.uint8)
    for r in range(N):
        prev = scene(r - 1.0)
        for b in range(BINS):
            cur = scene(r - 1.0 + (b + 1) / BINS)
            out[r, b] = (prev & ~cur) * 6 + (rng.random((h, w)) < 0.002)  # OFF
            out[r, BINS + b] = (cur & ~prev) * 6 + (rng.random((h, w)) < 0.002)  # ON
            prev = cur
    return out


def build_world(root: Path) -> None:
    """The dataset under ``root/data`` and round 1's table (boxes on every label frame) under ``root/art``."""
    rows = []
    for seed, (name, objects) in enumerate(OBJECTS.items()):
        seq = SequencePaths(root / "data" / "train" / name, CAM)
        seq.repr_dir.mkdir(parents=True)
        write_representations(seq.repr_h5, list(event_frames(objects, seed)), CAM.repr_hw)
        np.save(seq.repr_timestamps, (np.arange(N, dtype=np.int64) + 1) * 50_000)
        np.save(seq.objframe_idx_2_repr_idx, LABEL_FRAMES.astype(np.int64))
        for f in LABEL_FRAMES:
            for o in objects:
                x, y, w, h = o.box(float(f))
                rows.append(dict(sequence=name, frame_idx=int(f), t=(int(f) + 1) * 50_000, x=x, y=y, w=w, h=h,
                                 class_id=o.class_id, class_confidence=0.9, objectness=0.8, is_gt=False,
                                 track_id=o.track_id, source="pseudo"))
    write_labels(validate_labels(pd.DataFrame(rows)), root / "art" / "round_1" / "labels" / "labels.parquet")
    pd.DataFrame(FRAMES, columns=["sequence", "frame_idx"]).to_parquet(root / "frames.parquet", index=False)


class Result(CheckResult):
    """One check."""

    tool = "label-check"


def _check(results: list[Result], what: str, fn) -> object:
    """Run one check; ``fn`` returns (ok, detail[, value]); an exception is a failure, not the end."""
    try:
        out = fn()
    except Exception as exc:  # a failed step is reported with the rest
        results.append(Result(what, False, f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}"))
        print(results[-1], flush=True)
        return None
    results.append(Result(what, bool(out[0]), out[1]))
    print(results[-1], flush=True)
    return out[2] if len(out) > 2 else None


def _leod(root: Path, *argv: str) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "leod"), *argv, "--params", str(ROOT / "params.yaml"),
           "-S", f"paths.dataset={root / 'data'}", "-S", f"paths.artifacts={root / 'art'}"]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)


def _task_of(tasks: list[dict], seq: str, frame_idx: int) -> dict:
    return next(t for t in tasks if t["data"]["sequence"] == seq and int(t["data"]["frame_idx"]) == frame_idx)


def moved_annotation(prediction: list[dict], move_px: tuple[float, float]) -> tuple[list[dict], dict, dict]:
    """What a person leaves after dragging the first (car) region by ``move_px`` image pixels and deleting
    the second: (annotation result, the moved region, the deleted region)."""
    car, gone = prediction[0], prediction[1]
    moved = json.loads(json.dumps(car))
    v = moved["value"]
    v["x"] += 100.0 * move_px[0] / car["original_width"]
    v["y"] += 100.0 * move_px[1] / car["original_height"]
    moved.pop("score", None)
    return [moved], moved, gone


def _sensor_box(value: dict, pixel_scale: float, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    return np.array([value["x"] * w / 100, value["y"] * h / 100, value["width"] * w / 100,
                     value["height"] * h / 100]) / pixel_scale


def _api_round_trip(results: list[Result], root: Path, server: ls.Server, export: Path) -> tuple[int, dict]:
    """Project, storage, tasks, annotation, exports, import-labels: every check on the way."""
    tasks_file = json.loads((export / "label_studio.json").read_text())
    manifest = json.loads((export / "manifest.json").read_text())
    scale, hw = float(manifest["pixel_scale"]), tuple(manifest["image_hw"])
    pid = _check(results, "API: create the project with the export's interface XML", lambda: (
        True, "", ls.create_project(server, "leod round 1", (export / "label_studio_config.xml").read_text(),
                                    model_version="leod round 1")))
    _check(results, "API: local-files storage over the export folder", lambda: (
        True, "", ls.add_local_storage(server, pid, export)))
    n = _check(results, "API: import the tasks with their predictions", lambda: (
        True, f"{len(tasks_file)} tasks", ls.import_tasks(server, pid, export / "label_studio.json")))

    def stored():
        got = ls.api(server, "GET", f"/api/tasks?project={pid}&fields=all&page_size=100")
        got = got["tasks"] if isinstance(got, dict) else got
        bad = []
        for want in tasks_file:
            t = _task_of(got, want["data"]["sequence"], want["data"]["frame_idx"])
            if [r["value"] for r in t["predictions"][0]["result"]] != [r["value"] for r in want["predictions"][0]["result"]]:
                bad.append(t["id"])
        return not bad and len(got) == n, f"{len(got)} tasks; predictions differ on tasks {bad}" if bad else \
            f"{len(got)} tasks, {sum(len(t['predictions'][0]['result']) for t in got)} predicted boxes as exported", got
    tasks = _check(results, "API: the server holds every task with its predictions, unchanged", stored)

    def image():
        t = tasks[0]
        url = server.url + t["data"]["image"]
        req = urllib.request.Request(url, headers={"Authorization": f"Token {server.login.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        rel = t["data"]["image"].split("?d=", 1)[1].split("/export/", 1)[1]
        try:
            urllib.request.urlopen(url, timeout=30)
            anonymous = "served"
        except urllib.error.HTTPError as exc:
            anonymous = f"HTTP {exc.code}"
        return body == (export / rel).read_bytes() and anonymous != "served", \
            f"{t['data']['image']}: the exported PNG's bytes; without login {anonymous}"
    _check(results, "local-files serving: a task's image URL gives the exported event frame", image)

    seq, fidx = FRAMES[0]
    target = _task_of(tasks, seq, fidx)
    result, moved, gone = moved_annotation(target["predictions"][0]["result"], MOVE_PX)
    _check(results, f"API: annotate task {target['id']} ({seq}@{fidx}): move the car, delete the pedestrian",
           lambda: (True, f"car moved by {MOVE_PX} image px", ls.api(
               server, "POST", f"/api/tasks/{target['id']}/annotations",
               {"result": result, "was_cancelled": False, "ground_truth": False, "lead_time": 7.5})))

    returned = export / ls.RETURNED_FILE
    _check(results, "API: export the annotated tasks (JSON, as the UI's Export button)", lambda: (
        len(json.loads(ls.export_annotations(server, pid, returned).read_text())) == 1,
        f"{returned.name}: 1 task"))
    want = _sensor_box(moved["value"], scale, hw)
    orig = _sensor_box(gone["value"], scale, hw)

    def imported():
        p = _leod(root, "import-labels", str(returned), "--round", "1", "--out", str(root / "human.parquet"),
                  "--merged", str(root / "merged.parquet"))
        if p.returncode:
            return False, p.stderr.strip().splitlines()[-1]
        human = read_labels(root / "human.parquet")
        got = human[["x", "y", "w", "h"]].to_numpy(np.float64)
        err = float(np.abs(got - want).max()) if len(got) == 1 else float("inf")
        pseudo = read_labels(root / "art/round_1/labels/labels.parquet")
        pbox = pseudo[(pseudo.sequence == seq) & (pseudo.frame_idx == fidx) & (pseudo.class_id == 0)]
        shift = got[0, :2] - pbox[["x", "y"]].to_numpy(np.float64)[0] if len(got) == 1 else None
        ok = (len(human) == 1 and human.sequence.iloc[0] == seq and human.frame_idx.iloc[0] == fidx
              and human.class_id.iloc[0] == 0 and human.track_id.iloc[0] == 1 and (human.source == "human").all()
              and err < 0.05 and np.allclose(shift, np.array(MOVE_PX) / scale, atol=0.05))
        merged = read_labels(root / "merged.parquet")
        on = merged[(merged.sequence == seq) & (merged.frame_idx == fidx)]
        ok = ok and len(on) == 1 and (on.source == "human").all() and len(merged) == len(pseudo) - 1
        return ok, (f"{p.stdout.strip()}; human box {np.round(got[0], 3).tolist() if len(got) else None} vs "
                    f"moved {np.round(want, 3).tolist()} (max error {err:.2g} sensor px, shift "
                    f"{None if shift is None else np.round(shift, 3).tolist()}); the pedestrian "
                    f"{np.round(orig, 1).tolist()} gone; merged table: {len(on)} box on {seq}@{fidx}")
    _check(results, "leod import-labels: exactly the moved box, in sensor pixels; the deleted one gone", imported)

    def snapshot():
        snap = ls.api(server, "POST", f"/api/projects/{pid}/exports",
                      {"title": "label-check", "task_filter_options": {"only_with_annotations": False},
                       "serialization_options": {"predictions": {"only_id": False}}})
        deadline = time.monotonic() + 120
        while snap.get("status") != "completed" and time.monotonic() < deadline:
            time.sleep(1)
            snap = ls.api(server, "GET", f"/api/projects/{pid}/exports/{snap['id']}")
        req = urllib.request.Request(f"{server.url}/api/projects/{pid}/exports/{snap['id']}/download?exportType=JSON",
                                     headers={"Authorization": f"Token {server.login.token}"})
        with urllib.request.urlopen(req, timeout=120) as r:
            (export / "all_tasks.json").write_bytes(r.read())
        p = _leod(root, "import-labels", str(export / "all_tasks.json"), "--round", "1", "--out",
                  str(root / "human_all.parquet"), "--merged", str(root / "merged_all.parquet"))
        if p.returncode:
            return False, p.stderr.strip().splitlines()[-1]
        human = read_labels(root / "human_all.parquet")
        pseudo = read_labels(root / "art/round_1/labels/labels.parquet")
        cols = ["sequence", "frame_idx", "x", "y", "w", "h", "class_id", "track_id"]
        rest = human[(human.sequence != seq) | (human.frame_idx != fidx)][cols].reset_index(drop=True)
        keys = {k for k in FRAMES[1:]}
        want_rest = pseudo[[k in keys for k in zip(pseudo.sequence, pseudo.frame_idx)]][cols].reset_index(drop=True)
        same = rest.equals(want_rest)
        mine = human[(human.sequence == seq) & (human.frame_idx == fidx)]
        return same and len(mine) == 1, (f"{p.stdout.strip()}; the {len(rest)} boxes of the "
                                         f"{len(keys)} unannotated tasks {'are' if same else 'are NOT'} the round's, bit for bit")
    _check(results, "API: snapshot export of every task (full predictions) imports; unannotated tasks = the round's boxes",
           snapshot)
    return pid, _task_of(tasks, *FRAMES[1])


#: in the page: the visible event frame's rectangle and the editor's regions (the pre-annotation draft)
_PAGE_STATE = """() => {
  const imgs = Array.from(document.querySelectorAll('img')).filter(i => i.complete && i.naturalWidth > 0
      && getComputedStyle(i).visibility === 'visible');
  const img = imgs.sort((a, b) => b.getBoundingClientRect().width - a.getBoundingClientRect().width)[0];
  const a = window.Htx && window.Htx.annotationStore && window.Htx.annotationStore.selected;
  const r = img ? img.getBoundingClientRect() : null;
  return {img: img ? {left: r.left, top: r.top, width: r.width, height: r.height, nw: img.naturalWidth,
                      nh: img.naturalHeight} : null,
          regions: a ? a.regions.map(g => ({x: g.x, y: g.y, width: g.width, height: g.height, label: g.labelName,
                                           origin: g.origin})) : []};
}"""


def _grid(page: np.ndarray, img: dict, h: int, w: int) -> np.ndarray:
    """The screenshot sampled at the centres of the shown image's ``h`` x ``w`` pixels."""
    xs = (img["left"] + (np.arange(w) + 0.5) * img["width"] / w).astype(int)
    ys = (img["top"] + (np.arange(h) + 0.5) * img["height"] / h).astype(int)
    return page[ys][:, xs]


def frame_shown(hidden_shot: Path, img: dict, frame_png: Path, other_png: Path) -> tuple[bool, str]:
    """With the regions hidden, the image rectangle shows the exported frame (and not another one)."""
    from PIL import Image

    frame = np.asarray(Image.open(frame_png).convert("RGB"), np.int16)
    other = np.asarray(Image.open(other_png).convert("RGB"), np.int16)
    seen = _grid(np.asarray(Image.open(hidden_shot).convert("RGB"), np.int16), img, *frame.shape[:2])
    close = np.abs(seen - frame).sum(-1) < 40
    events, other_events = frame.sum(-1) < 700, other.sum(-1) < 700  # not white: event pixels
    other_close = (np.abs(seen - other).sum(-1) < 40)[other_events].mean()
    # the browser smooths the x3 upscale: an isolated noise event blurs, so not every event pixel matches
    ok = close.mean() > 0.97 and close[events].mean() > 0.8 and other_close < 0.2
    return ok, (f"{close.mean():.1%} of the frame's pixels and {close[events].mean():.1%} of its "
                f"{int(events.sum())} event pixels as exported (of another frame's events: {other_close:.1%})")


def boxes_drawn(shot: Path, hidden_shot: Path, img: dict, boxes: list[dict]) -> tuple[bool, str]:
    """Regions shown vs hidden: each box's outline changes the page, nothing outside the boxes does."""
    from PIL import Image

    shown = np.asarray(Image.open(shot).convert("RGB"), np.int16)
    hidden = np.asarray(Image.open(hidden_shot).convert("RGB"), np.int16)
    changed = np.abs(shown - hidden).sum(-1) > 30
    l, t = int(img["left"]), int(img["top"])
    r, b = int(img["left"] + img["width"]), int(img["top"] + img["height"])
    near = np.zeros_like(changed)
    drawn = []
    for v in boxes:
        x0, y0 = img["left"] + v["x"] / 100 * img["width"], img["top"] + v["y"] / 100 * img["height"]
        x1, y1 = x0 + v["width"] / 100 * img["width"], y0 + v["height"] / 100 * img["height"]
        near[max(int(y0) - 6, 0):int(y1) + 7, max(int(x0) - 6, 0):int(x1) + 7] = True
        pts = [(x0 + (x1 - x0) * i / 40, y) for i in range(41) for y in (y0, y1)] + \
              [(x, y0 + (y1 - y0) * i / 40) for i in range(41) for x in (x0, x1)]
        drawn.append(np.mean([changed[int(py) - 2:int(py) + 3, int(px) - 2:int(px) + 3].any() for px, py in pts]))
    outside = changed[t:b, l:r][~near[t:b, l:r]].mean()
    ok = all(d > 0.9 for d in drawn) and outside < 0.005
    return ok, ("outline drawn on " + ", ".join(f"{d:.0%}" for d in drawn) + " of each box's length; "
                f"{outside:.2%} of the frame outside the boxes changed")


def browse(results: list[Result], server: ls.Server, pid: int, task: dict, export: Path, shot: Path,
           profile: Path) -> None:
    """Log in, open ``task``'s labelling page, check the frame and the pre-annotations, screenshot it."""
    from playwright.sync_api import sync_playwright

    boxes = [r["value"] for r in task["predictions"][0]["result"]]
    labels = [b["rectanglelabels"][0] for b in boxes]
    rel = task["data"]["image"].split("/export/", 1)[1]
    others = sorted(p for p in (export / "images").rglob("*.png") if p.relative_to(export).as_posix() != rel)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                    args=CHROMIUM_FLAGS, viewport=VIEWPORT)
        try:
            page = ctx.new_page()

            def login():
                page.goto(server.url + "/user/login/", timeout=RENDER_TIMEOUT_MS)
                page.fill("input[name=email]", server.login.email)
                page.fill("input[name=password]", server.login.password)
                page.click("button[type=submit]")
                page.wait_for_url(lambda u: "/user/login" not in u, timeout=RENDER_TIMEOUT_MS)
                return True, f"{server.login.email} -> {page.url}"
            _check(results, "browser: log in", login)

            def open_task():
                page.goto(f"{server.url}/projects/{pid}/data?task={task['id']}", timeout=RENDER_TIMEOUT_MS)
                page.wait_for_function(f"""() => {{ const s = ({_PAGE_STATE})();
                    return s.img && s.img.nw === {int(task['predictions'][0]['result'][0]['original_width'])}
                        && s.img.width > 300 && s.regions.length === {len(boxes)}; }}""", timeout=RENDER_TIMEOUT_MS)
                page.get_by_text(labels[0], exact=True).first.wait_for(timeout=RENDER_TIMEOUT_MS)
                page.wait_for_timeout(1500)  # the canvas draws the regions after the store holds them
                state = page.evaluate(_PAGE_STATE)
                got = [(g["label"], round(g["x"], 6), round(g["y"], 6), round(g["width"], 6), round(g["height"], 6))
                       for g in state["regions"]]
                want = [(b["rectanglelabels"][0], round(b["x"], 6), round(b["y"], 6), round(b["width"], 6),
                         round(b["height"], 6)) for b in boxes]
                return sorted(got) == sorted(want) and all(g["origin"] == "prediction" for g in state["regions"]), \
                    f"task {task['id']}: {len(got)} regions from the predictions ({', '.join(labels)}), " \
                    f"{state['img']['nw']}x{state['img']['nh']} frame shown {state['img']['width']:.0f} px wide", state
            state = _check(results, "browser: the labelling page shows the event frame with the pre-annotations",
                           open_task)
            if state is None:
                page.screenshot(path=str(shot.with_name("label_studio_task_failed.png")))
                return
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
            hidden = profile.parent / "regions_hidden.png"
            hide = """(hide) => { const a = window.Htx.annotationStore.selected;
                a.regions.forEach(r => { if (!!r.hidden !== hide) r.toggleHidden(); }); return a.regions.map(r => !!r.hidden); }"""
            if all(page.evaluate(hide, True)):
                page.wait_for_timeout(1500)
                page.screenshot(path=str(hidden))
                page.evaluate(hide, False)
            name = shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot
            _check(results, f"{name}, regions hidden: the image is the exported event frame",
                   lambda: frame_shown(hidden, state["img"], export / rel, others[0]))
            _check(results, f"{name}: the pre-annotation boxes are drawn over the event frame",
                   lambda: boxes_drawn(shot, hidden, state["img"], boxes))
        finally:
            ctx.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/label_check.py", description=__doc__.splitlines()[0])
    parser.add_argument("--shot", type=Path, default=SHOT, help=f"the screenshot (default: {SHOT})")
    parser.add_argument("--port", type=int, default=0, help="Label Studio's port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if not ls.LABEL_STUDIO.is_file():
        print(f"label-check: error: Label Studio is not installed: {ls.INSTALL_HINT}", file=sys.stderr)
        return 1
    if not Path(CHROMIUM).exists():
        print(f"label-check: error: no Chromium at {CHROMIUM}: apt-get install -y chromium (or set LEOD_CHROMIUM)",
              file=sys.stderr)
        return 1
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("label-check: error: playwright missing: run `make label-check` (installs the ui-check extra)",
              file=sys.stderr)
        return 1
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="leod-label-check-"))
    results: list[Result] = []
    timings: dict[str, float] = {}
    server = None
    try:
        build_world(tmp)
        docroot = tmp / "art" / "labelling"
        export = docroot / "round_1" / "export"
        port = args.port or free_port(0)
        docroot.mkdir(parents=True)
        t = time.monotonic()
        server = ls.start_server(docroot / ls.DATA_DIR, docroot, port, log=tmp / "label-studio.log")

        def export_labels():  # while the server boots
            p = _leod(tmp, "export-labels", "--round", "1", "--frames", str(tmp / "frames.parquet"),
                      "--image-url-prefix", ls.image_url_prefix(docroot, export), "--no-video")
            return p.returncode == 0, (p.stdout.strip() or p.stderr.strip()).splitlines()[-1]
        _check(results, "leod export-labels --round 1 (local-files image URLs)", export_labels)

        def ready():
            ls.wait_ready(server)
            return True, f"{time.monotonic() - t:.1f} s from start", time.monotonic() - t
        timings["start"] = _check(results, f"Label Studio up on {server.url} (127.0.0.1 only)", ready)
        if timings["start"] is not None:
            t = time.monotonic()
            pid, open_task = _api_round_trip(results, tmp, server, export)
            timings["api"] = time.monotonic() - t
            t = time.monotonic()
            browse(results, server, pid, open_task, export, args.shot, tmp / "profile")
            timings["browser"] = time.monotonic() - t
    except Exception as exc:
        results.append(Result("label-check ran to its end", False, f"{type(exc).__name__}: {exc}"))
        print(results[-1], flush=True)
    finally:
        if server is not None:
            code = ls.stop_server(server)
            port_free = ls._port_free(int(server.url.rsplit(":", 1)[1]))
            results.append(Result("Label Studio stopped, its port free again", port_free, f"exit {code}"))
            print(results[-1], flush=True)
            if not all(r.ok for r in results):
                print(f"label-check: server log {tmp / 'label-studio.log'}:\n{ls._tail(tmp / 'label-studio.log', 25)}")
        if args.keep or not all(r.ok for r in results):
            print(f"label-check: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    passed = sum(r.ok for r in results)
    print(f"label-check: timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items() if v is not None)
          + f"; total {time.monotonic() - t0:.1f} s")
    print(f"label-check: {passed}/{len(results)} passed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
