"""Every bad input docs/how-to/faults-and-resume.md lists, through the real CLI: exit code 1, exactly one console line
``leod <cmd>: error: ...`` naming the file/key, no traceback, and the output folder unchanged."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_error_line, run_leod, tree_digest, write_raw_sequence
from evt_encoders import encode_evt3, raw_header


def _truncated(raw: Path) -> str:
    dat = raw / "train" / "bad_td.dat"
    dat.write_bytes(dat.read_bytes()[:-3])
    return "truncated"


def _edit_events(raw: Path, edit: Callable[[np.ndarray], None]) -> None:
    """Rewrite the body of ``bad_td.dat`` after ``edit`` changed its (t, packed x|y|p) uint32 pairs."""
    from leod_core.events.dat_io import read_dat_header

    dat = raw / "train" / "bad_td.dat"
    start = read_dat_header(dat).body_offset
    body = dat.read_bytes()
    ev = np.frombuffer(body[start:], dtype=np.uint32).reshape(-1, 2).copy()
    edit(ev)
    dat.write_bytes(body[:start] + ev.tobytes())


def _no_header_garbage(raw: Path) -> str:
    # header-less .dat files are legal (Prophesee's oldest recordings): garbage without one is not
    (raw / "train" / "bad_td.dat").write_bytes(np.random.default_rng(0).bytes(8 * 100))
    return "bad_td.dat"


def _out_of_geometry(raw: Path) -> str:
    def edit(ev: np.ndarray) -> None:
        ev[5, 1] = (ev[5, 1] & ~np.uint32(0x3FFF)) | np.uint32(500)  # x = 500 on a 160-wide sensor
    _edit_events(raw, edit)
    return "outside"


def _bbox_dtype(raw: Path) -> str:
    np.save(raw / "train" / "bad_bbox.npy", np.zeros((2, 6), np.float64))
    return "bad_bbox.npy"


def _nan_boxes(raw: Path) -> str:
    path = raw / "train" / "bad_bbox.npy"
    boxes = np.load(path)
    boxes["w"][0] = np.nan
    np.save(path, boxes)
    return "NaN"


def _negative_boxes(raw: Path) -> str:
    path = raw / "train" / "bad_bbox.npy"
    boxes = np.load(path)
    boxes["h"][1] = -4
    np.save(path, boxes)
    return "negative"


def _missing_bbox(raw: Path) -> str:
    (raw / "train" / "bad_bbox.npy").unlink()
    return "bad"


def _as_raw(raw: Path, header: bytes | None = None, cut: int = 0, x_at: int | None = None) -> None:
    """Replace ``bad_td.dat`` by ``bad.raw``: the same events as EVT 3.0, with another header, the last
    ``cut`` bytes cut off, or one event moved to ``x = x_at``."""
    from leod_core.events.dat_io import read_dat

    dat = raw / "train" / "bad_td.dat"
    ev = read_dat(dat).events
    cols = {k: ev[k].astype(np.int64) for k in ("t", "x", "y", "p")}
    order = np.lexsort((cols["x"], cols["p"], cols["y"], cols["t"]))
    cols = {k: v[order] for k, v in cols.items()}
    keep = np.ones(len(order), bool)
    keep[1:] = np.any([np.diff(cols[k]) != 0 for k in cols], axis=0)  # a pixel fires once per microsecond
    cols = {k: v[keep] for k, v in cols.items()}
    if x_at is not None:
        cols["x"][-1] = x_at
    body = encode_evt3(cols).astype("<u2").tobytes()
    dat.unlink()
    (raw / "train" / "bad.raw").write_bytes((raw_header("EVT3", 120, 160) if header is None else header)
                                            + body[:len(body) - cut])


def _raw_unknown_format(raw: Path) -> str:
    _as_raw(raw, header=b"% format EVT9;height=120;width=160\n% end\n")
    return "unsupported event format"


def _raw_no_format(raw: Path) -> str:
    _as_raw(raw, header=b"% geometry 160x120\n% end\n")
    return "no format in the header"


def _raw_truncated(raw: Path) -> str:
    _as_raw(raw, cut=1)
    return "truncated EVT3"


def _raw_out_of_geometry(raw: Path) -> str:
    _as_raw(raw, x_at=500)
    return "outside"


def _csv_missing_column(raw: Path) -> str:
    (raw / "train" / "bad_bbox.npy").unlink()
    (raw / "train" / "bad_bbox.csv").write_text("t,x,y,w,class\n150000,10,10,30,0\n")
    return "column(s) h"


IMPORT_CASES: dict[str, Callable[[Path], str]] = {
    "truncated .dat": _truncated, "header-less garbage .dat": _no_header_garbage,
    "events outside the geometry": _out_of_geometry, "wrong bbox dtype": _bbox_dtype, "NaN box": _nan_boxes,
    "negative box": _negative_boxes, "missing _bbox.npy": _missing_bbox,
    ".raw unknown format": _raw_unknown_format, ".raw without format header": _raw_no_format,
    "truncated .raw": _raw_truncated, ".raw events outside the geometry": _raw_out_of_geometry,
    "label CSV missing a column": _csv_missing_column,
}
#: run as ``leod import`` (the new name); the others as ``leod import-prophesee`` (the old one still works)
NEW_NAME_CASES = {c for c in IMPORT_CASES if ".raw" in c or "CSV" in c}
#: cases refused while the sequences are listed, before any is imported: nothing is written at all
REFUSED_UP_FRONT = {"missing _bbox.npy"}


@pytest.mark.parametrize("case", list(IMPORT_CASES))
def test_import_bad_sequence(case: str, tmp_path: Path, prefect_url: str) -> None:
    raw = tmp_path / "raw"
    write_raw_sequence(raw / "train", "good", seed=1)
    write_raw_sequence(raw / "train", "bad", seed=2)
    needle = IMPORT_CASES[case](raw)
    raw_before = tree_digest(raw)
    command = "import" if case in NEW_NAME_CASES else "import-prophesee"
    proc = run_leod([command, str(raw), str(tmp_path / "data"), "--camera", "synth"], tmp_path, prefect_url)
    assert_one_error_line(proc, command, "bad", needle)
    assert tree_digest(raw) == raw_before  # the input is never touched
    data = tmp_path / "data"
    if case in REFUSED_UP_FRONT:
        assert not data.exists()
        return
    # the valid sequence is written completely, the broken one not at all, and no temporary file remains
    assert (data / "train" / "good" / "labels_v2" / "labels.npz").is_file()
    assert not (data / "train" / "bad").exists()
    assert not [p for p in data.rglob("*") if ".tmp" in p.name or ".old" in p.name]


def test_decreasing_timestamps_repaired_as_rvt(tmp_path: Path, prefect_url: str) -> None:
    """Time running backwards is not an error: RVT raises such timestamps to the running maximum, and
    so do we, with a warning naming the file."""
    raw = tmp_path / "raw"
    write_raw_sequence(raw / "train", "bad", seed=2)

    def edit(ev: np.ndarray) -> None:
        ev[[10, 2000], 0] = ev[[2000, 10], 0]
    _edit_events(raw, edit)
    proc = run_leod(["import-prophesee", str(raw), str(tmp_path / "data"), "--camera", "synth"], tmp_path, prefect_url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "bad_td.dat: timestamps decrease" in proc.stderr and "timestamps repaired" in proc.stdout


def test_missing_input_folder(tmp_path: Path, prefect_url: str) -> None:
    proc = run_leod(["import-prophesee", str(tmp_path / "nowhere"), str(tmp_path / "data"), "--camera", "synth"],
                    tmp_path, prefect_url)
    assert_one_error_line(proc, "import-prophesee", "nowhere")
    assert not (tmp_path / "data").exists()


def test_corrupt_hdf5_dataset(tmp_path: Path, prefect_url: str) -> None:
    raw = tmp_path / "raw"
    write_raw_sequence(raw / "train", "s0")
    assert run_leod(["import-prophesee", str(raw), str(tmp_path / "data"), "--camera", "synth"], tmp_path,
                    prefect_url).returncode == 0
    h5 = next((tmp_path / "data").rglob("*.h5"))
    h5.write_bytes(b"this is not HDF5" + h5.read_bytes()[16:])
    before = tree_digest(tmp_path / "data")
    proc = run_leod(["stats", str(tmp_path / "data"), "--camera", "synth"], tmp_path, prefect_url)
    assert_one_error_line(proc, "stats", h5.name)
    assert tree_digest(tmp_path / "data") == before


@pytest.mark.parametrize("override,key", [("subsample.ratio=7", "subsample.ratio"),
                                          ("train.steps=-1", "train.steps"),
                                          ("no_such.key=1", "no_such")])
def test_bad_params(override: str, key: str, tmp_path: Path, prefect_url: str) -> None:
    proc = run_leod(["subsample", "--params", str(Path(__file__).resolve().parents[2] / "params.yaml"),
                     "-S", override, "--out", str(tmp_path / "labels")], tmp_path, prefect_url)
    assert_one_error_line(proc, "subsample", key)
    assert not (tmp_path / "labels").exists()


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch pwned",))


def test_untrusted_pickle_refused(tmp_path: Path, prefect_url: str) -> None:
    import torch

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "hyper_parameters": _Evil()}, evil)
    with open(tmp_path / "plain.pkl", "wb") as f:  # a bare pickle, not even a torch zip
        pickle.dump(_Evil(), f)
    for src in (evil, tmp_path / "plain.pkl"):
        proc = run_leod(["import-checkpoint", str(src), str(tmp_path / "out.pt")], tmp_path, prefect_url)
        assert_one_error_line(proc, "import-checkpoint", src.name)
        assert not (tmp_path / "pwned").exists(), "the pickle ran code"
        assert not (tmp_path / "out.pt").exists()


def test_missing_checkpoint(tmp_path: Path, prefect_url: str) -> None:
    proc = run_leod(["import-checkpoint", str(tmp_path / "none.ckpt"), str(tmp_path / "out.pt")], tmp_path,
                    prefect_url)
    assert_one_error_line(proc, "import-checkpoint", "none.ckpt")
