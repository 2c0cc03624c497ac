"""How a parameter is declared, once: its default, its one-line doc and its check sit on the dataclass field
(:func:`knob`), and everything else is read from there: validation (``leod_core/config.py``), the committed
``params.yaml`` (:mod:`flows.params_yaml`, a test fails when it is out of date) and the docs' parameter
reference (``tools/gen_reference.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Check", "knob", "section", "Knob", "Section", "knobs", "sections", "in_unit", "unit", "at_least",
           "positive", "distinct", "one_of"]


@dataclass(frozen=True)
class Check:
    """What a value must satisfy, and the text naming what is allowed (the one-line error shows it)."""

    ok: Callable[[Any], bool]
    allowed: str


def in_unit(v: float) -> bool:
    return 0.0 <= v <= 1.0


def unit(what: str) -> Check:
    """A value in [0, 1]: ``what`` names it ("a probability", "an IoU")."""
    return Check(in_unit, f"{what} in [0, 1]")


def at_least(n: int, note: str = "") -> Check:
    return Check(lambda v: v >= n, f"an integer >= {n}" + (f" ({note})" if note else ""))


def positive(what: str) -> Check:
    return Check(lambda v: v > 0, f"{what} > 0")


def distinct(ok: Callable[[Any], bool], allowed: str) -> Check:
    """A list check that also refuses repeated values."""
    return Check(lambda v: len(set(v)) == len(v) and ok(v), allowed)


def one_of(values: tuple[str, ...] | dict[str, Any]) -> Check:
    return Check(lambda v: v in values, f"one of {', '.join(values)}")


def knob(default: Any, doc: str, check: Check | None = None) -> Any:
    """A parameter field: ``default`` (immutable: tuples for lists), a one-line ``doc`` and its ``check``."""
    return field(default=default, metadata={"doc": doc, "check": check})


def section(cls: type, doc: str = "") -> Any:
    """A nested group of parameters (a dataclass of knobs), with a doc written above it in params.yaml."""
    return field(default_factory=cls, metadata={"doc": doc})


@dataclass(frozen=True)
class Knob:
    """One declared parameter, found by :func:`knobs`."""

    key: str  # dotted, as params.yaml and ``-S key=value`` name it
    annotation: str
    default: Any
    doc: str
    check: Check | None


@dataclass(frozen=True)
class Section:
    """One declared group of parameters (``data``, ``data.augment``), found by :func:`sections`."""

    key: str
    doc: str
    depth: int


def _is_section(f: dataclasses.Field) -> bool:
    return f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory)


def knobs(cls: type, prefix: str = "") -> list[Knob]:
    """Every parameter of the schema ``cls``, depth first in declaration order."""
    out: list[Knob] = []
    for f in dataclasses.fields(cls):
        if _is_section(f):
            out += knobs(f.default_factory, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        else:
            out.append(Knob(prefix + f.name, str(f.type), f.default, f.metadata.get("doc", ""),
                            f.metadata.get("check")))
    return out


def sections(cls: type, prefix: str = "", depth: int = 0) -> list[Section]:
    """Every section of the schema ``cls``, depth first in declaration order."""
    out: list[Section] = []
    for f in dataclasses.fields(cls):
        if _is_section(f):
            out.append(Section(prefix + f.name, f.metadata.get("doc", ""), depth))
            out += sections(f.default_factory, f"{prefix}{f.name}.", depth + 1)  # type: ignore[arg-type]
    return out
