"""The taylor engine's native CPU kernel for tanh MLPs (``jet_mlp.cpp``).

For a plain tanh MLP on the CPU, the jets of the whole network (values, first and second derivatives;
the chain rules of :mod:`sciml.taylor`) are computed by one C++ call, and all weight and bias
gradients by one more in the backward pass: the K jet slots of a block of points go through each
linear layer as one BLAS product (PyTorch's own BLAS), the activation's chain rules run as vectorised
loops, and the blocks run in parallel on the torch threads. A training step takes 10% or more less
time than through ``torch.compile`` of the PyTorch path (`sciml bench residual`,
benchmarks/README.md), without the compile time and recompilations, and with its buffers reused
from step to step.

The extension is compiled on first use (about 30 s, once per machine and torch version; it needs a
C++ compiler, as ``torch.compile`` on the CPU does, and glibc's vector maths library, glibc >= 2.35)
into ``~/.cache/sciml/native`` (or ``$SCIML_CACHE/native``). :func:`available` says whether it
could be built, :func:`unavailable_reason` why not.
"""

from __future__ import annotations

import hashlib
import os
import platform
import threading
from pathlib import Path

import torch
from torch import Tensor

_SOURCE = Path(__file__).with_name("jet_mlp.cpp")
_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp"]
_LOCK = threading.Lock()
_state: dict = {}


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = [platform.processor()]
    text = "|".join([platform.machine(), torch.__version__, *lines, *_FLAGS])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _build_directory() -> Path:
    root = Path(os.environ.get("SCIML_CACHE", Path.home() / ".cache" / "sciml")) / "native" / _cpu_signature()
    root.mkdir(parents=True, exist_ok=True)
    return root


def module():
    """The compiled extension, building it on the first call; ``None`` if it cannot be built."""
    with _LOCK:
        if "module" not in _state:
            try:
                from torch.utils.cpp_extension import load

                _state["module"] = load(name="sciml_jet_mlp", sources=[str(_SOURCE)], extra_cflags=_FLAGS,
                                        extra_ldflags=["-lmvec", "-fopenmp"],
                                        build_directory=str(_build_directory()), verbose=False)
                _state["reason"] = None
            except Exception as err:  # no compiler, no libmvec, a torch without BLAS symbols, ...
                _state["module"] = None
                _state["reason"] = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:300]}"
        return _state["module"]


def available() -> bool:
    """Whether the native kernel can be used on this machine (builds it if needed)."""
    return module() is not None


def unavailable_reason() -> str | None:
    """Why :func:`available` is False (``None`` when it is True)."""
    module()
    return _state["reason"]


BLOCK = 320
"""Most points per block, so that a block's jets stay in the core's cache from one loop to the next
(blocks of 160 and 320 points made the training step 2-3.5% shorter than blocks of 1270, in one
process on the 2-core VM). Blocks are handed to the threads one at a time."""

MIN_BLOCK = 256
"""Fewest points per thread: with fewer, another thread costs more to wake than it saves."""


def block_size(n: int) -> int:
    """Rows per block for n points: every torch thread gets the same number of blocks, of at most
    :data:`BLOCK` rows (one block for fewer than :data:`MIN_BLOCK` points per thread)."""
    threads = max(1, min(torch.get_num_threads(), n // MIN_BLOCK))
    per_thread = -(-n // threads)
    blocks_each = -(-per_thread // BLOCK)
    return max(1, -(-per_thread // blocks_each))


class _Workspaces:
    """Reused buffers for the hidden layers' jets, so that a training step does not allocate (and
    page-fault in) tens of MB afresh. A buffer is taken by a forward pass and given back by its
    backward pass (or dropped with the graph if there is none); at most ``keep`` are held."""

    def __init__(self, keep: int = 8):
        self.keep = keep
        self.free: list[Tensor] = []
        self.lock = threading.Lock()

    def take(self, numel: int, dtype: torch.dtype) -> Tensor:
        with self.lock:
            for i, buf in enumerate(self.free):
                if buf.numel() == numel and buf.dtype == dtype:
                    return self.free.pop(i)
        return torch.empty(numel, dtype=dtype)

    def give(self, buf: Tensor) -> None:
        with self.lock:
            self.free.append(buf)
            del self.free[: -self.keep]


_workspaces = _Workspaces()


class _JetMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, center, half, first, pair_a, pair_b, *params):
        ext = module()
        weights, biases = list(params[0::2]), list(params[1::2])
        k = 1 + len(first) + len(pair_a)
        numel = 2 * x.shape[0] * k * sum(w.shape[0] for w in weights[:-1])
        block = block_size(x.shape[0])
        workspace = _workspaces.take(numel, x.dtype)
        out = ext.forward(x, center, half, weights, biases, first, pair_a, pair_b, block, workspace)
        if any(ctx.needs_input_grad[6:]):
            ctx.save_for_backward(x, center, half, *weights)
            ctx.workspace, ctx.meta = workspace, (first, pair_a, pair_b, block)
        else:
            _workspaces.give(workspace)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        if ctx.workspace is None:
            raise RuntimeError("the native taylor kernel's backward ran twice for one forward pass "
                               "(retain_graph=True); use engine='taylor' with native=False for that")
        x, center, half, *weights = ctx.saved_tensors
        first, pair_a, pair_b, block = ctx.meta
        grads = module().backward(grad.contiguous(), x, center, half, weights, first, pair_a, pair_b, block,
                                  ctx.workspace)
        _workspaces.give(ctx.workspace)
        ctx.workspace = None
        return (None,) * 6 + tuple(grads)


def mlp_jet(x: Tensor, center: Tensor, half: Tensor, first: list[int], pairs: list[tuple[int, int]],
            params: list[Tensor]) -> Tensor:
    """Jets (K, N, m) of the tanh MLP ``params`` = [W_1, b_1, ..., W_L, b_L] (W_l of shape (out, in))
    at points x (N, d) mapped by (x - center) / half; ``first``: input indices of the first-derivative
    slots, ``pairs``: positions within ``first`` of each second-order slot's two indices. Gradients
    flow to the parameters (not to x)."""
    pair_a, pair_b = [a for a, _ in pairs], [b for _, b in pairs]
    return _JetMLP.apply(x.contiguous(), center.contiguous(), half.contiguous(), list(first), pair_a, pair_b,
                         *[p.contiguous() for p in params])

