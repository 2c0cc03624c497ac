"""Flow of ``leod predict``: a detector streamed over recordings, one mapped task per recording."""

from __future__ import annotations

import dataclasses
import functools
import logging
from pathlib import Path
from typing import Any

from prefect import flow

from flows.mlflow_log import stage_run
from flows.runtime import map_as_tasks
from flows.settings import load_config
from leod_core.config import LeodConfig

__all__ = ["predict_one", "predict_flow", "VIEWABLE_SUFFIXES"]


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


#: files of a prediction that are logged to MLflow (a person looks at them; the box files can be large)
VIEWABLE_SUFFIXES = (".mp4", ".gif")


@flow(name="predict", validate_parameters=False)
def predict_flow(recordings: list[str], ckpt: str, out: str, params: str | None = "params.yaml",
                 overrides: list[str] | None = None, camera: str | None = None, track: bool = False,
                 video: bool = False, gif: bool = False, labels: str | None = None, at_labels: bool = False,
                 device: str | None = None) -> list[dict[str, Any]]:
    """Predict on every recording (outputs under ``out``); returns one summary per recording."""
    from leod_core.compute import pick_device

    cfg = load_config(params, overrides)
    device = str(pick_device(device))
    with stage_run(cfg, "predict", deps=[ckpt], extra_tags={"ckpt": str(ckpt)}) as run:
        results = map_as_tasks(predict_one, recordings, name="predict-recording", label=lambda r: Path(r).name,
                               ckpt=ckpt, out=out, cfg=cfg, camera=camera, track=track, video=video, gif=gif,
                               labels=labels, at_labels=at_labels, device=device)
        run.log_metrics({"recordings": len(results), "frames": sum(r["frames"] for r in results),
                         "boxes": sum(r["boxes"] for r in results)})
        for f in (Path(f) for r in results for f in r["files"]):
            if f.suffix in VIEWABLE_SUFFIXES:  # the videos open in MLflow's artifact view; boxes stay on disk
                run.log_artifact(f, "predictions")
    return results


log = logging.getLogger(__name__)
