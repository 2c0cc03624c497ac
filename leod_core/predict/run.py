"""Stream a detector over recordings and write their detections (and optionally a video): ``leod predict``.

Per recording, the recurrent detector sees every 50 ms window in time order from the first one (its LSTM
states carried, as ``leod evaluate`` streams), and predicts at every ``every_ms`` (or, with
``at_labels``, only at the windows holding a label time, which is what ``leod evaluate`` scores). Per
recording ``out_dir`` receives ``NAME_bbox.npy`` + ``NAME.parquet`` (:mod:`leod_core.predict.detections`),
with ``video`` ``NAME.mp4`` and with ``gif`` ``NAME.gif`` (:mod:`leod_core.predict.video`). Nothing grows
with the recording's length: frames are streamed, detections written as they come, the tracker keeps only
its live tracks.

Python use::

    from leod_core.predict import predict
    results = predict(["rec_td.dat", "data/dataset/test/seq_000"], "artifacts/round_1/model/last.pt",
                      "predictions", video=True)
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from leod_core.cameras import CameraSpec, resolve_camera
from leod_core.config import PredictConfig, TrackerConfig
from leod_core.events.grid import REPR_STEP_US
from leod_core.events.prophesee_import import CHUNK_EVENTS
from leod_core.predict.detections import DetectionWriter
from leod_core.predict.recording import Recording, iter_frames, open_recording, read_ground_truth
from leod_core.predict.video import VideoWriter, compose_frame, require_video_library
from leod_core.pseudo.tracker import LinearTracker

__all__ = ["PredictionResult", "check_output_dir", "load_predictor", "prepare", "predict_recording", "predict"]

log = logging.getLogger(__name__)

WINDOW_MS = REPR_STEP_US // 1000
GIF_SUFFIX, VIDEO_SUFFIX = ".gif", ".mp4"


@dataclass(frozen=True)
class PredictionResult:
    """What :func:`predict_recording` did for one recording."""

    name: str
    frames: int  # 50 ms windows streamed through the detector
    predicted: int  # windows predicted at (rows of the video)
    boxes: int  # boxes written
    seconds: float  # wall time
    files: tuple[Path, ...]

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")


def load_predictor(ckpt: str | Path, camera: CameraSpec | str | Path | None = None,
                   device: str | torch.device = "cpu") -> tuple[Any, CameraSpec]:
    """The detector of ``ckpt`` (any weights file a leod command writes, or an RVT/LEOD ``.ckpt``) and the
    camera to predict with: ``camera`` (a spec, a built-in name or a camera file), default the one the
    checkpoint records. A camera whose class count or input size does not fit the weights is refused in
    one line naming the file and both sides (by :func:`leod_core.train.checkpoint.load_detector`)."""
    from leod_core.train.checkpoint import load_detector, read_weights

    if not Path(ckpt).is_file():
        raise FileNotFoundError(f"checkpoint not found: {ckpt}")
    cam = resolve_camera(camera, key="--camera") if camera is not None else read_weights(ckpt)[1].camera_spec()
    return load_detector(ckpt, map_location=device, camera=cam), cam


def check_output_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` and prove a file can be written there, before any work (one-line OSError)."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".probe.{os.getpid()}.", suffix=".tmp", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OSError(f"cannot write predictions or videos to {out_dir}: {exc.strerror or exc}") from None
    return out_dir


def _to_input(rep: np.ndarray, input_hw: tuple[int, int], device: torch.device) -> torch.Tensor:
    """(C, H, W) uint8 -> (1, C, Hp, Wp) float32, zero padded bottom/right (as the loaders pad)."""
    x = torch.zeros((1, rep.shape[0], *input_hw), dtype=torch.float32)
    x[0, :, :rep.shape[1], :rep.shape[2]] = torch.from_numpy(np.ascontiguousarray(rep))
    return x.to(device)


def _window_of(gt_t: np.ndarray, t_us: int) -> slice:
    """Rows of the sorted GT times inside the window (t_us - 50 ms, t_us]."""
    return slice(int(np.searchsorted(gt_t, t_us - REPR_STEP_US, side="right")),
                 int(np.searchsorted(gt_t, t_us, side="right")))


def _gt_rows(gt: np.ndarray, scale: float) -> np.ndarray:
    """Prophesee GT -> (M, 6) x, y, w, h, class, conf in representation pixels (for drawing)."""
    return np.stack([gt["x"] * scale, gt["y"] * scale, gt["w"] * scale, gt["h"] * scale,
                     gt["class_id"], gt["class_confidence"]], 1).astype(np.float32)


def _video_scale(camera: CameraSpec, min_height: int) -> int:
    return max(1, math.ceil(min_height / camera.repr_hw[0]))


def _detect(model: Any, features: Any, cfg: PredictConfig, track: LinearTracker | None,
            frame_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One window's (N, 7) boxes in representation pixels, the mask of those shown (score >=
    ``cfg.score_threshold``) and each box's track id (-1: not shown, or no tracker)."""
    boxes = np.asarray(model.predict(features, cfg.conf_threshold, cfg.nms_iou)[0], np.float32).reshape(-1, 7)
    shown = boxes[:, 5] >= cfg.score_threshold
    ids = np.full(len(boxes), -1, np.int32)
    if track is not None:
        b = boxes[shown]
        centre = np.column_stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3], b[:, 4]])
        ids[shown] = track.update(frame_index, centre)
    return boxes, shown, ids


