"""``leod study --dry-run``: the selected runs and their projected time, one-line error on a bad filter."""

from flows.cli import main


def test_cli_dry_run_lists_runs_and_projects(tmp_path, capsys):
    argv = ["study", "--dry-run", "-S", f"paths.artifacts={tmp_path}", "--only", "s0$"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "wsod-0.01-s0" in out and "abl_soft-wsod-0.05-s0" in out and "wsod-0.01-s1" not in out
    assert "11 runs (33 in the plan)" in out and "projected" in out and "built-in CPU time model" in out
    assert main(["study", "--dry-run", "--only", "nope"]) == 1
    assert "matches no run" in capsys.readouterr().err
