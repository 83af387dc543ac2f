"""Fixtures shared by several test files."""

import pytest


@pytest.fixture
def one_thread():
    """One intra-op thread: on a shared 2-core machine two busy-waiting threads slow tiny runs 10-50x."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def float64_default():
    """torch's default dtype float64 for the test, restored afterwards so no other test inherits it."""
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.fixture
def interrupt_after():
    """``interrupt_after(n)``: a training callback that presses Ctrl-C (SIGINT) once the ``n``-th
    history record has been written."""
    import os
    import signal

    def make(n):
        count = {"records": 0}

        def callback(trainer, record):
            count["records"] += 1
            if count["records"] == n:
                os.kill(os.getpid(), signal.SIGINT)
        return callback
    return make
