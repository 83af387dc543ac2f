"""The taylor engine's native CPU kernel for tanh MLPs (``jet_mlp.cpp``).

For a plain tanh MLP on the CPU, the jets of the whole network (values, first and second derivatives;
the chain rules of :mod:`sciml.taylor`) are computed by one C++ call, and all weight and bias
gradients by one more in the backward pass: the K jet slots of a block of points go through each
linear layer as one BLAS product (PyTorch's own BLAS), the activation's chain rules run as vectorised
loops, and the blocks run in parallel on the torch threads, with buffers reused from step to step.

It is an opt-in (``PINN(..., native=True)`` or ``"auto"``; the default is False): measured end to end
on whole default trainings it saves little over the compiled PyTorch path the solver uses by
default (``sciml bench native``, benchmarks/README.md), and it needs a C++ build on the machine.

Building. The extension is compiled on first use with ``torch.utils.cpp_extension`` (a line on
stderr says so; it takes a while) into ``~/.cache/sciml/native/MACHINE-KEY`` (or
``$SCIML_CACHE/native/...``). It is compiled with ``-march=native``, so the folder's KEY is a hash of
everything the binary depends on (:func:`build_key`: the machine architecture, the CPU's feature
flags, the torch and Python versions, the compiler's identity, the compile flags and the source
file): a binary is only ever loaded on a CPU with the same features, by the torch it was built for.
It needs x86-64 Linux with glibc >= 2.35 (libmvec's vector tanh), a C++ compiler (``$CXX``, else
``c++``), ninja, and a torch that exports the Fortran BLAS routines ``sgemm_``/``dgemm_`` (the x86-64
Linux wheels do); where any of these is missing :func:`available` is False and
:func:`unavailable_reason` says which, without trying to compile. A build that fails is remembered:
the reason is written to ``build-failed.txt`` in the key's folder and later processes report it
instead of compiling again; delete that file, or set ``SCIML_NATIVE_RETRY=1``, to try again.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import torch
from torch import Tensor

NAME = "sciml_jet_mlp"
_SOURCE = Path(__file__).with_name("jet_mlp.cpp")
_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fopenmp"]
_LDFLAGS = ["-lmvec", "-fopenmp"]
FAILED = "build-failed.txt"
"""The file, in the key's build folder, that records a failed build (first line: the reason)."""
RETRY = "SCIML_NATIVE_RETRY"
"""Environment variable: set (to anything but empty or 0) to build again despite a recorded failure."""
MIN_GLIBC = (2, 35)
_LOCK = threading.Lock()
_state: dict = {}


def compiler() -> str:
    """The C++ compiler ``torch.utils.cpp_extension`` builds with on Linux: ``$CXX``, else ``c++``."""
    return os.environ.get("CXX") or "c++"


def compiler_identity(cxx: str) -> str | None:
    """The first line of ``cxx --version`` (e.g. ``g++ (Debian 12.2.0-14) 12.2.0``); None if it
    cannot be run."""
    try:
        done = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def cpu_features() -> str:
    """The CPU's feature flags, which decide what ``-march=native`` may use: the ``flags`` line of
    /proc/cpuinfo on x86 Linux (``Features`` on ARM), sorted; elsewhere the processor's name."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return " ".join(sorted(value.split()))
    except OSError:
        pass
    return platform.processor() or "unknown"


def build_key() -> dict[str, str]:
    """What the compiled binary depends on; a change in any of them means another build (folder)."""
    return {
        "machine": platform.machine(),
        "cpu_features": cpu_features(),
        "torch": f"{torch.__version__} ({torch.version.git_version})",
        "python": sys.implementation.cache_tag or platform.python_version(),
        "compiler": f"{compiler()}: {compiler_identity(compiler())}",
        "flags": " ".join(_FLAGS + _LDFLAGS),
        "source": hashlib.sha256(_SOURCE.read_bytes()).hexdigest(),
    }


def build_directory(key: dict[str, str]) -> Path:
    """The folder the build for ``key`` goes to: ``MACHINE-HASH`` under the cache's ``native``."""
    root = Path(os.environ.get("SCIML_CACHE") or Path.home() / ".cache" / "sciml") / "native"
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return root / f"{key['machine'] or 'unknown'}-{digest}"


