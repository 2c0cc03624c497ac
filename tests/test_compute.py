"""One rule for where a model runs (leod_core/compute.py), and every stage that runs one goes through it."""

import re
from pathlib import Path

import torch

from leod_core.compute import pick_device, use_threads

ROOT = Path(__file__).resolve().parents[1]


def test_pick_device_takes_the_given_one_else_cuda_else_cpu():
    assert pick_device("cpu") == torch.device("cpu")
    want = torch.device("cuda", 1) if torch.cuda.is_available() else torch.device("cpu")
    assert pick_device(None, local_rank=1) == want


def test_use_threads_sets_the_count_and_zero_keeps_the_default():
    before = torch.get_num_threads()
    try:
        use_threads(1)
        assert torch.get_num_threads() == 1
        use_threads(0)
        assert torch.get_num_threads() == 1  # 0 leaves it as it is (torch's default in a fresh process)
    finally:
        torch.set_num_threads(before)


def test_no_stage_sets_threads_or_picks_a_device_by_itself():
    # a fifth spelling of the rule is how a stage ends up on another thread count than the one DVC tracks
    own = re.compile(r"set_num_threads\(|cuda\.is_available\(\) else")
    offenders = [str(p.relative_to(ROOT)) for pkg in ("leod_core", "flows", "tasks") for p in (ROOT / pkg).rglob("*.py")
                 if p.name != "compute.py" and own.search(p.read_text())]
    assert offenders == []