def _video_writer(out_dir: Path, name: str, camera: CameraSpec, cfg: PredictConfig, fps: Fraction, scale: int,
                  with_gt: bool, video: bool, gif: bool) -> tuple[VideoWriter, list[Path]]:
    """The (not yet entered) writer of recording ``name``'s video and/or GIF in ``out_dir`` and the paths it
    writes; its frame size is that of a composed frame (with a GT panel when ``with_gt``)."""
    blank = compose_frame(np.zeros((20, *camera.repr_hw), np.uint8), np.zeros((0, 7), np.float32), None,
                          np.zeros((0, 6), np.float32) if with_gt else None, camera.class_names, scale)
    vpath = out_dir / f"{name}{VIDEO_SUFFIX}" if video else None
    gpath = out_dir / f"{name}{GIF_SUFFIX}" if gif else None
    writer = VideoWriter(vpath, blank.shape[:2], fps, gpath, gif_frames=math.ceil(cfg.gif_seconds * float(fps)))
    return writer, [p for p in (vpath, gpath) if p is not None]


def predict_recording(model: Any, recording: str | Path | Recording, camera: CameraSpec, out_dir: str | Path,
                      cfg: PredictConfig = PredictConfig(), *, tracker: TrackerConfig | None = None,
                      video: bool = False, gif: bool = False, labels: str | Path | None = None,
                      at_labels: bool = False, device: str | torch.device = "cpu",
                      chunk_events: int = CHUNK_EVENTS,
                      progress: Callable[[int], None] | None = None) -> PredictionResult:
    """Stream ``model`` over one recording and write its outputs to ``out_dir`` (see the module doc).

    ``tracker``: the linear tracker's settings (``pseudo.tracker``) to give boxes with score >=
    ``cfg.score_threshold`` online track ids; None = no tracking (track_id -1). ``labels``: the GT file or
    folder (default: ``NAME_bbox.npy`` beside an event file, a sequence folder's own labels); GT boxes are
    drawn beside the predictions in the video. ``progress(frames)`` is called every 100 windows.
    """
    t0 = time.perf_counter()
    rec = recording if isinstance(recording, Recording) else open_recording(recording, labels)
    out_dir = Path(out_dir)
    gt = read_ground_truth(rec, camera)
    if at_labels and gt is None:
        raise ValueError(f"{rec.path}: at_labels needs labels (none beside it, none given)")
    if video:
        require_video_library()
    stride = cfg.every_ms // WINDOW_MS
    device = torch.device(device)
    track = (LinearTracker(camera.repr_hw, tracker.iou_threshold, tracker.q, tracker.min_conf, keep_history=False)
             if tracker is not None else None)
    scale = _video_scale(camera, cfg.video_height)
    fps = Fraction(1000, cfg.every_ms) * Fraction(cfg.speed).limit_denominator(1000)
    gt_t = gt["t"] if gt is not None else None
    n_frames = n_pred = 0
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(DetectionWriter(out_dir, rec.name, camera.class_names))
        files = [writer.bbox_path, writer.parquet_path]
        vw = None
        if video or gif:
            vw, paths = _video_writer(out_dir, rec.name, camera, cfg, fps, scale, gt is not None, video, gif)
            stack.enter_context(vw)
            files += paths
        states = None
        was_training = getattr(model, "training", False)
        model.eval()
        try:
            with torch.inference_mode():
                for frame in iter_frames(rec, camera, chunk_events):
                    n_frames += 1
                    if progress is not None and n_frames % 100 == 0:
                        progress(n_frames)
                    features, states = model.forward_backbone(_to_input(frame.repr, camera.input_hw, device), states)
                    in_window = _window_of(gt_t, frame.t_us) if gt_t is not None else slice(0, 0)
                    if (at_labels and in_window.start == in_window.stop) or \
                            (not at_labels and frame.index % stride):
                        continue
                    n_pred += 1
                    boxes, shown, ids = _detect(model, features, cfg, track, frame.index)
                    sensor = boxes.copy()
                    sensor[:, :4] /= np.float32(camera.label_scale)
                    writer.add(frame.t_us, sensor, ids)
                    if vw is not None:
                        gt_now = None if gt is None else _gt_rows(gt[in_window], camera.label_scale)
                        title = f"{rec.name}  t={frame.t_us / 1e6:.2f} s"
                        vw.add(compose_frame(frame.repr, boxes[shown], ids[shown] if track is not None else None,
                                             gt_now, camera.class_names, scale, title))
        finally:
            if was_training:
                model.train()
    seconds = time.perf_counter() - t0
    log.info("predict %s: %d windows, %d predicted, %d boxes, %.1f windows/s -> %s", rec.name, n_frames, n_pred,
             writer.count, n_frames / seconds if seconds else 0.0, out_dir)
    return PredictionResult(rec.name, n_frames, n_pred, writer.count, seconds, tuple(files))


