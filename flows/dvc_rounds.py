"""``rounds.yaml``: the list of self-training rounds that ``dvc.yaml`` templates its stages over.

DVC's templating cannot count (``foreach`` needs a list or dict, and cannot compute ``k - 1``), so
the rounds are written out from ``params.yaml``'s ``rounds`` into this small vars file. ``make run``,
``make smoke`` and ``leod self-train`` regenerate it; after changing ``rounds`` by hand, run
``python -m flows.dvc_rounds`` (the report stage fails with that hint if the two disagree).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flows.settings import load_config
from flows.stages import pipeline_stages
from leod_core.atomic import atomic_path

__all__ = ["ROUNDS_FILE", "rounds_vars", "render", "sync_rounds_file", "read_rounds_file", "main"]

ROUNDS_FILE = "rounds.yaml"

_HEADER = """\
# GENERATED from params.yaml `rounds` by `python -m flows.dvc_rounds` (make run / leod self-train do it).
# dvc.yaml's stages are templated over these (DVC templates cannot count): do not edit by hand.
"""


def rounds_vars(rounds: int) -> dict[str, Any]:
    """Vars for dvc.yaml: ``self_train`` {k: {prev: k-1}} for k = 1..N, ``all_rounds`` [0..N], ``last_round``."""
    if rounds < 1:
        raise ValueError(f"params: rounds={rounds} is invalid for the DVC pipeline; allowed: >= 1 "
                         "(for supervised training only, run `dvc repro evaluate@0`)")
    stages = pipeline_stages(rounds)
    return {"self_train": {str(s.round): {"prev": s.round - 1} for s in stages if s.kind == "pseudo_label"},
            "all_rounds": [s.round for s in stages if s.kind == "evaluate"], "last_round": rounds}


def render(rounds: int) -> str:
    """The file's text (stable, so an unchanged round count rewrites nothing)."""
    v = rounds_vars(rounds)
    lines = [_HEADER.rstrip("\n"), "self_train:"]
    # quoted keys: DVC silently drops foreach stages whose dict keys are YAML integers
    lines += [f'  "{k}": {{prev: {d["prev"]}}}' for k, d in v["self_train"].items()]
    lines += [f"all_rounds: [{', '.join(map(str, v['all_rounds']))}]", f"last_round: {v['last_round']}", ""]
    return "\n".join(lines)


def sync_rounds_file(params: str | Path = "params.yaml", overrides: list[str] | None = None,
                     path: str | Path = ROUNDS_FILE) -> bool:
    """Write ``path`` for the ``rounds`` of ``params``; returns True if it changed."""
    cfg = load_config(params, overrides)
    text = render(cfg.rounds)
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return True


def read_rounds_file(path: str | Path = ROUNDS_FILE) -> int | None:
    """``last_round`` of an existing rounds file, else None."""
    import yaml

    p = Path(path)
    if not p.exists():
        return None
    data = yaml.safe_load(p.read_text()) or {}
    return data.get("last_round")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.dvc_rounds", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("-S", "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default=ROUNDS_FILE)
    args = parser.parse_args(argv)
    changed = sync_rounds_file(args.params, args.overrides, args.out)
    print(f"{args.out}: {'updated' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
