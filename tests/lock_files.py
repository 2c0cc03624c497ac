"""Reading requirements lock files (``name==version --hash=sha256:...`` per line) in the lock tests."""

from __future__ import annotations

from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version


def read_lock(path: Path) -> dict[str, tuple[Version, str]]:
    """{canonical name: (version, sha256)} of a lock file; a package locked twice fails."""
    out: dict[str, tuple[Version, str]] = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        spec, _, digest = line.partition(" --hash=sha256:")
        name, _, version = spec.partition("==")
        assert canonicalize_name(name) not in out, f"{path.name}: {name} twice"
        out[canonicalize_name(name)] = (Version(version), digest)
    return out
