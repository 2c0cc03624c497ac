"""Fixtures of the pseudo-label tests (helpers in pseudo_fakes.py)."""

import pytest
import torch
from pseudo_fakes import BlobDetector


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def blob_model():
    return BlobDetector()
