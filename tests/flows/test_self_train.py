"""The self-training flow's stage task: output into the task log, a failed stage raised with its one-line
reason (what the Prefect UI shows on the failed task)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from flows.self_train import StageFailed, dvc_repro, failure_reason

_DVC = str(Path(sys.executable).parent / "dvc")


def test_failure_reason_prefers_the_leod_line():
    lines = ["Running stage 'train@1':", "> leod train --round 1", "leod train: error: label table not found: x",
             "ERROR: failed to reproduce 'train@1': failed to run: leod train --round 1, exited with 1"]
    assert failure_reason(lines) == "leod train: error: label table not found: x"
    assert failure_reason(lines[-1:]).startswith("ERROR: failed to reproduce 'train@1'")
    assert failure_reason(["all good"]) is None


def _dvc_repo(tmp_path: Path) -> Path:
    (tmp_path / "ok.py").write_text("print('hello from ok')\n")
    (tmp_path / "bad.py").write_text("import sys\nprint('working...')\n"
                                     "print('leod fake: error: broken input in seq_001', file=sys.stderr)\n"
                                     "sys.exit(1)\n")
    (tmp_path / "dvc.yaml").write_text(f"stages:\n  ok:\n    cmd: {sys.executable} ok.py\n"
                                       f"  bad:\n    cmd: {sys.executable} bad.py\n")
    subprocess.run([_DVC, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    return tmp_path


def test_dvc_repro_logs_output_and_raises_the_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    repo = _dvc_repo(tmp_path)
    caplog.set_level(logging.INFO, logger="flows.self_train")
    seconds = dvc_repro.fn("ok", str(repo))
    assert seconds > 0
    assert "hello from ok" in caplog.messages
    with pytest.raises(StageFailed) as info:
        dvc_repro.fn("bad", str(repo))
    assert str(info.value) == "stage bad failed: leod fake: error: broken input in seq_001"
    assert info.value.bad_input  # the CLI prints it as one line
    assert "working..." in caplog.messages
