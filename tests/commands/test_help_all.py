"""`leod <command> --help` works for every command (docs/reference/cli.md), run as a user runs it: the console script.

The commands come from the parser itself (:func:`flows.cli.build_parser`), so a new command is covered
without touching this file. Help must be instant and side-effect free: no Prefect (hence no server), no
torch, and no file written in the working directory or the home folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import build_parser

#: the console script installed next to this interpreter (the venv's ``leod``)
LEOD = Path(sys.executable).with_name("leod")
#: what ``--help`` must not import: each would mean a heavy start, and Prefect a server or a database
HEAVY = ("prefect", "torch", "mlflow", "dvc", "dask")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


COMMANDS = _subcommands()


def _declared(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string and positional name the parser shows (hidden ones excepted)."""
    names = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            names.extend(action.option_strings)
        else:
            names.append(action.metavar if isinstance(action.metavar, str) else action.dest)
    return names


def _run_leod(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """``leod ARGS`` in an empty cwd and an empty HOME, with no Prefect settings inherited; both folders
    must stay empty."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(HOME=str(home), COLUMNS="100")
    proc = subprocess.run([str(LEOD), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert sorted(p.name for p in cwd.iterdir()) == [], f"leod {' '.join(args)} wrote into its cwd"
    assert sorted(p.name for p in home.iterdir()) == [], f"leod {' '.join(args)} wrote into HOME"
    return proc


def test_the_parser_has_commands():
    assert LEOD.exists(), f"console script {LEOD} not installed"
    assert len(COMMANDS) >= 10 and "serve" in COMMANDS and "self-train" in COMMANDS


def test_leod_help_lists_every_command(tmp_path: Path):
    proc = _run_leod(["--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("usage: leod ")
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("    ") and line.split()}
    assert set(COMMANDS) <= listed, f"missing from leod --help: {sorted(set(COMMANDS) - listed)}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help(command: str, tmp_path: Path):
    proc = _run_leod([command, "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines and (lines[0] == f"usage: leod {command}" or lines[0].startswith(f"usage: leod {command} ")), lines[:1]
    tokens = set(proc.stdout.replace("[", " ").replace("]", " ").replace(",", " ").split())
    missing = [name for name in _declared(COMMANDS[command]) if name not in tokens]
    assert not missing, f"leod {command} --help does not show {missing}"


def test_help_imports_nothing_heavy(tmp_path: Path):
    """All the help pages in one process: none imports Prefect (no server, no database) or torch."""
    code = (
        "import sys\n"
        "from flows.cli import main\n"
        f"for cmd in {sorted(COMMANDS)!r}:\n"
        "    try:\n"
        "        main([cmd, '--help'])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, (cmd, exc.code)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]", f"--help imported {proc.stdout.splitlines()[-1]}"
    assert list(cwd.iterdir()) == []
