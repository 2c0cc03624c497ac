"""Videos of predictions: event frames with boxes drawn (:mod:`leod_core.viz.frames`), encoded to H.264
MP4 by PyAV (the optional ``video`` extra; its wheel carries ffmpeg and libx264) and, for ``--gif``, the
first seconds as an animated GIF (Pillow).

Encoding runs in a background thread fed through a small bounded queue: libx264 works without the GIL,
so it overlaps with the detector, and memory holds a few frames whatever the recording's length (the
GIF clip is bounded by its own length).
"""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from leod_core.atomic import atomic_path
from leod_core.viz.frames import GT_COLOR, PRED_COLOR, draw_boxes, render_events

__all__ = ["X264_OPTIONS", "require_video_library", "compose_frame", "VideoWriter"]

#: libx264 settings: on event frames (flat colour on white) ultrafast costs ~1.6 ms of CPU a 240x640 frame
#: here (superfast 2.8 ms, veryfast ~4x more), files of ~4.5 KiB a frame; zerolatency: no lookahead
#: or B-frames to wait for. One encoder thread, beside the detector (bench/bench_predict.py)
X264_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency", "threads": "1"}
_FONT = ImageFont.load_default_imagefont()  # Pillow's bitmap font: labels at ~0.02 ms each (FreeType ~0.2 ms)
_QUEUE_FRAMES = 8


def require_video_library() -> None:
    """Raise ValueError (one line, the install command) when PyAV is missing; checked before any work."""
    try:
        import av  # noqa: F401
    except ImportError:
        raise ValueError("--video needs PyAV: pip install 'leod[video]' (or pip install av)") from None


def compose_frame(rep: np.ndarray, pred: np.ndarray, track_ids: np.ndarray | None, gt: np.ndarray | None,
                  class_names: tuple[str, ...], scale: int, title: str = "") -> np.ndarray:
    """RGB uint8 (H, W, 3) of one window: events with the predicted boxes (red: class, score, ``#track``),
    and when ``gt`` is given (None: no labels) a second panel beside with the GT boxes (green).

    ``pred``: (N, 7) and ``gt``: (M, >=6) boxes in representation pixels. Width and height are even
    (H.264's 4:2:0 sampling needs it).
    """
    events = render_events(rep, scale)
    left = draw_boxes(events.copy() if gt is not None else events, pred, PRED_COLOR, scale, class_names,
                      show_score=True, track_ids=track_ids, font=_FONT)
    panels = [left]
    if gt is not None:
        panels.append(draw_boxes(events, gt, GT_COLOR, scale, class_names, label_below=True, font=_FONT))
    width, height = sum(p.width for p in panels), left.height
    canvas = Image.new("RGB", (width + width % 2, height + height % 2), (255, 255, 255))
    x = 0
    for p in panels:
        canvas.paste(p, (x, 0))
        x += p.width
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 4), title, fill=(0, 0, 0), font=_FONT)
    if gt is not None:
        draw.text((left.width + 4, 4), "ground truth", fill=GT_COLOR, font=_FONT)
    return np.asarray(canvas)


class VideoWriter:
    """Write RGB frames of one size to ``path`` (H.264 MP4) and/or the first ``gif_frames`` to ``gif_path``.

    Both files are published by :meth:`close` (or the context exit) only when complete; a failure leaves
    neither, nor a temporary.
    """

    def __init__(self, path: str | Path | None, size_hw: tuple[int, int], fps: Fraction,
                 gif_path: str | Path | None = None, gif_frames: int = 0) -> None:
        self._contexts: list = []
        self._gif_path = Path(gif_path) if gif_path is not None else None
        self._gif: list[Image.Image] = []
        self._gif_frames = gif_frames if gif_path is not None else 0
        self._fps = Fraction(fps)
        self.frames = 0
        self._error: BaseException | None = None
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(_QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        if path is not None:
            import av

            ctx = atomic_path(path)
            tmp = ctx.__enter__()
            self._contexts.append(ctx)
            self._container = av.open(str(tmp), mode="w", format="mp4")
            stream = self._container.add_stream("libx264", rate=self._fps)
            stream.height, stream.width = size_hw
            stream.pix_fmt = "yuv420p"
            # one encoder thread: x264's default (one per core) would compete with the detector's threads
            stream.options = dict(X264_OPTIONS)
            self._stream = stream
            self._thread = threading.Thread(target=self._encode_loop, name="leod-video", daemon=True)
            self._thread.start()

    def _encode_loop(self) -> None:
        import av

        try:
            while (rgb := self._queue.get()) is not None:
                for packet in self._stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    self._container.mux(packet)
            for packet in self._stream.encode():  # flush the encoder's delayed frames
                self._container.mux(packet)
        except BaseException as exc:  # reported to the caller by add()/close()
            self._error = exc
            while self._queue.get() is not None:  # unblock the producer until it stops
                pass

    def add(self, rgb: np.ndarray) -> None:
        """Queue one frame (blocks while the encoder is ``_QUEUE_FRAMES`` frames behind)."""
        if self._error is not None:
            raise self._error
        if self._thread is not None:
            self._queue.put(rgb)
        if len(self._gif) < self._gif_frames:
            self._gif.append(Image.fromarray(rgb))
        self.frames += 1

    def close(self, exc: BaseException | None = None) -> None:
        """Finish the files; with ``exc`` (a failure) remove them instead."""
        try:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._container.close()
            if exc is None and self._error is not None:
                exc = self._error
                raise self._error
            if exc is None and self._gif_path is not None:
                with atomic_path(self._gif_path) as tmp:
                    frames = self._gif or [Image.new("RGB", (2, 2), (255, 255, 255))]
                    frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                                   duration=round(1000 / float(self._fps)))
        finally:
            for ctx in reversed(self._contexts):
                if exc is None:
                    ctx.__exit__(None, None, None)
                else:
                    ctx.__exit__(type(exc), exc, exc.__traceback__)
            self._contexts = []

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(exc)
