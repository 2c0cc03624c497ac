"""``params.yaml`` written from the config schema: every key with its default and its doc as a comment.

The file is committed (DVC reads it, users edit copies of it), but its keys, values and comments are the
schema's (``leod_core/config.py`` and ``flows/settings.py``, declared with :mod:`leod_core.config_schema`),
so a key is written once: ``python -m flows.params_yaml`` (``make params-yaml``) rewrites the file, and a
test fails when the committed one is not what this renders.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from flows.settings import PipelineConfig
from leod_core.atomic import atomic_path
from leod_core.config_schema import knobs, sections

__all__ = ["render_params_yaml", "yaml_value", "main"]

HEADER = """\
# Every knob of the pipeline, written from the schema (leod_core/config.py, flows/settings.py) by
# make params-yaml: edit a default or a doc there. Validated at start-up: an unknown key or a value out
# of range stops with one line naming the key. Per-class lists are [car, ped] (gen4 expands LEOD-style).
"""
COMMENT_COLUMN = 26
WIDTH = 110


def yaml_value(value: Any) -> str:
    """``value`` in YAML's flow style, as a person would write it (and as YAML reads it back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        # PyYAML reads 1e-05 as a string: YAML 1.1 floats need a dot in the mantissa
        return text if not e or "." in mantissa else f"{mantissa}.0e{exponent}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return value if value and _reads_back(value) else json.dumps(value)
    raise TypeError(f"no params.yaml form for {value!r}")


def _reads_back(text: str) -> bool:
    """Whether ``text`` written unquoted after a key reads back as the same string."""
    try:
        return yaml.safe_load(f"k: {text}") == {"k": text}
    except yaml.YAMLError:
        return False


def _line(indent: int, text: str, doc: str) -> str:
    head = " " * indent + text
    if not doc:
        return head
    return f"{head.ljust(COMMENT_COLUMN - 1)} # {doc}" if len(head) < COMMENT_COLUMN - 1 else f"{head}  # {doc}"


def render_params_yaml() -> str:
    """The text of ``params.yaml``: the schema's keys in declaration order, each with its doc."""
    docs = {s.key: s for s in sections(PipelineConfig)}
    out = [HEADER.rstrip("\n")]
    opened: list[str] = []  # the sections the previous key sat in
    for k in knobs(PipelineConfig):
        path = k.key.split(".")[:-1]
        for depth, name in enumerate(path):
            key = ".".join(path[:depth + 1])
            if depth < len(opened) and opened[depth] == name:
                continue
            opened = opened[:depth]
            indent = "  " * depth
            if depth == 0:
                out.append("")
            for row in textwrap.wrap(docs[key].doc, WIDTH - len(indent) - 2):
                out.append(f"{indent}# {row}")
            out.append(f"{indent}{name}:")
            opened.append(name)
        opened = opened[:len(path)]
        out.append(_line(2 * len(path), f"{k.key.rsplit('.', 1)[-1]}: {yaml_value(k.default)}", k.doc))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.params_yaml", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date, write nothing")
    parser.add_argument("--path", default="params.yaml", help="the file (default: params.yaml)")
    args = parser.parse_args(argv)
    path, text = Path(args.path), render_params_yaml()
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print(f"{path} is out of date: run `make params-yaml`", file=sys.stderr)
            return 1
        return 0
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    print(f"wrote {path} ({len(knobs(PipelineConfig))} keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