def prepare(recordings: Iterable[str | Path], ckpt: str | Path, out_dir: str | Path,
            camera: CameraSpec | str | Path | None = None, *, video: bool = False, labels: str | Path | None = None,
            device: str | torch.device = "cpu") -> tuple[list[Recording], Any, CameraSpec]:
    """Everything that can be checked before the work, each failure one line: the recordings (found, of a
    known format, distinct names), PyAV for ``video``, the output folder, the checkpoint against the camera.
    Returns (recordings, detector, camera)."""
    recs = [open_recording(r, labels) for r in recordings]
    if not recs:
        raise ValueError("no recording given")
    names = [r.name for r in recs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two recordings named {twice[0]!r}: their outputs would overwrite each other")
    if video:
        require_video_library()
    check_output_dir(out_dir)
    model, cam = load_predictor(ckpt, camera, device)
    return recs, model, cam


def predict(recordings: Iterable[str | Path], ckpt: str | Path, out_dir: str | Path,
            camera: CameraSpec | str | Path | None = None, cfg: PredictConfig = PredictConfig(), *,
            track: bool = False, tracker: TrackerConfig = TrackerConfig(), video: bool = False, gif: bool = False,
            labels: str | Path | None = None, at_labels: bool = False,
            device: str | torch.device = "cpu") -> list[PredictionResult]:
    """Predict on every recording with the detector of ``ckpt``; returns one result per recording.

    ``camera``: a spec, a built-in name or a camera file (default: the checkpoint's camera). Bad input
    fails before any work (:func:`prepare`).
    """
    recs, model, cam = prepare(recordings, ckpt, out_dir, camera, video=video, labels=labels, device=device)
    return [predict_recording(model, r, cam, out_dir, cfg, tracker=tracker if track else None, video=video, gif=gif,
                              at_labels=at_labels, device=device) for r in recs]
