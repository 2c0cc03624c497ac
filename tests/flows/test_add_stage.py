"""Adding a per-round stage touches three files: its spec (flows/stages.py), its module (flows/<stage>.py)
and its core function (leod_core). Done here in a scratch copy of the repository's code: dvc.yaml, the
``leod`` command, the round order, the ``--round`` rule, the study's flow and fingerprints all follow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_CORE = '''"""Box counts of a label table."""

from __future__ import annotations

import json
from pathlib import Path

from leod_core.labels.table import read_labels


def count_boxes(labels: Path, out_dir: Path) -> dict:
    df = read_labels(labels)
    counts = {"boxes": int(len(df))}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "stats.json").write_text(json.dumps(counts))
    return counts
'''

_MODULE = '''"""``leod box-stats --round K``: box counts of round K's labels."""

from __future__ import annotations

from prefect import flow

from flows.settings import load_config
from flows.stages import check_round
from leod_core.box_stats import count_boxes


@flow(name="box-stats", validate_parameters=False)
def box_stats_flow(round_idx: int, params: str = "params.yaml", overrides: list[str] | None = None) -> dict:
    cfg = load_config(params, overrides)
    r = cfg.layout.round(check_round("box_stats", round_idx))
    return count_boxes(r.labels, r.root / "box_stats")


def run(args) -> int:
    print(box_stats_flow(args.round_idx, args.params, args.overrides))
    return 0
'''

_SPEC = '''    StageSpec(
        "box_stats", "flows.box_stats", "leod box-stats --round ${key}", [f"{_RK.labels}"], ["dataset.camera"],
        metrics=[(f"{_RK.root}/box_stats/stats.json", _NO_CACHE)], when="self_train", flow="box_stats_flow",
        summary="box counts of a round's labels", args=(_round("round index K >= 1"),)),
'''

_CHECK = '''
import argparse, yaml
from flows import stages
from flows.cli import build_parser, commands
from flows.settings import load_config

dvc = yaml.safe_load(stages.render_dvc_yaml())["stages"]
assert dvc["box_stats"]["foreach"] == "${self_train}", dvc["box_stats"]
deps = dvc["box_stats"]["do"]["deps"]
assert "flows/box_stats.py" in deps and "leod_core/box_stats.py" in deps and "leod_core/labels/table.py" in deps
assert "flows/box_stats.py" not in dvc["train"]["do"]["deps"]
order = stages.stage_order(1)
assert order.index("pseudo_quality@1") < order.index("box_stats@1") < order.index("train@1"), order
assert [s.kind for s in stages.round_stages(0)] == ["subsample", "train", "evaluate"]
assert "box-stats" in [c for c, _, _ in commands()]
args = build_parser("box-stats").parse_args(["box-stats", "--round", "2", "-S", "rounds=2"])
assert args.round_idx == 2 and args.overrides == ["rounds=2"]
try:
    stages.check_round("box_stats", 0)
    raise AssertionError("round 0 accepted")
except ValueError as exc:
    assert str(exc).startswith("--round must be >= 1"), exc
flow, by_round = stages.stage_flow("box_stats", 2)
assert flow.name == "box-stats" and by_round == {"round_idx": 2}
fps = stages.stage_fingerprints(load_config("params.yaml"), rounds=1)
print(sorted(fps.items()))
'''


def _fingerprints(root: Path, check: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(PYTHONPATH=str(root), PREFECT_HOME=str(root / ".prefect"))
    proc = subprocess.run([sys.executable, "-c", check], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(eval(proc.stdout.strip().splitlines()[-1]))  # a printed list of (str, str)


def _copy_code(dst: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in ("flows", "leod_core"):
        shutil.copytree(REPO / pkg, dst / pkg, ignore=ignore)
    shutil.copy2(REPO / "params.yaml", dst / "params.yaml")


def test_a_new_per_round_stage_needs_three_files(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    _copy_code(before)
    _copy_code(after)
    (after / "leod_core" / "box_stats.py").write_text(_CORE)
    (after / "flows" / "box_stats.py").write_text(_MODULE)
    specs = after / "flows" / "stages.py"
    text = specs.read_text()
    anchor = '    StageSpec(\n        "train", "flows.train",'
    assert text.count(anchor) == 1
    specs.write_text(text.replace(anchor, _SPEC + anchor))

    changed = sorted(str(p.relative_to(after)) for p in after.rglob("*.py")
                     if not (before / p.relative_to(after)).is_file()
                     or (before / p.relative_to(after)).read_bytes() != p.read_bytes())
    assert changed == ["flows/box_stats.py", "flows/stages.py", "leod_core/box_stats.py"]

    fps_after = _fingerprints(after, _CHECK)
    plain = _CHECK.split("\nfps = ")[0].split("dvc = ")[0]  # imports only: the old tree has no box_stats
    fps_before = _fingerprints(before, plain + '\nfps = stages.stage_fingerprints(load_config("params.yaml"), '
                                                'rounds=1)\nprint(sorted(fps.items()))\n')
    assert set(fps_after) - set(fps_before) == {"box_stats@1"}
    # the study's cached stages stay valid: no other stage's fingerprint moves
    assert {k: v for k, v in fps_after.items() if k != "box_stats@1"} == fps_before
