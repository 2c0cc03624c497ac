"""Configure the DVC remote that ``dvc push`` / ``dvc pull`` use to move rounds between machines.

URL: ``LEOD_DVC_REMOTE`` if set, else ``dvc.remote_url`` from params (default ``../leod-dvc-remote``,
a local folder; any DVC-supported URL works). Written to ``.dvc/config.local`` (not committed), as the
default remote named ``leod``. ``python -m flows.dvc_remote`` (``make run`` calls it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flows.settings import load_config

__all__ = ["remote_url", "configure_remote", "main"]

REMOTE_NAME = "leod"


def remote_url(params: str | Path = "params.yaml") -> str:
    return os.environ.get("LEOD_DVC_REMOTE") or load_config(params).dvc.remote_url


def configure_remote(repo: Path, url: str) -> None:
    """``dvc remote add --local --default --force leod <url>`` in ``repo`` (a local folder is created)."""
    if "://" not in url:
        (repo / url).mkdir(parents=True, exist_ok=True)
    dvc = str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "remote", "add", "--local", "--default", "--force", REMOTE_NAME, url], cwd=repo, check=True)


def main(argv: list[str] | None = None) -> int:
    params = (argv or sys.argv[1:] or ["params.yaml"])[0]
    url = remote_url(params)
    configure_remote(Path.cwd(), url)
    print(f"dvc remote {REMOTE_NAME} -> {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
