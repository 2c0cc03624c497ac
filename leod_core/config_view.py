"""A stage's view of the config: the keys the stage declares, and nothing else.

DVC re-runs a stage when a key in its ``params:`` list changes, and the study keys its cache by the same
list (``flows/stages.py``). A key a stage reads but does not declare would change its outputs while both
call it up to date. So the orchestration hands each core function a :func:`restrict`-ed config: the same
typed dataclasses, but reading a key outside the declared ones raises :class:`UndeclaredKeyError` naming
the key, and the stage's tests fail the day code starts reading a new key without declaring it.

Declared keys are dotted (``train.steps``) or whole sections (``data``); ``rounds`` is a top-level key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from leod_core.config import LeodConfig, config_to_dict

__all__ = ["UndeclaredKeyError", "restrict", "declared_keys", "declared_dict"]


class UndeclaredKeyError(RuntimeError):
    """A stage read a config key it does not declare (not an AttributeError: ``getattr(x, k, default)``
    must not swallow it)."""


def _tree(keys: Iterable[str]) -> dict[str, Any]:
    """Dotted keys as a nested dict; ``True`` marks a key taken whole (a section or a value)."""
    tree: dict[str, Any] = {}
    for key in keys:
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[parts[-1]] = True
    return tree


class _SectionView:
    """A section with some of its fields declared: those read through, the others raise."""

    def __init__(self, section: Any, allowed: dict[str, Any], path: str, owner: str) -> None:
        self.__dict__["_section"] = section
        self.__dict__["_allowed"] = allowed
        self.__dict__["_path"] = path
        self.__dict__["_owner"] = owner

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # pickle and copy probe dunders on a half-built object
            raise AttributeError(name)
        allowed = self._allowed.get(name)
        key = f"{self._path}.{name}"
        if allowed is None:
            if not hasattr(self._section, name):
                raise AttributeError(name)
            raise UndeclaredKeyError(f"{self._owner} read {key!r}, which it does not declare")
        value = getattr(self._section, name)
        return value if allowed is True else _SectionView(value, allowed, key, self._owner)

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __repr__(self) -> str:
        return f"<{self._path}: {', '.join(sorted(self._allowed))} of {type(self._section).__name__}>"


class _Undeclared:
    """A section the stage declares nothing of."""

    def __init__(self, path: str, owner: str) -> None:
        self.__dict__["_path"] = path
        self.__dict__["_owner"] = owner

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise UndeclaredKeyError(f"{self._owner} read {self._path + '.' + name!r}, which it does not declare")

    def __repr__(self) -> str:
        return f"<{self._path}: undeclared>"


def _check_key(cfg: LeodConfig, key: str, owner: str) -> None:
    node: Any = cfg
    for part in key.split("."):
        if not dataclasses.is_dataclass(node) or part not in {f.name for f in dataclasses.fields(node)}:
            raise ValueError(f"{owner} declares {key!r}, which is not a config key")
        node = getattr(node, part)


class _UndeclaredValue:
    """A top-level value the stage does not declare (``rounds``): it can be passed along (an orchestrator
    walking the config's fields may touch it), but any use of it raises."""

    def __init__(self, path: str, owner: str) -> None:
        self._path = path
        self._owner = owner

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise UndeclaredKeyError(f"{self._owner} read {self._path!r}, which it does not declare")

    __bool__ = __int__ = __index__ = __float__ = __str__ = __format__ = __hash__ = __iter__ = __len__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse  # type: ignore[assignment]
    __add__ = __radd__ = __sub__ = __rsub__ = _refuse
    __mul__ = __rmul__ = __truediv__ = __floordiv__ = __mod__ = __neg__ = __getitem__ = __contains__ = _refuse

    def __repr__(self) -> str:
        return f"<{self._path}: undeclared>"


def restrict(cfg: LeodConfig, keys: Iterable[str], owner: str = "this stage",
             reads: Iterable[str] = ()) -> LeodConfig:
    """``cfg`` with only ``keys`` and ``reads`` readable (dotted keys or whole sections of
    :class:`LeodConfig`); ``keys`` are what :func:`declared_dict` records (the result-changing ones),
    ``reads`` what may be read besides (resume points). ``owner`` names the stage in the error. The result
    is a :class:`LeodConfig` (its properties work when what they read is declared: ``camera`` needs
    ``dataset.camera``)."""
    keys = tuple(keys)
    readable = keys + tuple(reads)
    for key in readable:
        _check_key(cfg, key, owner)
    tree = _tree(readable)
    names = {f.name for f in dataclasses.fields(LeodConfig)}
    view = object.__new__(_StageConfig)
    for name in names:
        allowed = tree.get(name)
        value = getattr(cfg, name)
        if allowed is True:
            pass
        elif not dataclasses.is_dataclass(value):  # a top-level value (rounds)
            value = _UndeclaredValue(name, owner)
        elif allowed is None:
            value = _Undeclared(name, owner)
        else:
            value = _SectionView(value, allowed, name, owner)
        object.__setattr__(view, name, value)
    object.__setattr__(view, "_declared", keys)
    object.__setattr__(view, "_base", cfg)
    if "dataset" in tree and "camera" in cfg.__dict__:
        view.__dict__["camera"] = cfg.__dict__["camera"]  # the camera cfg already resolved
    return view


class _StageConfig(LeodConfig):
    """The type :func:`restrict` returns: a :class:`LeodConfig` whose undeclared keys raise."""

    def __repr__(self) -> str:
        return f"<config restricted to {', '.join(self._declared)}>"


def declared_keys(cfg: LeodConfig) -> tuple[str, ...] | None:
    """The keys a :func:`restrict`-ed config declares; None for a whole config."""
    return cfg.__dict__.get("_declared")


def declared_dict(cfg: LeodConfig) -> dict[str, Any]:
    """The declared part of ``cfg`` as a nested plain dict (all of it for a whole config): what a stage's
    output records of the settings it was made with."""
    keys = declared_keys(cfg)
    if keys is None:
        return config_to_dict(cfg)
    full = config_to_dict(cfg.__dict__["_base"])
    out: dict[str, Any] = {}
    for key in sorted(keys):
        src, dst = full, out
        parts = key.split(".")
        for part in parts[:-1]:
            src = src[part]
            dst = dst.setdefault(part, {})
        dst[parts[-1]] = src[parts[-1]]
    return out
