"""Camera specs (RVT facts) and atomic outputs."""

import os

import pytest

from leod_core.atomic import atomic_dir, atomic_path
from leod_core.cameras import get_camera


def test_rvt_input_sizes_and_partitions():
    gen1, gen4 = get_camera("gen1"), get_camera("gen4")
    assert gen1.input_hw == (256, 320) and gen1.partition_hw == (8, 10)
    assert gen4.repr_hw == (360, 640) and gen4.input_hw == (384, 640) and gen4.partition_hw == (6, 10)
    assert gen4.repr_h5_name == "event_representations_ds2_nearest.h5"
    assert gen1.tflip_offset == -1 and gen4.tflip_offset == -2


def test_unknown_camera():
    with pytest.raises(ValueError, match="allowed: gen1, gen4, synth"):
        get_camera("gen2")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    dst = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(dst) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == []
    with atomic_path(dst) as tmp:
        tmp.write_text("whole")
    assert dst.read_text() == "whole"


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    dst = tmp_path / "ds"
    with atomic_dir(dst) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(dst) as tmp:
            (tmp / "b").write_text("2")
            raise RuntimeError("killed")
    assert sorted(p.name for p in dst.iterdir()) == ["a"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_leftovers_of_a_killed_writer_are_removed_by_the_next(tmp_path):
    import subprocess
    import sys

    from leod_core.atomic import atomic_dir, atomic_path

    # a writer killed mid-way (its pid is gone) leaves temporaries; a live writer's are left alone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / f".out.{dead}.abc.tmp.txt").write_text("half")
    (tmp_path / f".data.{dead}.xyz.tmp").mkdir()
    (tmp_path / f".data.{dead}.xyz.tmp" / "part.h5").write_text("half")
    live = tmp_path / f".out.{os.getpid()}.def.tmp.txt"
    live.write_text("in progress")
    with atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("done")
    with atomic_dir(tmp_path / "data") as tmp:
        (tmp / "x").write_text("done")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["out.txt", "data", live.name])
