"""A fake detector and a tiny RVT-layout sequence with one moving blob, for the pseudo-label tests.

The sequence's ground-truth frames (``objframe_idx_2_repr_idx.npy``) are ``GT_FRAMES`` unless given.
Repr r shows a bright 8x8 blob (channel 0) with top-left (BLOB_X0 + r, BLOB_Y); the fake detector
reports the bounding box of the non-zero pixels of the input it just consumed, class 0, scores 0.9, so
every view's prediction can be computed by hand.
"""

from __future__ import annotations

import numpy as np
import torch

from leod_core.events.h5_store import write_representations
from leod_core.layout import SequencePaths
from tiny_config import small_camera

REPR_HW = (32, 40)
BLOB_X0, BLOB_Y, BLOB = 2, 10, 8
NUM_REPRS = 30
GT_FRAMES = (12, 22)  # the dataset's label frames of a blob sequence (kept or withheld by a test)


class BlobDetector:
    """Stateless stand-in for the Detector protocol used by leod_core.inference.stream: the bounding box
    of the non-zero pixels of ``channels`` (all by default; ``slice(10, None)``: the ON bins)."""

    training = False

    def __init__(self, channels: slice = slice(None)) -> None:
        self.channels = channels

    def forward_backbone(self, x, states=None, token_mask=None):
        return {2: x}, states

    def predict(self, features, conf_threshold=0.1, nms_iou=0.45):
        out = []
        for img in features[2]:
            ys, xs = torch.nonzero(img[self.channels].sum(0), as_tuple=True)
            if len(xs) == 0:
                out.append(np.zeros((0, 7), np.float32))
                continue
            x1, y1 = float(xs.min()), float(ys.min())
            w, h = float(xs.max()) - x1 + 1, float(ys.max()) - y1 + 1
            out.append(np.array([[x1, y1, w, h, 0, 0.9, 0.9]], np.float32))
        return out


def blob_box(r: int) -> np.ndarray:
    """Box (repr pixels) the fake detector returns for repr r."""
    return np.array([BLOB_X0 + r, BLOB_Y, BLOB, BLOB], np.float32)


def camera_for(downsample: bool):
    return small_camera(REPR_HW, downsample)


def write_blob_sequence(root, name: str, camera, n: int = NUM_REPRS, gt_frames=GT_FRAMES) -> SequencePaths:
    seq = SequencePaths(root / "train" / name, camera)
    seq.repr_dir.mkdir(parents=True)
    frames = np.zeros((n, 20, *camera.repr_hw), np.uint8)
    for r in range(n):
        x = BLOB_X0 + r
        frames[r, 0, BLOB_Y:BLOB_Y + BLOB, x:x + BLOB] = 3
    write_representations(seq.repr_h5, list(frames), camera.repr_hw)
    np.save(seq.repr_timestamps, (np.arange(n, dtype=np.int64) + 1) * 50_000)
    np.save(seq.objframe_idx_2_repr_idx, np.asarray(gt_frames, dtype=np.int64))
    return seq
