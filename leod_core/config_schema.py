"""How a parameter is declared, once: its default, its one-line doc and its check sit on the dataclass field
(:func:`knob`), and everything else is read from there: validation (``leod_core/config.py``), the committed
``params.yaml`` (:mod:`leod_core.params_yaml`, a test fails when it is out of date) and the docs' parameter
reference (``tools/gen_reference.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Check", "knob", "section", "Knob", "Section", "knobs", "sections"]


@dataclass(frozen=True)
class Check:
    """What a value must satisfy, and the text naming what is allowed (the one-line error shows it)."""

    ok: Callable[[Any], bool]
    allowed: str


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
