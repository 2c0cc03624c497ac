"""``leod synth`` writes the same files as the library call (the session's micro preset, same seed)."""

from flows.cli import main as cli_main
from sample_data import tree_files


def test_cli_writes_the_same_tree(micro_dir, tmp_path, prefect_harness):
    root, _ = micro_dir
    dst = tmp_path / "raw"
    assert cli_main(["synth", str(dst), "--preset", "micro", "--seed", "3"]) == 0
    assert tree_files(dst) == tree_files(root)
    for f in tree_files(root):
        assert (dst / f).read_bytes() == (root / f).read_bytes(), f
