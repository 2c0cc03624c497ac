"""One assertion of a browser / server check (``make ui-check``, ``make label-check``): what was checked,
whether it held, and a detail; printed as ``<tool>: ok|FAIL what (detail)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["CheckResult"]


@dataclass
class CheckResult:
    """One check; subclasses name their tool in ``tool``."""

    what: str
    ok: bool
    detail: str = ""
    tool: ClassVar[str] = "check"

    def __str__(self) -> str:
        return f"{self.tool}: {'ok  ' if self.ok else 'FAIL'} {self.what}" + (f" ({self.detail})" if self.detail else "")
