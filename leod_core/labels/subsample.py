"""LEOD label sparsity: WSOD keeps a ratio of label frames per sequence, SSOD a ratio of sequences.

Both rules follow LEOD exactly (docs/REFERENCE.md 4a, 4b); split offset 0 reproduces LEOD's released
"off0" splits. No randomness: a split is a pure function of (ratio, L, split_offset).

WSOD (``sequence_base.py::_subsample_labels`` + the shift in ``sequence_rnd.py``): ``skip =
round(1/ratio)``; ``offset`` = first label frame whose representation index is >= L-1 (enough history
for one random-access clip); kept frames = ``offset, offset+skip, ...`` below n.

Split offsets (our choice; LEOD released only split 0 and says the paper's 3 splits offset the start):
split k starts at ``offset + k * (skip // 3)``, so splits 0, 1, 2 spread evenly inside one period and
never overlap for skip >= 3. If a split starts past the last frame, the last frame is kept.

SSOD (``utils/preprocessing.py::subsample_sequence``): sorted names, ``num = round(N*ratio)``,
``k = N // num``, kept = ``sorted[split_offset % k :: k][:num]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from leod_core.config import Setting

__all__ = ["subsample_frames", "subsample_sequences", "subsample_table", "first_frame_with_history"]

log = logging.getLogger(__name__)


def first_frame_with_history(frame_repr_idx: np.ndarray, L: int) -> int | None:
    """Index of the first label frame whose repr index is >= L-1 (LEOD's random-access offset), or None."""
    hits = np.flatnonzero(np.asarray(frame_repr_idx) >= L - 1)
    return int(hits[0]) if len(hits) else None


def subsample_frames(frame_repr_idx: np.ndarray, ratio: float, L: int, split_offset: int = 0) -> np.ndarray:
    """WSOD: indices (into the sorted label frames of one sequence) of the label frames to keep.

    ``frame_repr_idx``: sorted repr index of every label frame of the sequence (LEOD's
    ``objframe_idx_2_repr_idx``). ``ratio == 1`` keeps every frame. Returns int64 indices, ascending.
    """
    frame_repr_idx = np.asarray(frame_repr_idx)
    n = len(frame_repr_idx)
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"subsample ratio must be in (0, 1], got {ratio}")
    if split_offset < 0:
        raise ValueError(f"split_offset must be >= 0, got {split_offset}")
    if n == 0 or ratio == 1.0:
        return np.arange(n, dtype=np.int64)
    if np.any(np.diff(frame_repr_idx) <= 0):
        raise ValueError("frame_repr_idx must be strictly increasing")
    skip = round(1.0 / ratio)
    # LEOD leaves the indices unshifted when no frame has L-1 reprs of history (the sequence is then
    # unused by the random-access loader but its list is still written to the split file).
    offset = first_frame_with_history(frame_repr_idx, L) or 0
    start = offset + split_offset * (skip // 3)
    kept = np.arange(start, n, skip, dtype=np.int64)
    if len(kept) == 0:
        kept = np.array([n - 1], dtype=np.int64)
    return kept


def subsample_sequences(names: Iterable[str], ratio: float, split_offset: int = 0) -> list[str]:
    """SSOD: the sequences that keep all their labels (the rest become unlabelled)."""
    ordered = sorted(names)
    n = len(ordered)
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"subsample ratio must be in (0, 1], got {ratio}")
    if n == 0 or ratio == 1.0:
        return ordered
    num = max(round(n * ratio), 1)
    k = n // num
    return ordered[split_offset % k::k][:num]


def _frames_per_sequence(full: pd.DataFrame) -> dict[str, np.ndarray]:
    return {str(seq): np.unique(g["frame_idx"].to_numpy()) for seq, g in full.groupby("sequence", sort=True)}


def subsample_table(full: pd.DataFrame, setting: str | Setting, ratio: float, L: int, split_offset: int = 0,
                    frame_repr_idx: Mapping[str, np.ndarray] | None = None,
                    sequences: Iterable[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a full ground-truth table into (kept, withheld) rows.

    WSOD keeps the rows of the kept label frames of every sequence; SSOD keeps every row of the kept
    sequences. ``withheld`` holds all other rows (GT of dropped frames/sequences; used only to measure
    pseudo-label quality). The two are disjoint and their union is ``full``.

    ``frame_repr_idx`` (optional, per sequence) lists all label frames (LEOD's objframe_idx_2_repr_idx);
    by default the label frames are the distinct ``frame_idx`` of the table. ``sequences`` (optional)
    is the SSOD population (all train sequence names); by default the sequences of the table.
    """
    setting = Setting(setting)
    if setting is Setting.WSOD:
        frames = dict(frame_repr_idx) if frame_repr_idx is not None else _frames_per_sequence(full)
        keep_pairs: list[tuple[str, int]] = []
        for seq, reprs in frames.items():
            reprs = np.asarray(reprs)
            kept = subsample_frames(reprs, ratio, L, split_offset)
            keep_pairs.extend((str(seq), int(r)) for r in reprs[kept])
        key = pd.MultiIndex.from_arrays([full["sequence"].astype(str), full["frame_idx"].astype(np.int64)])
        mask = key.isin(pd.MultiIndex.from_tuples(keep_pairs, names=["sequence", "frame_idx"])
                        if keep_pairs else pd.MultiIndex.from_arrays([[], []]))
    else:
        names = list(sequences) if sequences is not None else sorted(full["sequence"].astype(str).unique())
        kept_names = set(subsample_sequences(names, ratio, split_offset))
        mask = full["sequence"].astype(str).isin(kept_names).to_numpy()
    mask = np.asarray(mask, dtype=bool)
    kept_df = full[mask].reset_index(drop=True)
    withheld_df = full[~mask].reset_index(drop=True)
    log.info("subsample %s ratio=%g split=%d: kept %d rows (%d frames), withheld %d rows",
             setting.value, ratio, split_offset, len(kept_df),
             kept_df.groupby(["sequence", "frame_idx"]).ngroups if len(kept_df) else 0, len(withheld_df))
    return kept_df, withheld_df
