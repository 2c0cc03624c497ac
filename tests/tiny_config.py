"""The test suite's tiny training configurations and small cameras, in one place.

``load_config`` applies overrides in order, so a test passes only what it changes and its value wins over
the base's. Plain module (no fixture): ``tests/train/ddp_worker.py`` runs outside pytest and uses it too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from leod_core.cameras import CAMERAS, CameraSpec
from leod_core.config import LeodConfig
from flows.settings import load_config

__all__ = ["FAKE_TRAIN", "TINY_TRAIN", "small_camera", "tiny_config"]

#: the real nano detector on the synth camera: 3 steps of 2 x 3 reprs, a checkpoint at step 2
TINY_TRAIN = ("train.steps=3", "train.ckpt_every=2", "data.batch_size=2", "data.sequence_length=3",
              "train.pct_start=0.3", "model.preset=nano", "dataset.camera=synth")

#: ``run_training`` of tests/train/train_fakes.py's FakeDetector/FakeLoader: 4 steps, a checkpoint at step 2
FAKE_TRAIN = ("train.steps=4", "train.ckpt_every=2", "train.lr=1e-2", "train.pct_start=0.3")


def tiny_config(*overrides: str, base: Sequence[str] = TINY_TRAIN) -> LeodConfig:
    """``params.yaml``'s defaults, then ``base``, then ``overrides`` (``key=value``, later ones win)."""
    return load_config(None, [*base, *overrides])


def small_camera(repr_hw: tuple[int, int], downsample: bool = False) -> CameraSpec:
    """The synth camera with representations of ``repr_hw`` (its sensor twice that size when ``downsample``)."""
    h, w = repr_hw
    sensor = (2 * h, 2 * w) if downsample else (h, w)
    return dataclasses.replace(CAMERAS["synth"], sensor_hw=sensor, downsample_by_2=downsample)
