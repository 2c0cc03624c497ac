"""``leod study --dry-run``: the selected runs and their projected time (one process, N workers), one-line
errors on a bad filter and on the removed ``--shard``."""

from flows.cli import main


def test_cli_dry_run_lists_runs_and_projects(tmp_path, capsys):
    argv = ["study", "--dry-run", "-S", f"paths.artifacts={tmp_path}", "--only", "s0$"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "wsod-0.01-s0" in out and "abl_soft-wsod-0.05-s0" in out and "wsod-0.01-s1" not in out
    assert "12 runs (36 in the plan)" in out and "projected" in out and "built-in CPU time model" in out
    assert main(["study", "--dry-run", "--only", "nope"]) == 1
    assert "matches no run" in capsys.readouterr().err


def test_cli_workers_projection_and_removed_shard_flag(tmp_path, capsys):
    assert main(["study", "--dry-run", "-S", f"paths.artifacts={tmp_path}", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    one = out.split("projected ")[1].split(" ")[0]
    assert "with --workers 2 (one core each): about" in out and one not in out.split("about ")[1]
    assert main(["study", "--shard", "0/2"]) == 1  # removed: one line naming what replaces it
    err = capsys.readouterr().err
    assert "--shard was removed" in err and "orchestration.dask_address" in err and len(err.splitlines()) == 1
