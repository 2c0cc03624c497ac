"""Task of ``leod predict``: one recording streamed through the detector (mapped over recordings).

Tasks receive the checkpoint *path*, never the model: each worker loads the weights once (cached).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

from leod_core.config import LeodConfig

__all__ = ["predict_one"]


@functools.lru_cache(maxsize=2)
def _load(ckpt: str, camera: str | None, device: str, mtime_ns: int) -> tuple[Any, Any]:
    # keyed by mtime too: a new checkpoint at the same path is loaded again
    from leod_core.predict.run import load_predictor

    return load_predictor(ckpt, camera, device)


def predict_one(recording: str, ckpt: str, out: str, cfg: LeodConfig, camera: str | None = None,
                track: bool = False, video: bool = False, gif: bool = False, labels: str | None = None,
                at_labels: bool = False, device: str = "cpu") -> dict[str, Any]:
    """``predict_recording`` on one recording; returns its summary (name, counts, frames/s, files)."""
    from leod_core.compute import use_threads

    from leod_core.predict.run import predict_recording

    use_threads(cfg.train.threads)
    model, cam = _load(str(ckpt), camera, device, Path(ckpt).stat().st_mtime_ns)
    res = predict_recording(model, recording, cam, out, cfg.predict, tracker=cfg.pseudo.tracker if track else None,
                            video=video, gif=gif, labels=labels, at_labels=at_labels, device=device)
    summary = dataclasses.asdict(res)
    summary["files"] = [str(f) for f in res.files]
    summary["frames_per_s"] = res.frames_per_s
    return summary
