"""``leod train --round 0 -S train.devices=2`` as a user types it (issue 27): the command starts itself
again under torchrun, two CPU processes (gloo) train the real nano detector, rank 0's weights are
published as the round's ``model/last.pt``, and ``leod evaluate --round 0`` scores them.

Both commands run as subprocesses of the installed ``leod`` in a folder holding only ``params.yaml``,
reporting to one local Prefect server. torchrun's own ``PET_LOG_DIR`` / ``PET_TEE`` settings (read by
``torch.distributed.run`` from the environment) make it keep each rank's console in a file: the proof
that two ranks trained; rank 0's weights differ from a single-process run's on its batches: the proof
that they averaged their gradients.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from leod_core.layout import labels_full_path

REPO = Path(__file__).resolve().parents[2]
LEOD = str(Path(sys.executable).parent / "leod")
STEPS = 4
#: 4 steps of 2 x 3 reprs per rank, one torch thread per process; evaluation draws one frame
OVERRIDES = ["train.devices=2", f"train.steps={STEPS}", "train.ckpt_every=2", "train.threads=1",
             "data.batch_size=2", "data.sequence_length=3", "model.preset=nano", "eval.batch_size=4",
             "eval.num_vis_frames=1"]


def _leod(args: list[str], cwd: Path, api_url: str, extra_env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess:
    env = dict(os.environ, PREFECT_API_URL=api_url, MLFLOW_TRACKING_URI=f"sqlite:///{cwd / 'mlflow.db'}",
               PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", **(extra_env or {}))
    sets = [a for o in OVERRIDES for a in ("-S", o)]
    return subprocess.run([LEOD, *args, *sets], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_train_devices_2_under_torchrun_then_evaluate(dataset_root: Path, tmp_path: Path, one_torch_thread) -> None:
    import torch
    from mlflow.tracking import MlflowClient

    from flows.server import prefect_server
    from flows.settings import load_config
    from leod_core.train.checkpoint import load_checkpoint, load_detector
    from leod_core.train.loop import train_round

    t0 = time.perf_counter()
    art = tmp_path / "artifacts"
    (tmp_path / "params.yaml").write_text(f"paths:\n  dataset: {dataset_root}\n  artifacts: {art}\n"
                                          "dataset:\n  camera: synth\n")
    labels = art / "round_0" / "labels" / "labels.parquet"  # round 0's labels: every GT frame of the train split
    labels.parent.mkdir(parents=True)
    shutil.copy(labels_full_path(dataset_root, "train"), labels)
    logs = tmp_path / "torchrun_logs"

    with prefect_server(0) as url:
        train = _leod(["train", "--round", "0"], tmp_path, url,
                      extra_env={"PET_LOG_DIR": str(logs), "PET_TEE": "3"})
        assert train.returncode == 0, (train.stdout + train.stderr)[-4000:]
        t_train = time.perf_counter() - t0
        evaluate = _leod(["evaluate", "--round", "0", "--device", "cpu"], tmp_path, url)
        assert evaluate.returncode == 0, (evaluate.stdout + evaluate.stderr)[-4000:]

    # the torchrun relaunch: two ranks, each with its own console file; rank 0 trained and wrote
    rank_dirs = sorted(logs.rglob("attempt_0/*"))
    assert [d.name for d in rank_dirs] == ["0", "1"], sorted(str(p.relative_to(logs)) for p in logs.rglob("*"))
    rank0 = (rank_dirs[0] / "stdout.log").read_text()
    assert f"train round 0 (rank 0): {STEPS} steps" in rank0, rank0
    assert "train round 0 (rank" not in (rank_dirs[1] / "stdout.log").read_text()
    assert f"train round 0: {STEPS} steps" in train.stdout, train.stdout[-2000:]

    # the round's published model folder: weights of the real detector, metrics, loss curve; no work folder
    model_dir = art / "round_0" / "model"
    weights = load_checkpoint(model_dir / "last.pt")
    assert weights["meta"] == {"round": 0, "step": STEPS} and weights["config"]["train"]["devices"] == 2
    assert weights["spec"]["preset"] == "nano"
    assert not load_detector(model_dir / "last.pt").training
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["steps"] == STEPS and metrics["weights"] == str(model_dir / "last.pt")
    loss_csv = (model_dir / "loss.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in loss_csv[1:]] == [str(s) for s in range(1, STEPS + 1)]
    assert not (art / ".work" / "round_0" / "model").exists()  # the spent resume state is gone
    # the ranks averaged their gradients: rank 0 alone (same initial weights, same batches: a rank's
    # sample order depends on its rank only) ends elsewhere
    solo_cfg = load_config(None, [o for o in OVERRIDES if not o.startswith("train.devices")])
    solo = load_checkpoint(train_round(solo_cfg, 0, labels, dataset_root, tmp_path / "solo").weights)["model"]
    assert solo.keys() == weights["model"].keys()
    assert not all(torch.equal(solo[k], weights["model"][k]) for k in solo), "rank 0 trained alone"

    # leod evaluate --round 0 read round 0's weights (the default checkpoint) and wrote its metrics
    ev = json.loads((art / "round_0" / "eval" / "metrics.json").read_text())
    assert 0.0 <= ev["AP"] <= 1.0 and ev["num_images"] > 0
    assert "evaluate round 0: AP" in evaluate.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    by_stage = {r.data.tags["stage"]: r for r in runs}
    assert set(by_stage) == {"train", "evaluate"} and all(r.info.status == "FINISHED" for r in runs)
    # the torchrun ranks' losses reached MLflow through loss.csv, one entry per step
    assert [m.step for m in client.get_metric_history(by_stage["train"].info.run_id, "loss")] == \
        list(range(1, STEPS + 1))
    assert by_stage["evaluate"].data.metrics["AP"] == ev["AP"]
    print(f"train (2 ranks) {t_train:.1f} s, train + evaluate {time.perf_counter() - t0:.1f} s")
