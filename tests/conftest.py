"""Fixtures shared by several test files, and one intra-op thread per worker when pytest-xdist runs the
suite in several processes (the README's ``-n auto``: one per core)."""

import os

import pytest


def pytest_configure(config):
    """Under pytest-xdist each worker takes one core: torch and the processes a test starts (the CLI, two-rank
    runs) keep to one thread each, as two busy-waiting threads on one core slow tiny runs 10-50x."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


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
