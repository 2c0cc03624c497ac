"""Random-access training clips (LEOD ``SequenceForRandomAccess`` + ``SequenceDataset``, REFERENCE 7, 7a).

Items are the label frames of every training sequence, minus the first ``offset`` frames that lack
L-1 reprs of history (``offset`` = first label frame with repr index >= L-1). Item i of a sequence is
the clip of reprs ``[r-L+1, r]`` ending at label frame ``i + offset``, with the kept labels of every
repr inside. A clip without any kept label (sparse WSOD labels) is replaced by the clip of a random
kept frame, as LEOD does. ``is_first`` is always True (the RNN state is reset).

Time flip (drawn per clip): label frame ``i`` (LEOD does not apply the offset here) at repr r; the
window ends at ``min(T, r - tflip_offset + L)``, repr j shows the label of repr ``j + tflip_offset``,
and the clip is reversed with its channels flipped, so the label lands as late as possible. The last
label frame has no repr after it and is never time-flipped.
"""

from __future__ import annotations

import logging

import numpy as np

from leod_core.cameras import CameraSpec
from leod_core.config import AugmentConfig
from leod_core.data.augment import (
    NO_AUGMENT, AugmentParams, apply_spatial, place_zoom_in, sample_random_params, time_flip_frames,
)
from leod_core.data.batch import ClipSample
from leod_core.data.clip import ReprFiles, read_clip_u8
from leod_core.data.sequence import TrainSequence
from leod_core.labels.subsample import first_frame_with_history

__all__ = ["RandomClipDataset"]

log = logging.getLogger(__name__)

_MAX_RESAMPLE = 32  # LEOD retries forever; a bounded loop then a plain forward clip is equivalent in practice


class RandomClipDataset:
    """Label-frame clips of length L; ``sample(index, rng)`` draws augmentation and resampling from ``rng``."""

    def __init__(self, sequences: list[TrainSequence], camera: CameraSpec, L: int,
                 augment: AugmentConfig | None = None, files: ReprFiles | None = None) -> None:
        self.camera = camera
        self.L = L
        self.augment = augment
        self.files = files or ReprFiles()
        self.sequences: list[TrainSequence] = []
        self._offsets: list[int] = []
        counts = []
        for seq in sequences:
            frames = seq.labels.frame_repr_idx
            offset = first_frame_with_history(frames, L)
            usable = offset is not None and np.any(seq.labels.kept_repr_idx >= frames[offset])
            if not usable or seq.num_reprs < L:
                log.debug("random access: sequence %s has no label frame with %d reprs of history", seq.name, L - 1)
                continue
            self.sequences.append(seq)
            self._offsets.append(offset)
            counts.append(len(frames) - offset)
        self._cum = np.cumsum([0] + counts)

    def __len__(self) -> int:
        return int(self._cum[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """(sequence position, item index inside that sequence) of a dataset index."""
        if not 0 <= index < len(self):
            raise IndexError(f"random-access index {index} out of range [0, {len(self)})")
        s = int(np.searchsorted(self._cum, index, side="right") - 1)
        return s, int(index - self._cum[s])

    # ----------------------------------------------------------------------------------- windows
    def _window(self, s: int, frame: int, tflip: bool) -> tuple[int, int] | None:
        """Repr window [start, stop) of label frame ``frame``, or None when it cannot be used."""
        seq = self.sequences[s]
        frames = seq.labels.frame_repr_idx
        r = int(frames[frame])
        if not tflip:
            start = r - self.L + 1
            return (start, r + 1) if start >= 0 else None
        if frame == len(frames) - 1:
            return None
        stop = min(seq.num_reprs, r - self.camera.tflip_offset + self.L)
        start = stop - self.L
        return (start, stop) if start >= 0 else None

    def _labels(self, s: int, start: int, stop: int, tflip: bool):
        lab = self.sequences[s].labels
        shift = self.camera.tflip_offset if tflip else 0
        return [lab.get(j + shift) for j in range(start, stop)]

    def _resample_frame(self, s: int, tflip: bool, rng: np.random.Generator) -> int | None:
        """A random kept label frame usable in this mode (LEOD ``_rand_another``)."""
        lab = self.sequences[s].labels
        kept = np.searchsorted(lab.frame_repr_idx, lab.kept_repr_idx)
        kept = kept[kept < len(lab.frame_repr_idx) - 1] if tflip else kept[kept >= self._offsets[s]]
        return int(rng.choice(kept)) if len(kept) else None

    def can_time_flip(self, s: int) -> bool:
        lab = self.sequences[s].labels
        return not (len(lab.kept_repr_idx) == 1 and lab.kept_repr_idx[-1] == lab.frame_repr_idx[-1])

    # ----------------------------------------------------------------------------------- samples
    def sample(self, index: int, rng: np.random.Generator) -> ClipSample:
        """The augmented clip of item ``index``; every random choice comes from ``rng``."""
        s, item = self.locate(index)
        hw = self.camera.repr_hw
        params = sample_random_params(rng, self.augment, hw) if self.augment is not None else NO_AUGMENT
        tflip = params.tflip and self.can_time_flip(s)
        frame = item if tflip else item + self._offsets[s]
        for _ in range(_MAX_RESAMPLE):
            win = self._window(s, frame, tflip)
            if win is not None:
                labels = self._labels(s, *win, tflip)
                if any(b is not None for b in labels):
                    break
            nxt = self._resample_frame(s, tflip, rng)
            if nxt is None:
                tflip = False
                nxt = self._resample_frame(s, False, rng)
            frame = nxt
        else:  # give up time flip: a forward clip ending at a kept frame always has a label
            tflip = False
            frame = self._resample_frame(s, False, rng)
            win = self._window(s, frame, False)
            labels = self._labels(s, *win, False)
        params = AugmentParams(params.hflip, tflip, params.zoom_in, params.zoom_out)
        return self._build(s, win, labels, params, rng)

    def _build(self, s: int, win: tuple[int, int], labels, params: AugmentParams,
               rng: np.random.Generator) -> ClipSample:
        seq = self.sequences[s]
        start, stop = win
        ev = read_clip_u8(self.files.get(seq.paths.repr_h5), start, stop)
        ev_idx = list(range(start, stop))
        if params.tflip:
            ev = time_flip_frames(ev)
            labels, ev_idx = labels[::-1], ev_idx[::-1]
        params = place_zoom_in(params, labels, self.camera.repr_hw, rng)
        ev, (labels,) = apply_spatial(ev, [labels], params)
        return ClipSample(sequence=seq.name, ev=ev, labels=labels, ev_idx=ev_idx,
                          is_first=True, is_padded=np.zeros(self.L, dtype=bool), reversed=params.tflip)
