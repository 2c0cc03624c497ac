"""Sensor/dataset facts per camera: resolution, classes, label filters, evaluation filters.

Values for ``gen1`` and ``gen4`` follow RVT/LEOD (docs/REFERENCE.md sections 1-3, 12). ``synth`` is the
embedded synthetic event camera (a scaled-down Gen1: same classes, filters scaled by 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CameraSpec", "CAMERAS", "get_camera", "IGNORE_CLASS_ID"]

#: class id of ignore boxes (tracker-rejected, inpainted, low-confidence pseudo boxes), as in LEOD.
IGNORE_CLASS_ID = 1024


@dataclass(frozen=True)
class CameraSpec:
    """Everything that differs between datasets/cameras. Sizes are (height, width) in pixels."""

    name: str
    sensor_hw: tuple[int, int]  # full sensor resolution of raw events and raw labels
    downsample_by_2: bool  # representation (and labels at load time) at half resolution
    class_names: tuple[str, ...]
    max_raw_class_id: int | None  # raw labels with a larger class id are dropped at import (gen4: 2)
    # import-time size filter at full resolution: keep w^2+h^2 >= d^2 and w >= s and h >= s
    import_min_diag: float
    import_min_side: float
    # evaluation filter, in the evaluation pixel space (already halved for gen4)
    eval_min_diag: float
    eval_min_side: float
    eval_skip_us: int  # boxes with t <= this are not evaluated
    partition_split_32: int  # padded input is a multiple of 32 * this
    tflip_offset: int  # label index offset of a prediction made on a time-reversed stream
    label_period_us: int | None  # base label period for the label-frame grid (None: from the data)
    sequence_length: int  # LEOD's L for label-efficient configs

    @property
    def repr_hw(self) -> tuple[int, int]:
        """Resolution of the event representation and of the network input before padding."""
        h, w = self.sensor_hw
        return (h // 2, w // 2) if self.downsample_by_2 else (h, w)

    @property
    def input_hw(self) -> tuple[int, int]:
        """Network input size: repr size zero-padded (bottom/right) to a multiple of 32*split."""
        m = 32 * self.partition_split_32
        h, w = self.repr_hw
        return (-(-h // m) * m, -(-w // m) * m)

    @property
    def partition_hw(self) -> tuple[int, int]:
        """MaxViT window/grid partition size, derived from the padded input size."""
        h, w = self.input_hw
        m = 32 * self.partition_split_32
        return (h // m, w // m)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def label_scale(self) -> float:
        """Factor from raw-label (sensor) pixels to representation pixels."""
        return 0.5 if self.downsample_by_2 else 1.0

    @property
    def repr_h5_name(self) -> str:
        return "event_representations_ds2_nearest.h5" if self.downsample_by_2 else "event_representations.h5"


CAMERAS: dict[str, CameraSpec] = {
    "gen1": CameraSpec(
        name="gen1", sensor_hw=(240, 304), downsample_by_2=False, class_names=("car", "ped"),
        max_raw_class_id=None, import_min_diag=30, import_min_side=10,
        eval_min_diag=30, eval_min_side=10, eval_skip_us=500_000, partition_split_32=1,
        tflip_offset=-1, label_period_us=250_000, sequence_length=21,
    ),
    "gen4": CameraSpec(
        name="gen4", sensor_hw=(720, 1280), downsample_by_2=True, class_names=("ped", "cyc", "car"),
        max_raw_class_id=2, import_min_diag=0, import_min_side=5,
        eval_min_diag=30, eval_min_side=10, eval_skip_us=500_000, partition_split_32=2,
        tflip_offset=-2, label_period_us=None, sequence_length=10,
    ),
    "synth": CameraSpec(
        name="synth", sensor_hw=(120, 160), downsample_by_2=False, class_names=("car", "ped"),
        max_raw_class_id=None, import_min_diag=15, import_min_side=5,
        eval_min_diag=15, eval_min_side=5, eval_skip_us=500_000, partition_split_32=1,
        tflip_offset=-1, label_period_us=50_000, sequence_length=10,
    ),
}


def get_camera(name: str) -> CameraSpec:
    """Return the spec of a camera by name; unknown names raise ValueError listing the allowed ones."""
    try:
        return CAMERAS[name]
    except KeyError:
        raise ValueError(f"unknown camera {name!r}; allowed: {', '.join(CAMERAS)}") from None
