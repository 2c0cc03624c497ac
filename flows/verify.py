"""``make verify``: run the ``micro`` pipeline (every stage, ``dvc repro``) in a temporary copy of the
repository and compare the DVC hash of every stage output with the committed expectation
(:data:`EXPECTED_FILE`). Prints the first stage, in pipeline order, whose output differs.

``--update`` rewrites the expectation from this run (after a deliberate change of results; commit it).
``--default-metrics`` (the last step of ``make run``) compares the default run's test AP per round in
``artifacts/`` with the README's (:data:`DEFAULT_METRICS_FILE`), when ``params.yaml`` is the default one.

Both expectations are kept per CPU platform (:func:`cpu_platform`): on the locked install training is
bit-exact run after run on one kind of CPU, but PyTorch's CPU kernels (ATen, MKL, oneDNN) pick code paths
by instruction set, and two machines of this project (same code, same lock) trained the default run to
test AP 0.2070 and 0.1935. On a CPU kind without an entry, the outputs that were equal on every recorded
platform (the data, labels, pseudo labels and evaluations of the micro run) are still compared exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["EXPECTED_FILE", "DEFAULT_METRICS_FILE", "UNRECORDED", "cpu_platform", "expected_hashes", "only_expected", "round_metrics",
           "check_default_metrics", "Mismatch", "output_hashes", "compare_hashes", "run_micro", "main"]

ROOT = Path(__file__).resolve().parents[1]
#: DVC hashes of the micro pipeline's outputs, per stage, as committed
EXPECTED_FILE = ROOT / "verify" / "micro_hashes.json"
#: the default run's metrics per round as the README reports them, with the params.yaml they need
DEFAULT_METRICS_FILE = ROOT / "verify" / "default_metrics.json"
#: metrics compared after ``make run`` (exact on the locked install; printed to 4 decimals)
_METRIC_KEYS = ("AP", "AP_50", "AP_75")
#: the platform of expectations written before platforms were recorded (a machine of 2026-12-02)
UNRECORDED = "unrecorded (the machine of 2026-12-02)"


def cpu_platform() -> str:
    """The CPU kind training's floats depend on, besides the locked install: architecture, the
    instruction set ATen dispatches to, vendor and family/model, e.g.
    ``x86_64 AVX512 AuthenticAMD family 25 model 17``."""
    import platform

    import torch

    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    cpu = f"{info.get('vendor_id', platform.processor() or '?')} family {info.get('cpu family', '?')} " \
          f"model {info.get('model', '?')}"
    return f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()} {cpu}"


def _by_platform(data: dict) -> dict[str, dict]:
    """{platform: entry} of an expectation file (one written before platforms existed: one entry)."""
    return data["platforms"] if "platforms" in data else {UNRECORDED: data}


def expected_hashes(path: Path = EXPECTED_FILE, platform: str | None = None
                    ) -> tuple[dict[str, dict[str, str]], str, bool]:
    """The micro run's expected ``{stage: {out: md5}}`` on ``platform`` (default: this CPU), what they
    are, and whether they are complete: that platform's own record (complete), or else only the
    outputs that were equal on every recorded platform."""
    platform = platform or cpu_platform()
    recorded = _by_platform(json.loads(Path(path).read_text()))
    if platform in recorded:
        return recorded[platform], f"recorded on this CPU ({platform})", True
    entries = list(recorded.values())
    data_stages = set(_data_stages())
    common = {stage: {out: md5 for out, md5 in outs.items() if all(e.get(stage, {}).get(out) == md5 for e in entries)}
              for stage, outs in entries[0].items() if stage in data_stages}
    n = sum(map(len, common.values()))
    return common, (f"no record for this CPU ({platform}): the {n} outputs of the data stages equal on all "
                    f"{len(entries)} recorded CPUs ({'; '.join(recorded)}); everything a model computes differs "
                    "between CPU kinds (make verify UPDATE=1 records this one)"), False


def _data_stages() -> list[str]:
    """The stages before the first training (synthesis, import, label subsampling): numpy only, so their
    outputs are the same on every CPU kind; everything downstream of a model's floats is not."""
    from flows.stages import stage_order

    order = stage_order(0)
    return order[:order.index("pretrain")]


