"""Command-line options shared by the ``leod`` commands, and a stage command's options as data.

A stage's options are declared in its spec (``flows/stages.py``) as :class:`Arg` records, so ``leod
<stage> --help`` builds its parser without importing the stage's module (Prefect and torch load only
when the command runs).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Arg", "arg", "add_params_arguments", "add_args"]


@dataclass(frozen=True)
class Arg:
    """One option or positional of a command: ``argparse``'s ``add_argument(*flags, **options)``."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


def add_params_arguments(parser: argparse.ArgumentParser) -> None:
    """--params FILE and -S key=value overrides, shared by commands that read params.yaml."""
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("-S", "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter, e.g. -S train.steps=10 (repeatable)")


def add_args(parser: argparse.ArgumentParser, args: tuple[Arg, ...] | list[Arg]) -> None:
    """``--params``/``-S`` and then ``args``."""
    add_params_arguments(parser)
    for a in args:
        parser.add_argument(*a.flags, **a.options)
