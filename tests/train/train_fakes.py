"""A tiny stand-in detector and loader with the real interfaces (fast, deterministic trainer tests)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from leod_core.data.batch import TrainBatch


class FakeDetector(nn.Module):
    """forward_backbone/loss like ``Detector``: a strided conv + BatchNorm + a 1x1 "LSTM", 4 stages of states.

    The forward adds a little noise from the global torch RNG, so a resume must restore the RNG to match.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(20, 4, 3, stride=4, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.gates = nn.Conv2d(8, 8, 1)
        self.head = nn.Linear(4, 3)

    def forward_backbone(self, x, states=None, token_mask=None):
        f = self.bn(self.stem(x)) + 0.01 * torch.randn(1)
        h, c = states[0] if states is not None else (torch.zeros_like(f), torch.zeros_like(f))
        i, g = self.gates(torch.cat([f, h], 1)).chunk(2, 1)
        c = torch.sigmoid(i) * c + torch.tanh(g)
        h = torch.tanh(c)
        feats = {1: h, 2: h, 3: h[:, :, ::2, ::2], 4: h[:, :, ::4, ::4]}
        return feats, [(h, c)] * 4

    def loss(self, features, targets, settings=None, num_classes=None):
        pooled = features[4].mean(dim=(2, 3))
        pred = self.head(pooled)  # (N, 3)
        want = torch.tensor([[len(t), float(np.sum(t[:, 2])) / 100 if len(t) else 0.0, 1.0] for t in targets])
        parts = ((pred - want) ** 2).mean(0)
        total = 5.0 * parts[0] + parts[1] + parts[2]
        return total, {"iou_loss": parts[0], "obj_loss": parts[1], "cls_loss": parts[2],
                       "num_fg": torch.tensor(float(len(targets)))}


class FakeLoader:
    """Endless mixed batches: 2 streaming slots (keys (0, s), a new sequence every 3 batches) + 1 random sample.

    ``state_dict`` holds the RNG and the batch count, so a resumed loader continues the same sequence.
    """

    def __init__(self, seed: int, length: int = 3, hw: tuple[int, int] = (16, 16)) -> None:
        self.rng = np.random.default_rng(seed)
        self.count = 0
        self.length = length
        self.hw = hw

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.count = state["count"]

    def __iter__(self):
        while True:
            yield self._batch()

    def _batch(self) -> TrainBatch:
        L, B = self.length, 3
        ev = torch.from_numpy(self.rng.random((L, B, 20, *self.hw), dtype=np.float32))
        labels: list[list] = [[None] * B for _ in range(L)]
        for t in range(L):
            for b in range(2):
                if self.rng.random() < 0.4:
                    labels[t][b] = self._boxes()
        labels[L - 1][2] = self._boxes()  # the random sample is labelled at its last step
        first = self.count % 3 == 0
        self.count += 1
        return TrainBatch(ev=ev, labels=labels, is_first=torch.tensor([first, first, True]),
                          is_padded=torch.zeros(L, B, dtype=torch.bool), state_keys=[(0, 0), (0, 1), None])

    def _boxes(self) -> np.ndarray:
        n = int(self.rng.integers(0, 3))
        out = np.zeros((n, 7), dtype=np.float32)
        out[:, :4] = self.rng.random((n, 4)) * 10
        out[:, 4] = self.rng.integers(0, 2, n)
        out[:, 5:] = 1.0
        return out


def write_tiny_synth_dataset(root, n_reprs: tuple[int, ...] = (14, 11), seed: int = 0, val: bool = False):
    """RVT layout at the synth camera's size (120x160): random sparse histograms, two boxes every 2nd repr.

    Returns the path of a round-0 style label table of the train split (all frames kept, source 'gt');
    ``val=True`` adds a one-sequence val split with its ``labels_full.parquet``.
    """
    from leod_core.labels.table import write_labels
    from leod_core.layout import labels_full_path

    rng = np.random.default_rng(seed)
    table = _write_split(root, "train", n_reprs, rng)
    if val:
        write_labels(_write_split(root, "val", (12,), rng), labels_full_path(root, "val"))
    return write_labels(table, root / "labels.parquet")


def _write_split(root, split: str, n_reprs: tuple[int, ...], rng: np.random.Generator):
    import pandas as pd

    from leod_core.cameras import get_camera
    from leod_core.events.h5_store import write_representations
    from leod_core.labels.table import validate_labels
    from leod_core.layout import SequencePaths

    cam = get_camera("synth")
    rows = []
    for i, n in enumerate(n_reprs):
        name = f"{split}_{i}"
        paths = SequencePaths(root / split / name, cam)
        paths.repr_dir.mkdir(parents=True)
        shape = (n, 20, *cam.repr_hw)
        frames = (rng.random(shape) < 0.05).astype(np.uint8) * rng.integers(1, 5, shape, dtype=np.uint8)
        write_representations(paths.repr_h5, list(frames), cam.repr_hw)
        np.save(paths.repr_timestamps, (np.arange(n, dtype=np.int64) + 1) * 50_000)
        label_reprs = np.arange(2, n, 2)
        np.save(paths.objframe_idx_2_repr_idx, label_reprs.astype(np.int64))
        for r in label_reprs:
            for k in range(2):
                rows.append(dict(sequence=name, frame_idx=int(r), t=int(r) * 50_000 + 600_000, x=10.0 + 30 * k + r,
                                 y=20.0 + 10 * k, w=24.0, h=18.0, class_id=k, class_confidence=1.0, objectness=1.0,
                                 is_gt=True, track_id=-1, source="gt"))
    return validate_labels(pd.DataFrame(rows))
