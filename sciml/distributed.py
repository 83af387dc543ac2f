"""Training across processes with ``torch.distributed``, launched by ``torchrun``.

``torchrun --standalone --nproc_per_node 2 -m sciml run burgers`` starts two processes with the
environment variables ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``
set; :func:`join` sees them and joins the process group (gloo on the CPU, NCCL on CUDA). Across
several machines the same code runs under torchrun's rendezvous (``--nnodes``, ``--rdzv-backend
c10d``, ``--rdzv-endpoint HOST:PORT``); nothing here depends on where the processes live.

The scheme every solver uses: each process computes its *contribution* to every loss term (its
share of the collocation points, or the subdomains it owns); :meth:`Group.sum_terms` makes each
term's value the sum of the contributions of all processes, and :meth:`Group.sum_gradients` sums
the gradients after every backward pass. Every process then holds the same loss and gradient and
takes the same optimiser step (Adam or L-BFGS, line search included), so the parameters stay equal
on every process without being broadcast.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor


@dataclass
class Group:
    """This process's place in the default process group: ``rank`` of ``size`` processes."""

    rank: int
    size: int

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum_terms(self, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each term's value becomes the sum over processes of its contribution; its gradient stays
        this process's own (summed over processes by :meth:`sum_gradients`). Every process must
        pass the same names in the same order."""
        names = list(terms)
        local = torch.stack([terms[k].detach().reshape(()) for k in names])
        total = local.clone()
        dist.all_reduce(total)
        return {k: terms[k] + (total[i] - local[i]) for i, k in enumerate(names)}

    def all_sum(self, tensor: Tensor) -> Tensor:
        """Elementwise sum of ``tensor`` over processes (detached), e.g. to exchange interface values."""
        total = tensor.detach().clone()
        dist.all_reduce(total)
        return total

    def sum_gradients(self, params: list[Tensor]) -> None:
        """Sum the gradients of ``params`` over processes in one all-reduce (a missing gradient counts as 0)."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n

    def share(self, n: int) -> slice:
        """This process's contiguous part of ``n`` items (sizes differ by at most one)."""
        base, extra = divmod(n, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))


def launched() -> bool:
    """True in a process started by torchrun (or another launcher) with ``WORLD_SIZE`` > 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join(device: torch.device) -> tuple[Group | None, torch.device]:
    """Join the process group when launched with more than one process; else ``(None, device)``.

    Returns the group and the device this process trains on: with CUDA, ``cuda:LOCAL_RANK`` (one
    GPU per process) unless a device index was given.
    """
    if not launched():
        return None, device
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(dist.destroy_process_group)
    return Group(dist.get_rank(), dist.get_world_size()), device


def is_main() -> bool:
    """True in the process that writes outputs and shows progress: rank 0, or the only process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0