def only_expected(actual: dict[str, dict[str, str]], expected: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """``actual`` restricted to the outputs ``expected`` names (for a partial expectation)."""
    return {stage: {out: md5 for out, md5 in outs.items() if out in expected.get(stage, {})}
            for stage, outs in actual.items()}


def _write_platform_entry(path: Path, entry: dict) -> None:
    """Add or replace this CPU's entry of an expectation file, keeping the other platforms'."""
    data = _by_platform(json.loads(path.read_text())) if path.is_file() else {}
    data = {**data, cpu_platform(): entry}
    path.write_text(json.dumps({"platforms": data}, indent=1, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Mismatch:
    """One output whose hash differs from (or is missing in) the expectation."""
    stage: str
    path: str
    expected: str | None
    actual: str | None

    def __str__(self) -> str:
        return f"stage {self.stage}: {self.path}: expected {self.expected or 'nothing'}, got {self.actual or 'nothing'}"


def output_hashes(repo: Path) -> dict[str, dict[str, str]]:
    """{stage: {out path: md5}} of every stage output recorded in ``repo/dvc.lock``."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {stage: {out["path"]: out["md5"] for out in entry.get("outs", [])}
            for stage, entry in lock["stages"].items()}


def compare_hashes(expected: dict[str, dict[str, str]], actual: dict[str, dict[str, str]],
                   order: list[str]) -> list[Mismatch]:
    """Every differing output, stages in pipeline ``order`` (the first one is where results diverged)."""
    out: list[Mismatch] = []
    for stage in order + sorted((set(expected) | set(actual)) - set(order)):
        exp, act = expected.get(stage, {}), actual.get(stage, {})
        for path in sorted(set(exp) | set(act)):
            if exp.get(path) != act.get(path):
                out.append(Mismatch(stage, path, exp.get(path), act.get(path)))
    return out


def run_micro(workdir: Path, overrides: list[str] = ()) -> Path:
    """The micro pipeline, every stage, in a copy of this repository under ``workdir``; returns the copy."""
    from flows.server import prefect_server
    from flows.smoke import MICRO_DETECT_OVERRIDES, apply_overrides, make_repo_copy, repro, stage_env

    repo = make_repo_copy(ROOT, workdir / "repo")
    apply_overrides(repo, MICRO_DETECT_OVERRIDES + list(overrides))
    env = stage_env(repo)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{repo / 'mlflow.db'}"
    os.environ["PREFECT_HOME"] = env["PREFECT_HOME"]
    with prefect_server(0) as url:
        env["PREFECT_API_URL"] = url
        result = repro(repo, env)
    if result.returncode != 0:
        raise RuntimeError(f"dvc repro of the micro pipeline failed (exit {result.returncode}):\n"
                           f"{result.output[-4000:]}")
    return repo


def params_md5(path: Path) -> str:
    """The md5 of a params file's values (key order and comments aside): the README's numbers belong to it."""
    import hashlib

    import yaml

    values = yaml.safe_load(path.read_text())
    return hashlib.md5(json.dumps(values, sort_keys=True).encode()).hexdigest()


def _params_md5(repo: Path) -> str:
    return params_md5(repo / "params.yaml")


def round_metrics(repo: Path) -> dict[str, dict[str, float]]:
    """{round: {metric: value}} of every evaluated round under ``repo/artifacts``."""
    from flows.settings import load_config
    from leod_core.round_layout import ArtifactLayout

    cfg = load_config(repo / "params.yaml")
    layout = ArtifactLayout(repo / cfg.paths.artifacts)
    out = {}
    for k in range(cfg.rounds + 1):
        m = layout.round(k).metrics()
        if m.is_file():
            data = json.loads(m.read_text())
            out[str(k)] = {key: float(data[key]) for key in _METRIC_KEYS if key in data}
    return out


def check_default_metrics(repo: Path = ROOT, expected_file: Path = DEFAULT_METRICS_FILE, update: bool = False) -> int:
    """Print whether ``repo``'s rounds reproduce the README's numbers for this CPU; 0 when they do (or
    cannot apply: another params.yaml, or no numbers recorded for this kind of CPU)."""
    actual = round_metrics(repo)
    data = json.loads(expected_file.read_text()) if expected_file.is_file() else {}
    if update:
        platforms: dict = {}
        if data.get("params_md5") == _params_md5(repo):  # numbers of another params.yaml are void
            platforms = data["platforms"] if "platforms" in data else {UNRECORDED: data["rounds"]}
        platforms[cpu_platform()] = actual
        expected_file.write_text(json.dumps({"params_md5": _params_md5(repo), "platforms": platforms}, indent=1,
                                            sort_keys=True) + "\n")
        print(f"verify: wrote the default run's metrics ({len(actual)} rounds) on {cpu_platform()} to {expected_file}")
        return 0
    if data["params_md5"] != _params_md5(repo):
        print("reproducibility: params.yaml is not the default one; the README's numbers do not apply")
        return 0
    platforms = data["platforms"] if "platforms" in data else {UNRECORDED: data["rounds"]}
    here = cpu_platform()
    if here not in platforms:
        seen = "; ".join(f"{p}: " + ", ".join(f"round {k} AP {ms['AP']:.4f}" for k, ms in r.items())
                         for p, r in platforms.items())
        mine = ", ".join(f"round {k} AP {ms['AP']:.4f}" for k, ms in actual.items())
        print(f"reproducibility: no README numbers for this kind of CPU ({here}); this run: {mine}; recorded: {seen} "
              "(training's floats depend on the CPU's instruction set, see docs/explanation/reproducibility.md)")
        return 0
    expected = platforms[here]
    diffs = [f"round {k} {m}: README {v:.4f}, this run {actual.get(k, {}).get(m, float('nan')):.4f}"
             for k, ms in expected.items() for m, v in ms.items()
             if abs(actual.get(k, {}).get(m, float("nan")) - v) > 1e-9 or m not in actual.get(k, {})]
    if diffs:
        print("reproducibility: this run does NOT reproduce the README (" + "; ".join(diffs) + f"; CPU {here}); the "
              "install, the thread count or the code differ from the measured ones (make verify names the first stage)")
        return 1
    summary = ", ".join(f"round {k} AP {ms['AP']:.4f}" for k, ms in expected.items())
    print(f"reproducibility: this run reproduces the README exactly ({summary}; CPU {here})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from flows.stages import stage_order

    parser = argparse.ArgumentParser(prog="python -m flows.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write this run's hashes as the expectation")
    parser.add_argument("--expected", type=Path, default=EXPECTED_FILE)
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("-S", "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="extra overrides on top of the micro config (e.g. to test thread counts)")
    parser.add_argument("--default-metrics", action="store_true",
                        help="compare this checkout's default-run metrics with the README's (after make run)")
    args = parser.parse_args(argv)
    if args.default_metrics:
        return check_default_metrics(update=args.update)
    tmp = Path(tempfile.mkdtemp(prefix="leod-verify-"))
    try:
        try:
            repo = run_micro(tmp, args.overrides)
        except RuntimeError as exc:
            print(f"verify: error: {exc}", file=sys.stderr)
            return 1
        from flows.smoke import check_outputs
        from flows.settings import load_config

        rounds = load_config(repo / "params.yaml").rounds
        # hashes of a pipeline whose detectors find nothing would pass whatever the evaluator or the
        # pseudo-labeller does: check that it detects before comparing or recording them
        problems = check_outputs(repo, rounds, detects=True)
        for p in problems:
            print(f"verify: {p}", file=sys.stderr)
        if problems:
            print(f"verify: FAILED: the micro pipeline's outputs are degenerate ({len(problems)} problems)")
            return 1
        actual = output_hashes(repo)
        if args.update:
            args.expected.parent.mkdir(parents=True, exist_ok=True)
            _write_platform_entry(args.expected, actual)
            print(f"verify: wrote {sum(map(len, actual.values()))} output hashes on {cpu_platform()} to {args.expected}")
            return 0
        expected, what, complete = expected_hashes(args.expected)
        print(f"verify: expected hashes {what}")
        if not complete:
            actual = only_expected(actual, expected)
        mismatches = compare_hashes(expected, actual, stage_order(rounds))
        for m in mismatches:
            print(f"verify: {m}", file=sys.stderr)
        n = sum(map(len, actual.values()))
        if mismatches:
            print(f"verify: FAILED: first difference in stage {mismatches[0].stage} "
                  f"({len(mismatches)} of {n} outputs differ)")
            return 1
        print(f"verify: OK: all {n} outputs of {len(actual)} stages equal {args.expected.name}")
        return 0
    finally:
        if args.keep:
            print(f"verify: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
