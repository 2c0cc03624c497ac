"""Scale-out: the import and pseudo-label flows on a 2-worker Dask cluster (prefect-dask, by address)
write the same outputs as the local thread-pool run.

The cluster runs its workers as threads of this process (tiny, starts in ~1 s on 2 busy cores) but talks
TCP, so every task and result is serialized exactly as it would be for a remote scheduler; the stub
detector (monkeypatched) reaches the workers because they share this process.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from flows.import_data import import_flow
from flows.pseudo_label import pseudo_label_flow
from flows.runtime import make_task_runner, run_flow
from flows.settings import OrchestrationConfig
from leod_core.events.dat_io import EVENT_DTYPE, write_dat
from leod_core.labels.boxes import PROPHESEE_BBOX_DTYPE
from pseudo_fakes import BlobDetector, write_blob_sequence


REPO = Path(__file__).resolve().parents[2]
THREADS = OrchestrationConfig(task_runner="thread", max_workers=2)


@pytest.fixture(scope="module")
def dask_address():
    """A local 2-worker Dask cluster (threads, TCP); yields its scheduler address."""
    distributed = pytest.importorskip("distributed")  # an extra: pip install -e '.[dask]'
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _dask(address: str) -> OrchestrationConfig:
    return OrchestrationConfig(task_runner="dask", dask_address=address)


def _tasks_done(address: str) -> int:
    """Tasks the cluster has computed so far (distinct keys that reached memory; one per Prefect task)."""
    from distributed import Client

    with Client(address) as client:
        return client.run_on_scheduler(
            lambda dask_scheduler: len({t[0] for t in dask_scheduler.transition_log if t[2] == "memory"}))


def _assert_same_tree(a: Path, b: Path) -> None:
    """Same relative files with the same content; HDF5/NPZ/Parquet compared by value (their bytes
    carry timestamps), symlinks by target."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file() or p.is_symlink())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file() or p.is_symlink())
    assert files_a == files_b and files_a
    for rel in files_a:
        pa, pb = a / rel, b / rel
        if pa.is_symlink() or pb.is_symlink():
            assert os.readlink(pa) == os.readlink(pb), rel
        elif rel.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(pa), pd.read_parquet(pb))
        elif rel.suffix == ".npz":
            with np.load(pa) as za, np.load(pb) as zb:
                assert sorted(za.files) == sorted(zb.files), rel
                for k in za.files:
                    np.testing.assert_array_equal(za[k], zb[k], err_msg=f"{rel}:{k}")
        elif rel.suffix in (".h5", ".hdf5"):
            with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
                names_a, names_b = [], []
                fa.visit(names_a.append)
                fb.visit(names_b.append)
                assert names_a == names_b, rel
                for n in names_a:
                    if isinstance(fa[n], h5py.Dataset):
                        np.testing.assert_array_equal(fa[n][()], fb[n][()], err_msg=f"{rel}:{n}")
        else:
            assert pa.read_bytes() == pb.read_bytes(), rel


def _raw(root: Path, n_seq: int = 3) -> None:
    """A tiny raw Prophesee dataset: ``n_seq`` train sequences and one test sequence."""
    rng = np.random.default_rng(0)
    for split, names in (("train", [f"s{i}" for i in range(n_seq)]), ("test", ["t0"])):
        (root / split).mkdir(parents=True)
        for name in names:
            ev = np.zeros(3000, EVENT_DTYPE)
            ev["t"] = np.sort(rng.integers(0, 300_000, 3000))
            ev["x"], ev["y"], ev["p"] = rng.integers(0, 160, 3000), rng.integers(0, 120, 3000), rng.integers(0, 2, 3000)
            write_dat(root / split / f"{name}_td.dat", ev, 120, 160)
            boxes = np.zeros(2, PROPHESEE_BBOX_DTYPE)
            boxes["t"], boxes["w"], boxes["h"], boxes["class_id"] = [150_000, 200_000], 30, 20, [0, 1]
            np.save(root / split / f"{name}_bbox.npy", boxes)


