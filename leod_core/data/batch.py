"""One training sample (a clip of L reprs with its labels) and the collated ``TrainBatch`` (docs/DESIGN.md)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ClipSample", "TrainBatch", "collate"]


@dataclass
class ClipSample:
    """L timesteps of one sequence, after augmentation, at representation resolution (unpadded).

    Frames stay uint8 (raw counts <= 10, lossless under flips and nearest-exact zooms) until collation,
    which converts them once into the float32 batch: 4x less memory traffic than float clips.

    ``ev_idx`` holds the repr index shown at each step (-1 for padding; descending when time-flipped);
    ``labels[t]`` the kept boxes of step t or None.
    """

    sequence: str
    ev: torch.Tensor  # uint8 (L, 20, H, W)
    labels: list[np.ndarray | None]
    ev_idx: list[int]
    is_first: bool
    is_padded: np.ndarray  # bool (L,)
    reversed: bool = False


@dataclass
class TrainBatch:
    """What the trainer consumes; stream samples first, random-access samples second."""

    ev: torch.Tensor  # float32 (L, B, 20, Hp, Wp), zero-padded bottom/right to camera.input_hw (uint8 opt-in)
    labels: list[list[np.ndarray | None]]  # L x B; (N, 7) float32 FRAME_LABEL_COLUMNS or None
    is_first: torch.Tensor  # bool (B,): reset the RNN state of this slot
    is_padded: torch.Tensor  # bool (L, B)
    state_keys: list[Hashable | None]  # streaming slot keys; None = random sample (always reset)

    @property
    def num_labelled(self) -> int:
        return sum(b is not None for row in self.labels for b in row)


def collate(samples: Sequence[ClipSample], input_hw: tuple[int, int], state_keys: Sequence[Hashable | None],
            ev_dtype: torch.dtype = torch.float32) -> TrainBatch:
    """Stack samples along the batch axis (axis 1), zero-padded bottom/right to ``input_hw``.

    ``ev_dtype`` float32 is the contract; ``torch.uint8`` is an opt-in for speed (4x less host memory
    and host-to-device traffic; the trainer then casts on the device, as RVT does).
    """
    if len(samples) != len(state_keys):
        raise ValueError(f"{len(samples)} samples but {len(state_keys)} state keys")
    lengths = {len(s.ev) for s in samples}
    if len(lengths) != 1:
        raise ValueError(f"samples have different lengths {sorted(lengths)}")
    L, C = samples[0].ev.shape[:2]
    # torch.empty + writing every element once (data, then the padding) touches the memory once
    ev = torch.empty((L, len(samples), C, *input_hw), dtype=ev_dtype)
    for b, s in enumerate(samples):
        h, w = s.ev.shape[-2:]
        if h > input_hw[0] or w > input_hw[1]:
            raise ValueError(f"representation {h}x{w} is larger than the input size {input_hw[0]}x{input_hw[1]}")
        ev[:, b, :, :h, :w] = s.ev  # converts to ev_dtype
        ev[:, b, :, h:, :] = 0
        ev[:, b, :, :h, w:] = 0
    labels = [[s.labels[t] for s in samples] for t in range(L)]
    is_first = torch.tensor([s.is_first for s in samples], dtype=torch.bool)
    is_padded = torch.from_numpy(np.stack([np.asarray(s.is_padded, dtype=bool) for s in samples], axis=1))
    return TrainBatch(ev=ev, labels=labels, is_first=is_first, is_padded=is_padded, state_keys=list(state_keys))
