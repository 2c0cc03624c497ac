"""Label filters and the label-frame / representation time grid of a sequence (docs/REFERENCE.md 1b, 3a).

Label frames follow RVT (``labels_and_ev_repr_timestamps``): the first unique box timestamp >= 100 ms,
then every unique timestamp within +-2 ms of a positive multiple of the base label period. The
representation grid differs from RVT's released script on purpose (REFERENCE 1b "Gen1 caveat"): it is a
uniform 50 ms grid anchored on the label timestamps (gen1: 5 reprs per 250 ms instead of 2), which is
what the distributed gen1 data and the model's 50 ms step imply. For gen4 (about 100 ms base period) the
grid equals RVT's exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from leod_core.cameras import CameraSpec
from leod_core.representation import REPR_STEP_US

__all__ = [
    "REPR_STEP_US", "ALIGN_T_US", "JITTER_US", "apply_label_filters", "base_label_period_us",
    "label_frames_and_repr_grid", "LabelGrid",
]

ALIGN_T_US = 100_000  # the first label frame is the first label at or after 100 ms
JITTER_US = 2_000  # accepted deviation of a label time from a multiple of the base period


def apply_label_filters(boxes: np.ndarray, camera: CameraSpec, split: str, source: str = "labels") -> np.ndarray:
    """RVT's import-time box filters, in RVT's order; returns a filtered copy (input untouched).

    0. a class id beyond the camera's class list (where the camera does not drop them) is refused: one
       line naming ``source`` (the label file) and the camera key;
    1. drop classes above ``camera.max_raw_class_id`` (gen4: keep ped, two-wheeler, car);
    2. crop to the sensor (x1, y1, x2, y2 clipped to [0, W-1] / [0, H-1]), drop empty boxes;
    3. size filter: w^2 + h^2 >= min_diag^2 and w, h >= min_side (gen4: only sides >= 5);
    4. train split only: drop "faulty huge" boxes wider than floor(9 W / 10).
    """
    labels = boxes.copy()
    if camera.max_raw_class_id is None and len(labels) and int(labels["class_id"].max()) >= camera.num_classes:
        bad = int(labels["class_id"].max())
        raise ValueError(f"{source}: class_id {bad} is beyond camera {camera.name!r}'s {camera.num_classes} classes "
                         f"(dataset.camera.class_names: {', '.join(camera.class_names)})")
    if camera.max_raw_class_id is not None:
        labels = labels[labels["class_id"] <= camera.max_raw_class_id]
    height, width = camera.sensor_hw
    # float32 arithmetic on the float32 fields, as RVT's numpy code does
    x1 = np.clip(labels["x"], 0, width - 1)
    y1 = np.clip(labels["y"], 0, height - 1)
    x2 = np.clip(labels["x"] + labels["w"], 0, width - 1)
    y2 = np.clip(labels["y"] + labels["h"], 0, height - 1)
    labels["x"], labels["y"], labels["w"], labels["h"] = x1, y1, x2 - x1, y2 - y1
    labels = labels[(labels["w"] > 0) & (labels["h"] > 0)]
    w, h = labels["w"], labels["h"]
    keep = (w >= camera.import_min_side) & (h >= camera.import_min_side)
    if camera.import_min_diag > 0:
        keep &= w ** 2 + h ** 2 >= camera.import_min_diag ** 2
    labels = labels[keep]
    if split == "train":
        labels = labels[labels["w"] <= (9 * width) // 10]
    return labels


def base_label_period_us(unique_ts_us: np.ndarray, camera: CameraSpec) -> int:
    """The label period the frame grid snaps to: fixed per camera, or (gen4) about 100 ms from the data.

    gen4 labels come at 30 or 60 Hz; RVT sub-samples them to ~10 Hz: 3 or 6 times the median spacing.
    """
    if camera.label_period_us is not None:
        return camera.label_period_us
    if len(unique_ts_us) < 2:
        raise ValueError(f"{camera.name}: cannot infer the label rate from {len(unique_ts_us)} label time(s)")
    median = float(np.median(np.diff(unique_ts_us)))
    hz = int(np.rint(1e6 / median))
    if hz not in (30, 60):
        raise ValueError(f"{camera.name}: labels at {hz} Hz (median spacing {median:.0f} us); expected 30 or 60 Hz")
    return int(6 * median if hz == 60 else 3 * median)


class LabelGrid(NamedTuple):
    """Label frames of a sequence and the representation grid (all int64 microseconds / indices)."""

    frame_ts_us: np.ndarray  # (F,) time of each label frame
    repr_end_ts_us: np.ndarray  # (T,) end time of each 50 ms representation window
    objframe_idx_2_repr_idx: np.ndarray  # (F,) repr index of each label frame


def label_frames_and_repr_grid(box_ts_unique: np.ndarray, camera: CameraSpec) -> LabelGrid:
    """Label frames and the uniform 50 ms representation grid anchored on them.

    Reprs end every 50 ms going back from the first label frame (while the window start stays > 0, as
    RVT: the earliest positive step is dropped) and between consecutive label frames (an evenly spaced
    linspace, so jittered label times are hit exactly); the grid stops at the last label frame.
    Raises ValueError if no label lies at or after 100 ms.
    """
    ts = np.unique(np.asarray(box_ts_unique, dtype=np.int64))
    first = int(np.searchsorted(ts, ALIGN_T_US, side="left"))
    if first == len(ts):
        raise ValueError(f"no label at or after {ALIGN_T_US} us (last label at {ts[-1] if len(ts) else None})")
    base = base_label_period_us(ts, camera)
    steps_per_base = max(int(round(base / REPR_STEP_US)), 1)
    frames = [int(ts[first])]
    steps_between: list[int] = []
    for t in ts[first + 1:]:
        diff = int(t) - frames[-1]
        count = round(diff / base)
        # RVT asserts count > 0; two labels within the jitter of each other keep the first one
        if count > 0 and abs(diff - count * base) <= JITTER_US:
            frames.append(int(t))
            steps_between.append(count * steps_per_base)
    frame_ts = np.asarray(frames, dtype=np.int64)

    before = list(range(frames[0], 0, -REPR_STEP_US))[::-1][1:-1]  # RVT: drop the earliest step and frame 0
    grid: list[int] = before
    for i, n in enumerate(steps_between):
        grid.extend(np.linspace(frames[i], frames[i + 1], n + 1).astype(np.int64).tolist()[:-1])
    grid.append(frames[-1])
    repr_ts = np.asarray(grid, dtype=np.int64)
    idx = np.searchsorted(repr_ts, frame_ts, side="left").astype(np.int64)
    if not np.array_equal(repr_ts[idx], frame_ts) or np.any(np.diff(repr_ts) <= 0):
        raise AssertionError("label frame timestamps must equal representation end timestamps")
    return LabelGrid(frame_ts_us=frame_ts, repr_end_ts_us=repr_ts, objframe_idx_2_repr_idx=idx)
