"""The leod CLI lets idle OpenMP threads sleep (set before torch loads libgomp) unless the user chose."""

from __future__ import annotations

import os

from flows.cli import main


def test_cli_sets_passive_openmp_wait_unless_set(monkeypatch, capsys) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert main(["model-info", "--preset", "nano", "--camera", "synth"]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert main(["model-info", "--preset", "nano", "--camera", "synth"]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
