"""The I/O retry condition of the tasks: OSError retries; a missing file, bad data or success do not."""

import errno

import pytest

from flows.policies import retry_on_io_error


class _State:
    """The part of a Prefect state the condition reads: ``result()`` re-raises the task's exception."""

    def __init__(self, exc: BaseException | None) -> None:
        self.exc = exc

    def result(self):
        if self.exc is not None:
            raise self.exc
        return 1


@pytest.mark.parametrize("exc, retry", [
    (OSError(errno.EIO, "NFS hiccup"), True),
    (PermissionError("busy"), True),  # an OSError too
    (FileNotFoundError("labels.parquet"), False),  # a missing input stays missing
    (ValueError("bad box"), False),
    (KeyError("class_id"), False),
    (None, False),
])
def test_retry_only_io_errors(exc, retry):
    assert retry_on_io_error(None, None, _State(exc)) is retry
