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
