"""Sensor/dataset facts per camera: resolution, classes, label filters, evaluation filters.

A camera is data: :data:`CAMERAS` holds the three built-ins, and any other camera is a mapping of the
same fields (a block in params.yaml or a YAML file, :data:`CAMERA_FIELDS`), turned into a
:class:`CameraSpec` by :func:`resolve_camera` with one-line errors naming the key. Everything that
depends on the camera (class count, input padding, partition size, histogram size, label and evaluation
filters) follows from the spec.

Values for ``gen1`` and ``gen4`` follow RVT/LEOD (docs/REFERENCE.md sections 1-3, 12). ``synth`` is the
embedded synthetic event camera (a scaled-down Gen1: same classes, filters scaled by 0.5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from leod_core.representation import REPR_STEP_US

__all__ = [
    "CameraSpec", "CameraError", "CAMERAS", "CAMERA_FIELDS", "GEN4_ALL_CLASS_NAMES", "FROM_DATA",
    "get_camera", "resolve_camera", "camera_from_mapping", "load_camera_file", "is_camera_file",
    "IGNORE_CLASS_ID",
]

#: class id of ignore boxes (tracker-rejected, inpainted, low-confidence pseudo boxes), as in LEOD.
IGNORE_CLASS_ID = 1024

#: the 7 raw classes of the 1Mpx (gen4) label files (Prophesee / RVT); the built-in trains on ids 0-2
GEN4_ALL_CLASS_NAMES = ("pedestrian", "two wheeler", "car", "truck", "bus", "traffic sign", "traffic light")

#: ``label_period_us`` value of a camera whose base label period is estimated from the label times
FROM_DATA = "from_data"


class CameraError(ValueError):
    """A bad camera field; the message is one line naming the key (``dataset.camera.height=...``)."""


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
    # the label files' full class list where the camera trains on its first classes only (gen4: 7);
    # ``all_classes: true`` in a camera mapping trains on all of them
    all_class_names: tuple[str, ...] = ()

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

    @property
    def is_builtin(self) -> bool:
        """True when this is exactly a built-in camera (then its name alone stands for it, e.g. in weights)."""
        return CAMERAS.get(self.name) == self

    def to_dict(self) -> dict[str, Any]:
        """The camera as a mapping :func:`camera_from_mapping` reads back to an equal spec (plain YAML types)."""
        out: dict[str, Any] = {"name": self.name, "height": self.sensor_hw[0], "width": self.sensor_hw[1]}
        for f in dataclasses.fields(self):
            if f.name in ("name", "sensor_hw"):
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        if out["label_period_us"] is None:
            out["label_period_us"] = FROM_DATA
        return out

    def fits(self, other: CameraSpec) -> bool:
        """Whether a detector built for this camera can run on ``other`` (same class count and input size)."""
        return self.num_classes == other.num_classes and self.input_hw == other.input_hw

    def describe_fit(self) -> str:
        """What a detector for this camera is shaped by, for error messages."""
        h, w = self.input_hw
        return f"{self.num_classes} classes, input {h}x{w}"


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
        tflip_offset=-2, label_period_us=None, sequence_length=10, all_class_names=GEN4_ALL_CLASS_NAMES,
    ),
    "synth": CameraSpec(
        name="synth", sensor_hw=(120, 160), downsample_by_2=False, class_names=("car", "ped"),
        max_raw_class_id=None, import_min_diag=15, import_min_side=5,
        eval_min_diag=15, eval_min_side=5, eval_skip_us=500_000, partition_split_32=1,
        tflip_offset=-1, label_period_us=50_000, sequence_length=10,
    ),
}


def get_camera(name: str) -> CameraSpec:
    """Return the spec of a built-in camera by name; unknown names raise ValueError listing the allowed ones."""
    try:
        return CAMERAS[name]
    except KeyError:
        raise ValueError(f"unknown camera {name!r}; allowed: {', '.join(CAMERAS)}") from None


# ------------------------------------------------------------------------------------- camera mappings
def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _names(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and all(isinstance(x, str) and x.strip() for x in v) \
        and len(set(v)) == len(v)


#: field of a camera mapping -> (check, allowed-values text, default; ``...`` = required without ``base``).
#: ``base`` (a built-in whose fields are the defaults) and ``all_classes`` are read by camera_from_mapping.
CAMERA_FIELDS: dict[str, tuple[Any, str, Any]] = {
    "name": (lambda v: isinstance(v, str) and bool(v.strip()) and "/" not in v, "a non-empty name without '/'", ...),
    "height": (lambda v: _int(v) and v > 0, "an integer > 0 (sensor rows)", ...),
    "width": (lambda v: _int(v) and v > 0, "an integer > 0 (sensor columns)", ...),
    "class_names": (lambda v: _names(v) and len(v) >= 1, "a non-empty list of distinct class names", ...),
    "downsample_by_2": (lambda v: isinstance(v, bool), "true or false", False),
    "max_raw_class_id": (lambda v: v is None or (_int(v) and v >= 0),
                         "null (labels beyond the class list are refused) or the last class id kept", None),
    "import_min_diag": (lambda v: _num(v) and v >= 0, "pixels >= 0 (0 = no filter)", 0),
    "import_min_side": (lambda v: _num(v) and v >= 0, "pixels >= 0 (0 = no filter)", 0),
    "eval_min_diag": (lambda v: _num(v) and v >= 0, "pixels >= 0 in the representation's space", 0),
    "eval_min_side": (lambda v: _num(v) and v >= 0, "pixels >= 0 in the representation's space", 0),
    "eval_skip_us": (lambda v: _int(v) and v >= -1, "microseconds >= -1 (boxes with t <= it are not evaluated)",
                     500_000),
    "partition_split_32": (lambda v: _int(v) and 1 <= v <= 8, "an integer in [1, 8] (input padded to 32 x it)", 1),
    # -1: after reading window i backwards the stream's time is the end of window i-1 (REFERENCE, TTA)
    "tflip_offset": (lambda v: _int(v) and -10 <= v <= 0, "an integer in [-10, 0]", -1),
    "label_period_us": (lambda v: v is None or v == FROM_DATA or (_int(v) and v > 0 and v % REPR_STEP_US == 0),
                        f"{FROM_DATA} or a multiple of the 50 ms window in microseconds", FROM_DATA),
    "sequence_length": (lambda v: _int(v) and v >= 1, "an integer >= 1 (LEOD's L)", 10),
    "all_class_names": (lambda v: _names(v), "a list of distinct class names (the label files' full list)", ()),
}
_MAPPING_ONLY = {"base": "a built-in camera name", "all_classes": "true or false"}


def _bad(key: str, field: str, value: Any, allowed: str) -> CameraError:
    return CameraError(f"{key}.{field}={value!r} is invalid; allowed: {allowed}")


def camera_from_mapping(mapping: Mapping[str, Any], key: str = "dataset.camera") -> CameraSpec:
    """A :class:`CameraSpec` from a camera mapping (``CAMERA_FIELDS``, optionally ``base`` and ``all_classes``).

    ``base: gen4`` takes a built-in's fields as the defaults; ``all_classes: true`` trains on every class of
    ``all_class_names`` (gen4: all 7 raw classes instead of dropping ids > 2). ``key`` prefixes messages.
    """
    if not isinstance(mapping, Mapping):
        raise CameraError(f"{key}={mapping!r} is invalid; allowed: a camera name, mapping or YAML file")
    fields = dict(mapping)
    for field in fields:
        if field not in CAMERA_FIELDS and field not in _MAPPING_ONLY:
            raise CameraError(f"{key}.{field}: unknown camera field; allowed: "
                              f"{', '.join([*CAMERA_FIELDS, *_MAPPING_ONLY])}")
    base_name = fields.pop("base", None)
    all_classes = fields.pop("all_classes", False)
    if base_name is not None and base_name not in CAMERAS:
        raise _bad(key, "base", base_name, f"one of {', '.join(CAMERAS)}")
    if not isinstance(all_classes, bool):
        raise _bad(key, "all_classes", all_classes, _MAPPING_ONLY["all_classes"])
    values = {f: d for f, (_, _, d) in CAMERA_FIELDS.items()}
    if base_name is not None:
        values |= CAMERAS[base_name].to_dict()
    values |= fields
    for field, (ok, allowed, _) in CAMERA_FIELDS.items():
        if values[field] is ...:
            raise CameraError(f"{key}.{field}: missing; allowed: {allowed}")
        if not ok(values[field]):
            raise _bad(key, field, values[field], allowed)
    if all_classes:
        if not values["all_class_names"]:
            raise CameraError(f"{key}.all_classes=True needs {key}.all_class_names (the label files' classes)")
        if "max_raw_class_id" in fields and fields["max_raw_class_id"] is not None:
            raise CameraError(f"{key}.max_raw_class_id={fields['max_raw_class_id']} contradicts "
                              f"{key}.all_classes=True (which keeps every class)")
        values["class_names"], values["max_raw_class_id"] = values["all_class_names"], None
    n = len(values["class_names"])
    if values["max_raw_class_id"] is not None and values["max_raw_class_id"] != n - 1:
        raise _bad(key, "max_raw_class_id", values["max_raw_class_id"],
                   f"null or {n - 1} (the last of the {n} classes of {key}.class_names)")
    if values["downsample_by_2"] and (values["height"] % 2 or values["width"] % 2):
        raise CameraError(f"{key}.downsample_by_2=True needs an even {key}.height and {key}.width "
                          f"(got {values['height']}x{values['width']})")
    period = values["label_period_us"]
    return CameraSpec(
        name=values["name"], sensor_hw=(values["height"], values["width"]),
        downsample_by_2=values["downsample_by_2"], class_names=tuple(values["class_names"]),
        max_raw_class_id=values["max_raw_class_id"], import_min_diag=values["import_min_diag"],
        import_min_side=values["import_min_side"], eval_min_diag=values["eval_min_diag"],
        eval_min_side=values["eval_min_side"], eval_skip_us=values["eval_skip_us"],
        partition_split_32=values["partition_split_32"], tflip_offset=values["tflip_offset"],
        label_period_us=None if period in (None, FROM_DATA) else period,
        sequence_length=values["sequence_length"], all_class_names=tuple(values["all_class_names"]),
    )


def is_camera_file(value: Any) -> bool:
    """Whether a ``dataset.camera`` value names a camera file (a string that is not a built-in name)."""
    return isinstance(value, str) and value not in CAMERAS


def load_camera_file(path: str | Path, key: str = "dataset.camera") -> dict[str, Any]:
    """The mapping of a camera YAML file; a missing, unreadable or non-mapping file is one line naming it."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        raise CameraError(f"{key}={str(path)!r} is invalid; allowed: one of {', '.join(CAMERAS)}, a camera "
                          "mapping, or a camera file (*.yaml)")
    if not path.is_file():
        raise CameraError(f"{key}: camera file not found: {path}")
    try:
        mapping = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CameraError(f"{key}: {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(mapping, dict):
        raise CameraError(f"{key}: {path} is not a mapping of camera fields")
    return mapping


def resolve_camera(value: CameraSpec | str | Path | Mapping[str, Any], key: str = "dataset.camera") -> CameraSpec:
    """The camera a value stands for: a spec, a built-in name, a camera mapping, or a camera YAML file
    (relative to the working directory). Errors are one line naming ``key`` (and the file)."""
    if isinstance(value, CameraSpec):
        return value
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        if value in CAMERAS:
            return CAMERAS[value]
        try:
            return camera_from_mapping(load_camera_file(value, key), key)
        except CameraError as exc:
            if str(value) in str(exc):
                raise
            raise CameraError(f"{exc} (in {value})") from None
    return camera_from_mapping(value, key)