def test_make_task_runner_dask():
    pytest.importorskip("prefect_dask")
    remote = make_task_runner(_dask("tcp://10.0.0.1:8786"))
    assert remote.address == "tcp://10.0.0.1:8786"
    local = make_task_runner(OrchestrationConfig(task_runner="dask", max_workers=3))
    assert local.address is None
    assert local.cluster_kwargs["n_workers"] == 3 and local.cluster_kwargs["threads_per_worker"] == 1
    assert local.cluster_kwargs["dashboard_address"].startswith("127.0.0.1:")  # never 0.0.0.0, never a fixed port


def test_import_on_dask_matches_threads(tmp_path, dask_address, prefect_harness, mlflow_uri):
    _raw(tmp_path / "raw")
    for name, orch in (("threads", THREADS), ("dask", _dask(dask_address))):
        before = _tasks_done(dask_address)
        summaries = run_flow(import_flow, orch, src=str(tmp_path / "raw"), dst=str(tmp_path / name),
                             camera="synth", params=None)
        assert len(summaries) == 4
        ran_on_dask = _tasks_done(dask_address) - before
        assert ran_on_dask >= 4 if name == "dask" else ran_on_dask == 0
    _assert_same_tree(tmp_path / "threads", tmp_path / "dask")


def test_pseudo_label_on_dask_matches_threads(tmp_path, monkeypatch, dask_address, prefect_harness, mlflow_uri):
    import torch

    import leod_core.train.checkpoint as checkpoint
    from leod_core.cameras import get_camera
    from leod_core.labels.table import read_labels, validate_labels, write_labels

    torch.set_num_threads(1)
    cam = get_camera("synth")
    for name in ("a", "b", "c"):
        write_blob_sequence(tmp_path / "data", name, cam)
    (tmp_path / "art/round_0/model").mkdir(parents=True)
    (tmp_path / "art/round_0/model/last.pt").write_bytes(b"")
    gt = validate_labels(pd.DataFrame([dict(sequence="a", frame_idx=12, t=13 * 50_000, x=14.0, y=10.0, w=8.0,
                                            h=8.0, class_id=0, class_confidence=1.0, objectness=1.0, is_gt=True,
                                            track_id=-1, source="gt")]))
    write_labels(gt, tmp_path / "art/round_0/labels/labels.parquet")
    # dask workers here are threads of this process: they see the stub too
    monkeypatch.setattr(checkpoint, "load_detector", lambda path, map_location="cpu", **_: BlobDetector())
    overrides = [f"paths.dataset={tmp_path}/data", f"paths.artifacts={tmp_path}/art", "train.threads=1"]
    counts = {}
    for name, orch in (("threads", THREADS), ("dask", _dask(dask_address))):
        before = _tasks_done(dask_address)
        counts[name] = run_flow(pseudo_label_flow, orch, round_idx=1, params=str(REPO / "params.yaml"),
                                overrides=overrides, device="cpu", out=str(tmp_path / name))
        assert counts[name].pop("out") == str(tmp_path / name)
        ran_on_dask = _tasks_done(dask_address) - before
        assert ran_on_dask >= 3 if name == "dask" else ran_on_dask == 0
    assert counts["dask"] == counts["threads"] and counts["threads"]["pseudo"] > 40
    pd.testing.assert_frame_equal(read_labels(tmp_path / "dask/labels.parquet"),
                                  read_labels(tmp_path / "threads/labels.parquet"))
    _assert_same_tree(tmp_path / "threads", tmp_path / "dask")


def test_local_dask_cluster_gets_one_shared_server(prefect_harness, monkeypatch):
    """Without PREFECT_API_URL a local cluster's worker processes could not reach this process's
    ephemeral API: run_flow starts one server for the flow and its workers (stubbed here: threads)."""
    import contextlib

    from prefect import flow
    from prefect.settings import PREFECT_API_URL
    from prefect.task_runners import ThreadPoolTaskRunner

    import flows.runtime as runtime
    import flows.server as server

    url = PREFECT_API_URL.value()  # the harness's API stands in for the server a real run starts
    started = []

    @contextlib.contextmanager
    def fake_server(port):
        started.append(port)
        yield url

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(server, "prefect_server", fake_server)
    monkeypatch.setattr(runtime, "make_task_runner", lambda orch: ThreadPoolTaskRunner(max_workers=1))

    @flow
    def where() -> str:
        return PREFECT_API_URL.value()

    assert run_flow(where, OrchestrationConfig(task_runner="dask")) == url and started == [0]
    assert run_flow(where, THREADS) == url and started == [0]  # thread runner: no server of its own
