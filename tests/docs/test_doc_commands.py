"""Shell blocks of the documentation site run as the pages show them (their `<!-- run: ... -->` marks name
these tests): the commands are read from the page, so an edit of the page changes what runs, and a shown
output must be what the command prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
BIN = Path(sys.executable).parent


def shell_block(page: str, first: str) -> list[str]:
    """The lines of the shell block of ``docs/page`` whose first line starts with ``first``."""
    lines = (DOCS / page).read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("```") and i + 1 < len(lines) and lines[i + 1].startswith(first):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            return lines[i + 1:end]
    raise AssertionError(f"docs/{page} has no shell block starting with {first!r}")


def commands(block: list[str]) -> list[list[str]]:
    """Each command of a block (comments dropped; ``a / b`` lines are two commands), as argv."""
    out = []
    for line in block:
        line = line.split("#")[0].strip()
        out += [part.split() for part in line.split(" / ") if part.strip()]
    return out


def test_model_info_prints_what_the_camera_tutorial_shows():
    block = shell_block("tutorials/own-camera.md", "$ leod model-info")
    argv = block[0].removeprefix("$ ").split()
    assert commands(shell_block("how-to/own-recordings.md", "leod model-info")) == [argv]
    proc = subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    printed = [line.rstrip() for line in proc.stdout.splitlines()]
    missing = [line for line in block[1:] if line.rstrip() not in printed]
    assert not missing, f"shown in docs/tutorials/own-camera.md, not printed: {missing}\nprinted:\n{proc.stdout}"


def test_dvc_commands_of_the_docs_on_a_finished_run(plumbing_run):
    """`dvc repro` finds nothing stale after a run, metrics/plots/params/exp show work, push and pull
    move the outputs through the remote `make run` configures."""
    repo, env = plumbing_run.repo, plumbing_run.env
    subprocess.run([sys.executable, "-m", "flows.dvc_remote"], cwd=repo, env=env, check=True, capture_output=True)
    block = shell_block("how-to/dvc.md", "dvc repro")
    assert shell_block("tutorials/first-run.md", "dvc metrics show") == [
        line for line in block if line.startswith(("dvc metrics show", "dvc plots show"))]
    seen = {}
    for argv in commands(block):
        proc = subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stdout[-1500:]}{proc.stderr[-1500:]}"
        seen[" ".join(argv)] = proc.stdout + proc.stderr
    assert "up to date" in seen["dvc repro"].lower() or "didn't change" in seen["dvc repro"], seen["dvc repro"]
    assert "eval/metrics.json" in seen["dvc metrics show"] and "AP" in seen["dvc metrics show"]
    assert (repo / "dvc_plots" / "index.html").is_file()
    assert "pushed" in seen["dvc push"].lower() or "everything is up to date" in seen["dvc push"].lower()