def _torch_has_blas() -> bool:
    """Whether torch's CPU library exports the Fortran BLAS routines the kernel calls."""
    lib = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        handle = ctypes.CDLL(str(lib))
    except OSError:
        return False
    return all(hasattr(handle, symbol) for symbol in ("sgemm_", "dgemm_"))


def cannot_build() -> str | None:
    """Why the kernel cannot be built here, found without compiling (None: nothing known against it)."""
    system, machine = platform.system(), platform.machine()
    if system != "Linux":
        return f"it is built for Linux (GCC, OpenMP, glibc's vector maths library); this is {system}"
    if machine != "x86_64":
        return f"its vector loops and BLAS calls are written for x86-64; this machine is {machine}"
    libc, version = platform.libc_ver()
    numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if libc != "glibc" or numbers < MIN_GLIBC:
        return (f"it needs glibc >= {'.'.join(map(str, MIN_GLIBC))} (vector tanh in libmvec); this system has "
                f"{libc or 'an unknown C library'} {version}".rstrip())
    if compiler_identity(compiler()) is None:
        return f"no C++ compiler: {compiler()!r} cannot be run (install g++, or set CXX to one)"
    from torch.utils.cpp_extension import is_ninja_available

    if not is_ninja_available():
        return "ninja, which torch.utils.cpp_extension builds with, is not installed (pip install ninja)"
    if not _torch_has_blas():
        return f"this torch ({torch.__version__}) does not export the BLAS routines sgemm_/dgemm_ the kernel calls"
    return None


def _summary(err: Exception) -> str:
    """One line for a failed build: the start of the exception's first line (which may hold a whole
    compiler command) and the compiler's first error."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    first = first if len(first) <= 160 else first[:157] + "..."
    detail = next((line for line in lines[1:] if "error" in line.lower() or "undefined" in line.lower()), "")
    return f"{type(err).__name__}: {first}{': ' + detail[:300] if detail else ''}"


def _retry_hint(marker: Path) -> str:
    return f"delete {marker} or set {RETRY}=1 to try again"


def _build():
    """The extension and None, or None and why it is not available (see the module's docstring)."""
    reason = cannot_build()
    if reason is not None:
        return None, reason
    key = build_key()
    where = build_directory(key)
    marker = where / FAILED
    if marker.is_file() and os.environ.get(RETRY, "") in ("", "0"):
        recorded = (marker.read_text().splitlines() or ["(no reason recorded)"])[0]
        return None, f"{recorded} (an earlier build failed and is not retried; {_retry_hint(marker)})"
    try:
        from torch.utils.cpp_extension import load

        where.mkdir(parents=True, exist_ok=True)
        (where / "key.json").write_text(json.dumps(key, indent=1) + "\n")
        if not (where / f"{NAME}.so").is_file():
            print(f"sciml.native: compiling the C++ CPU kernel for this CPU into {where} (once per CPU, torch "
                  "and compiler; it takes a while)", file=sys.stderr, flush=True)
        ext = load(name=NAME, sources=[str(_SOURCE)], extra_cflags=_FLAGS, extra_ldflags=_LDFLAGS,
                   build_directory=str(where), verbose=False)
    except Exception as err:  # a compiler error, a missing header or library, an unwritable cache, ...
        reason = _summary(err)
        try:
            marker.write_text(f"{reason}\n\n{err}\n")
        except OSError:
            return None, reason
        return None, f"{reason} (not retried in later processes; {_retry_hint(marker)})"
    marker.unlink(missing_ok=True)
    return ext, None


def module():
    """The compiled extension, building it on the first call; ``None`` if it cannot be built."""
    with _LOCK:
        if "module" not in _state:
            _state["module"], _state["reason"] = _build()
        return _state["module"]


def available() -> bool:
    """Whether the native kernel can be used on this machine (builds it if needed)."""
    return module() is not None


def unavailable_reason() -> str | None:
    """Why :func:`available` is False (``None`` when it is True)."""
    module()
    return _state["reason"]


def warn_fallback() -> None:
    """Warn, once per process, that the kernel is not available and the PyTorch path computes the jets."""
    reason = unavailable_reason()
    with _LOCK:
        if _state.get("warned"):
            return
        _state["warned"] = True
    warnings.warn(f"sciml.native: the C++ kernel is not available ({reason}); the taylor engine's PyTorch "
                  "path computes the jets instead", stacklevel=3)


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

