"""Evaluate a detector on a split the RVT/LEOD way (REFERENCE 3b) and write metrics, PR curves, frames.

Streaming starts L-1 reprs before each sequence's first label frame and predictions are made only at
label frames (conf 0.001, NMS 0.45 by default), stamped with the label frame's timestamp. Evaluation runs
in representation pixels (half resolution for gen4, as RVT), one COCO image per label frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leod_core.atomic import atomic_dir, atomic_path
from leod_core.cameras import CameraSpec
from leod_core.config import EvalConfig
from leod_core.eval.box_files import write_json
from leod_core.eval.detections import frame_key, frame_to_prophesee, split_ground_truth, write_detections
from leod_core.eval.prophesee import DetectionEvaluator
from leod_core.events.h5_store import ReprReader
from leod_core.inference.stream import SequenceJob, View, iter_predictions, stream_start
from leod_core.layout import list_sequences
from leod_core.round_layout import DETECTIONS_FILE, FRAMES_DIR, METRICS_FILE, PR_PLOT_FILE

__all__ = ["VIS_SCORE_THRESHOLD", "evaluate_round"]

log = logging.getLogger(__name__)

VIS_SCORE_THRESHOLD = 0.3  # predictions drawn on the example frames (the metric uses all of them)


def _write_pr_csvs(curves: dict, out_dir: Path) -> None:
    for name, c in curves.items():
        with atomic_path(out_dir / f"pr_{name}.csv") as tmp:
            pd.DataFrame({"recall": c["recall"], "precision": c["precision"]}).to_csv(tmp, index=False,
                                                                                      float_format="%.6g")


def _write_frames(picks: list[tuple[str, int]], seqs: dict, gt: dict, preds: dict[tuple[str, int], np.ndarray],
                  camera: CameraSpec, frames_dir: Path) -> None:
    """One PNG per picked label frame: the repr with GT (green) and confident predictions (red)."""
    from leod_core.viz.frames import save_frame

    with atomic_dir(frames_dir) as out_dir:  # replaces the pictures of an earlier run
        for seq_name, frame in picks:
            with ReprReader(seqs[seq_name].repr_h5) as r:
                rep = r.read(frame, frame + 1)[0]
            g = gt[(seq_name, frame)]
            gt_rows = np.stack([g["x"], g["y"], g["w"], g["h"], g["class_id"], g["class_confidence"]], 1)
            p = preds[(seq_name, frame)]
            p = p[p[:, 5] >= VIS_SCORE_THRESHOLD]
            save_frame(out_dir / f"{seq_name}_{frame:06d}.png", rep, gt_rows, p, camera.class_names,
                       title=f"{seq_name} frame {frame}")


def evaluate_round(model: Any, dataset_root: str | Path, split: str, camera: CameraSpec, eval_cfg: EvalConfig,
                   out_dir: str | Path, progress: Callable[[int, int], None] | None = None,
                   seq_len: int | None = None, device: str = "cpu") -> dict[str, float]:
    """Predict on every labelled frame of ``split``, evaluate, and write ``out_dir``:
    ``metrics.json``, ``detections.parquet`` (every evaluated frame's boxes), ``pr_<class>.csv`` (recall,
    precision), ``pr_curves.png``, ``frames/*.png``.

    Ground truth comes from ``<dataset_root>/<split>/labels_full.parquet``. ``seq_len`` (L, default
    ``camera.sequence_length``) sets the warm-up before the first label. Returns the scalar metrics.
    """
    out_dir = Path(out_dir)
    L = seq_len or camera.sequence_length
    seqs = {s.name: s for s in list_sequences(dataset_root, split, camera)}
    gt, frame_t = split_ground_truth(dataset_root, split, camera)
    missing = sorted({n for n, _ in gt} - set(seqs))
    if missing:
        raise FileNotFoundError(f"{split}: labels name {len(missing)} sequences without a folder, e.g. {missing[0]}")
    names = sorted({n for n, _ in gt})
    jobs = []
    for name in names:
        frames = frozenset(f for n, f in gt if n == name)
        jobs.append(SequenceJob(seqs[name], stream_start(min(frames), L), frames))
    # example frames spread over the split; the evaluation skips t <= eval_skip_us, so do the pictures
    keys = [k for k in sorted(gt) if frame_t[k] > camera.eval_skip_us] or sorted(gt)
    n_vis = min(eval_cfg.num_vis_frames, len(keys))
    picks = [keys[i] for i in np.linspace(0, len(keys) - 1, n_vis).round().astype(int)] if n_vis else []
    log.info("evaluating %d label frames in %d %s sequences (L=%d)", len(gt), len(jobs), split, L)
    # each sequence's predictions are evaluated as soon as its batch finishes; the model's outputs are
    # dropped then, only the labelled frames' boxes are kept (36 bytes each, for detections.parquet)
    evaluator = DetectionEvaluator(camera, downsampled_by_2=camera.downsample_by_2)
    shown: dict[tuple[str, int], np.ndarray] = {}
    evaluated: dict[tuple[str, int], np.ndarray] = {}  # Prophesee detections, ~36 bytes per box
    for j, res in iter_predictions(model, jobs, camera, L, (View(),), eval_cfg.conf_threshold, eval_cfg.nms_iou,
                                   device=device, batch_size=eval_cfg.batch_size, progress=progress,
                                   reset_every=eval_cfg.memory_reset_every):
        name, pred = names[j], res[View()]
        for f in sorted(jobs[j].predict_at):
            # one key per label frame, as RVT's per-frame lists: the +-50 ms window never mixes frames
            dets = frame_to_prophesee(pred.get(f, np.zeros((0, 7), np.float32)), frame_t[(name, f)])
            evaluator.add(frame_key((name, f)), gt[(name, f)], dets)
            evaluated[(name, f)] = dets
        shown.update({(name, f): pred.get(f, np.zeros((0, 7), np.float32)) for n, f in picks if n == name})
    metrics = evaluator.result()
    curves = metrics.pop("pr_curves")
    scalars = {k: float(v) for k, v in metrics.items()}
    scalars["num_sequences"] = float(len(jobs))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(scalars, out_dir / METRICS_FILE)
    write_detections(evaluated, out_dir / DETECTIONS_FILE)
    _write_pr_csvs(curves, out_dir)
    from leod_core.viz.plots import plot_pr_curves

    plot_pr_curves(curves, out_dir / PR_PLOT_FILE, title=f"{camera.name} {split}: precision-recall @ IoU .5",
                   ap={n: scalars[f"AP_50_{n}"] for n in camera.class_names})
    _write_frames(picks, seqs, gt, shown, camera, out_dir / FRAMES_DIR)
    log.info("%s AP %.4f AP_50 %.4f -> %s", split, scalars["AP"], scalars["AP_50"], out_dir)
    return scalars
