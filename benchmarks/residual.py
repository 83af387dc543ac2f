"""``sciml bench residual``: one Burgers PINN training step, ours against DeepXDE's PyTorch backend.

Both sides minimise the same soft-constrained loss on the same float32 points, starting from the
same weights, with Adam at lr 1e-3::

    mean(r²) on 2540 interior points   r = u_t + u u_x - nu u_xx,  nu = 0.01/pi
    + mean(u²) on 80 boundary points   x = ±1
    + mean((u + sin(pi x))²) on 160 initial points   t = 0

One step is ``zero_grad; loss; backward; optimiser step``, each side's own training step: ours is
:meth:`sciml.training.Trainer.adam_step` (what ``Trainer.run`` does once per Adam iteration, with the
trainer's fused Adam, its divergence check and schedule step) over the public solver's loss
(``PINN(...).setup(); set_points(...); loss()``), with each engine; DeepXDE's is its model's own
training step (``Model._train_step``, what ``Model.train`` runs once per iteration, with the plain
``torch.optim.Adam`` that ``Model.compile("adam")`` creates). Before any timing
every contender's initial loss terms must equal DeepXDE's to ``LOSS_RTOL`` — that is the proof that
the comparison is like for like. Contenders are timed in interleaved blocks of ``--steps`` steps
(the order rotates every repeat); the reported figure is the median over ``--repeats`` blocks.

The last line of output is a JSON object (``speedup_vs_deepxde``: our best engine on the largest
network, DeepXDE's ms/step divided by ours).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from sciml.device import set_default_device
from sciml.training import Trainer

NU = 0.01 / math.pi
N_INTERIOR, N_BOUNDARY, N_INITIAL = 2540, 80, 160
LR = 1e-3
LOSS_RTOL = 1e-5
"""Largest relative difference allowed between a contender's initial loss and DeepXDE's."""
TARGET_SPEEDUP = 2.0
ENGINES = {  # label -> PINN execution settings
    "taylor": {"engine": "taylor", "compile": False, "native": False},
    "taylor-compiled": {"engine": "taylor", "compile": True, "native": False},
    "taylor-native": {"engine": "taylor", "compile": False, "native": True},
    "autograd": {"engine": "autograd", "compile": False, "native": False},
}


# -- problem data ------------------------------------------------------------------------------
def make_points(seed: int) -> dict[str, np.ndarray]:
    """The shared training points (N, 2) as [x, t], float32, drawn once from ``seed``."""
    rng = np.random.default_rng(seed)
    interior = np.column_stack([rng.uniform(-1.0, 1.0, N_INTERIOR), rng.uniform(0.0, 1.0, N_INTERIOR)])
    walls = np.repeat([-1.0, 1.0], [N_BOUNDARY // 2, N_BOUNDARY - N_BOUNDARY // 2])
    boundary = np.column_stack([walls, rng.uniform(0.0, 1.0, N_BOUNDARY)])
    initial = np.column_stack([rng.uniform(-1.0, 1.0, N_INITIAL), np.zeros(N_INITIAL)])
    return {name: np.ascontiguousarray(a, dtype=np.float32)
            for name, a in (("interior", interior), ("boundary", boundary), ("initial", initial))}


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"20x3,64x4"`` -> [(20, 3), (64, 4)]: hidden width x number of hidden layers."""
    sizes = []
    for item in text.split(","):
        try:
            width, depth = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise ValueError(f"--sizes takes WIDTHxDEPTH[,WIDTHxDEPTH...], e.g. 20x3,64x4; got {item!r}") from None
        if width <= 0 or depth <= 0:
            raise ValueError(f"network width and depth must be positive, got {item!r}")
        sizes.append((width, depth))
    return sizes


def network_name(width: int, depth: int) -> str:
    return f"2-[{width}]x{depth}-1"


# -- DeepXDE -----------------------------------------------------------------------------------
def import_deepxde():
    """``deepxde`` with the pytorch backend, imported through sciml's own quiet import
    (:func:`sciml.geometry.dde`), which leaves torch's default device and dtype as they were."""
    from sciml import geometry

    geometry.dde()
    import deepxde as dde

    if dde.backend.backend_name != "pytorch":
        raise RuntimeError(f"deepxde was already imported with the {dde.backend.backend_name!r} backend; "
                           "run the benchmark in a fresh process")
    return dde


@contextlib.contextmanager
def default_device(device: torch.device):
    """Run DeepXDE code with ``device`` as torch's default, as DeepXDE itself arranges on a CUDA
    machine (it creates its tensors without a device argument). Nothing to do on CPU."""
    if device.type == "cpu":
        yield
        return
    previous = torch.get_default_device()
    torch.set_default_device(device)
    try:
        yield
    finally:
        set_default_device(previous)


# -- contenders --------------------------------------------------------------------------------
@dataclass
class Contender:
    label: str
    step: Callable[[], None]
    terms: Callable[[], dict[str, float]]
    """Loss terms {residual, boundary, initial} at the current weights (no optimiser step)."""
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    train: Callable[[int], None] | None = None
    """DeepXDE only: ``Model.train(iterations=n)``, for the cross-check of its per-iteration time."""
    first_call_s: float = float("nan")
    train_ms: float = float("nan")
    initial_terms: dict[str, float] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)

    @property
    def ms_per_step(self) -> float:
        return 1e3 * statistics.median(self.times)

    @property
    def ms_per_step_min(self) -> float:
        return 1e3 * min(self.times)


def ours(label: str, width: int, depth: int, points: dict[str, np.ndarray], device: torch.device):
    """Our PINN solver with the engine named by ``label``; returns (contender, model)."""
    from sciml.problems import Burgers
    from sciml.solvers import PINN

    solver = PINN(Burgers(enforce="soft"), width=width, depth=depth, **ENGINES[label], device=str(device),
                  progress=False)
    solver.setup()
    names = [c.name for c in solver.conditions]
    if sorted(names) != ["boundary", "initial"]:
        raise RuntimeError(f"expected soft conditions 'initial' and 'boundary', the solver has {names}")
    solver.set_points(torch.from_numpy(points["interior"]), [torch.from_numpy(points[n]) for n in names])
    config = dataclasses.replace(solver.config, lr=LR, schedule="constant", resample_every=0, checkpoint_every=0,
                                 progress=False)
    trainer = Trainer(solver.model, solver.loss, config)

    def step():
        trainer.adam_step()

    def terms():
        return {k: v.item() for k, v in solver.loss().items()}

    return Contender(f"ours {label}", step, terms), solver.model


def copy_into_fnn(mlp: torch.nn.Module, fnn: torch.nn.Module) -> None:
    """Our MLP's weights into DeepXDE's FNN, folding our input map (x - center) / half_width into the
    first layer: W h + b with h = (x - c) / s equals (W / s) x + (b - W (c / s))."""
    if getattr(mlp, "fourier", None) is not None:
        raise ValueError("the benchmark network has no Fourier features")
    ours_, theirs = list(mlp.linears), list(fnn.linears)
    if [l.weight.shape for l in ours_] != [l.weight.shape for l in theirs]:
        raise RuntimeError("our MLP and DeepXDE's FNN have different layer shapes")
    with torch.no_grad():
        c, s = mlp.center.to(torch.float64), mlp.half_width.to(torch.float64)
        w0, b0 = ours_[0].weight.to(torch.float64), ours_[0].bias.to(torch.float64)
        theirs[0].weight.copy_(w0 / s)
        theirs[0].bias.copy_(b0 - w0 @ (c / s))
        for a, b in zip(ours_[1:], theirs[1:]):
            b.weight.copy_(a.weight)
            b.bias.copy_(a.bias)


def deepxde(dde, width: int, depth: int, points: dict[str, np.ndarray], device: torch.device,
            mlp: torch.nn.Module) -> Contender:
    """The same problem through DeepXDE's public API, with our MLP's initial weights."""
    interior, boundary, initial = points["interior"], points["boundary"], points["initial"]

    def pde(x, y):
        u_x = dde.grad.jacobian(y, x, i=0, j=0)
        u_t = dde.grad.jacobian(y, x, i=0, j=1)
        u_xx = dde.grad.hessian(y, x, i=0, j=0)
        return u_t + y * u_x - NU * u_xx

    quiet = contextlib.redirect_stdout(io.StringIO())
    with default_device(device), quiet:
        domain = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
        wall = dde.icbc.DirichletBC(domain, lambda x: np.zeros((len(x), 1), dtype=x.dtype),
                                    lambda _, on_boundary: on_boundary)
        start = dde.icbc.IC(domain, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
        data = dde.data.TimePDE(domain, pde, [wall, start], num_domain=N_INTERIOR, num_boundary=N_BOUNDARY,
                                num_initial=N_INITIAL, train_distribution="pseudo")
        # Replace DeepXDE's own samples by the shared points, in its layout: the condition points
        # (one block per condition, in the order of the list above), then the PDE points.
        data.train_x_all = interior
        data.train_x_bc = np.vstack([boundary, initial])
        data.num_bcs = [len(boundary), len(initial)]
        data.train_x = np.vstack([data.train_x_bc, interior])
        data.train_y = data.train_aux_vars = None
        data.test_x, data.test_y, data.test_aux_vars = data.train_x, None, None
        net = dde.nn.FNN([2] + [width] * depth + [1], "tanh", "Glorot normal")
        copy_into_fnn(mlp, net)
        model = dde.Model(data, net)
        model.compile("adam", lr=LR)
    x = data.train_x
    if x.dtype != np.float32 or next(net.parameters()).dtype != torch.float32:
        raise RuntimeError("DeepXDE is not running in float32")

    def step():
        model._train_step(x, None, None)

    def terms():
        losses = model.outputs_losses_train(x, None, None)[1]
        return dict(zip(("residual", "boundary", "initial"), losses.tolist()))

    def train(iterations):
        with contextlib.redirect_stdout(io.StringIO()):
            model.train(iterations=iterations, display_every=10**9, verbose=0)

    return Contender("deepxde", step, terms, context=lambda: default_device(device), train=train)


# -- timing ------------------------------------------------------------------------------------
def synchronizer(device: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def run_block(c: Contender, steps: int, sync) -> float:
    """Seconds per step over ``steps`` consecutive steps."""
    with c.context():
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            c.step()
        sync()
        return (time.perf_counter() - start) / steps


def check_losses(contenders: list[Contender], reference: Contender) -> float:
    """Largest relative difference of any contender's initial total loss from DeepXDE's; raises above
    ``LOSS_RTOL``. Terms are printed for inspection."""
    ref_total = sum(reference.initial_terms.values())
    worst = 0.0
    for c in [reference] + contenders:
        total = sum(c.initial_terms.values())
        rel = abs(total - ref_total) / abs(ref_total)
        worst = max(worst, rel)
        terms = "  ".join(f"{k}={v:.7e}" for k, v in sorted(c.initial_terms.items()))
        print(f"    {c.label:22s} loss={total:.7e}  rel.diff={rel:.1e}  ({terms})")
        if rel > LOSS_RTOL:
            raise RuntimeError(f"{c.label}: initial loss {total:.8e} differs from DeepXDE's {ref_total:.8e} by "
                               f"{rel:.1e} (relative) > {LOSS_RTOL:g}: the two sides do not compute the same thing")
    return worst


def profile(c: Contender, steps: int, device: torch.device, rows: int = 15) -> None:
    """torch.profiler's top ops (by self time) over ``steps`` steps of ``c``, by op and input shapes
    (so the matrix products of each size can be counted on both sides)."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with c.context(), torch_profile(activities=activities, record_shapes=True) as prof:
        for _ in range(steps):
            c.step()
    print(f"\n  profile of {c.label} ({steps} steps), by self time:")
    print(prof.key_averages(group_by_input_shape=True).table(
        sort_by="self_cuda_time_total" if cuda else "self_cpu_time_total", row_limit=rows,
        max_name_column_width=40, max_shapes_column_width=45))


def bench_size(dde, width: int, depth: int, labels: list[str], points, device, args) -> list[Contender]:
    print(f"\n{network_name(width, depth)}: building contenders, checking initial losses")
    sync = synchronizer(device)
    built = [ours(label, width, depth, points, device) for label in labels]
    reference_model = built[0][1]
    for _, model in built[1:]:  # the solver seeds its init; make the identity explicit anyway
        model.load_state_dict(reference_model.state_dict())
    contenders = [c for c, _ in built]
    contenders.insert(0, deepxde(dde, width, depth, points, device, reference_model.body))
    for c in contenders:
        # First loss evaluation and first step: includes torch.compile's compilation where it applies.
        with c.context():
            sync()
            start = time.perf_counter()
            c.initial_terms = c.terms()
            c.step()
            sync()
            c.first_call_s = time.perf_counter() - start
    check_losses(contenders[1:], contenders[0])
    if args.warmup:
        for c in contenders:
            run_block(c, args.warmup, sync)
    for r in range(args.repeats):
        shift = r % len(contenders)
        for c in contenders[shift:] + contenders[:shift]:
            c.times.append(run_block(c, args.steps, sync))
    # Cross-check, not used for the speedup: DeepXDE's whole training loop for one block.
    contenders[0].train_ms = 1e3 * time_model_train(contenders[0], args.steps, sync)
    if args.profile:
        for c in contenders:
            profile(c, args.profile, device)
    return contenders


def time_model_train(c: Contender, iterations: int, sync) -> float:
    """Seconds per iteration of DeepXDE's ``Model.train(iterations)``, whole call (it also evaluates the
    losses at its start and end)."""
    with c.context():
        sync()
        start = time.perf_counter()
        c.train(iterations)
        sync()
        return (time.perf_counter() - start) / iterations


def machine(device: torch.device, dde) -> dict:
    from sciml.device import describe

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "deepxde": dde.__version__, "device": str(device), "device_name": describe(device),
            "platform": platform.platform(), "python": platform.python_version()}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="sciml bench residual",
        description="Time one Burgers PINN training step (loss, backward, Adam step): our solver's engines vs "
                    "DeepXDE's PyTorch backend, same points, same network, same initial weights.")
    p.add_argument("--steps", type=int, default=10, help="steps per timed block (default: 10)")
    p.add_argument("--repeats", type=int, default=7, help="timed blocks per contender; the median counts (default: 7)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per contender before timing (default: 5)")
    p.add_argument("--sizes", default="20x3,64x4",
                   help="networks as WIDTHxDEPTH (hidden layers), comma-separated (default: 20x3,64x4)")
    p.add_argument("--engines", default=None,
                   help=f"our engines to time, comma-separated from {', '.join(ENGINES)} (default: all; "
                        "taylor-native on the CPU only)")
    p.add_argument("--device", default="cpu", help="'cpu' (default) or 'cuda'/'cuda:N' if available")
    p.add_argument("--threads", type=int, default=0,
                   help="torch.set_num_threads(N) first (default: 0 = leave torch's default, one per core)")
    p.add_argument("--seed", type=int, default=1234, help="seed of the shared points (default: 1234)")
    p.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="after timing, print torch.profiler's top ops over STEPS steps per contender")
    args = p.parse_args(argv)
    for name in ("steps", "repeats", "warmup"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            raise ValueError(f"--{name} must be {'>= 0' if name == 'warmup' else 'positive'}")
    sizes = parse_sizes(args.sizes)
    from sciml.device import resolve_device

    device = resolve_device(args.device)
    if args.engines is None:
        labels = [label for label in ENGINES if label != "taylor-native" or device.type == "cpu"]
    else:
        labels = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(labels) - set(ENGINES)
    if unknown or not labels:
        raise ValueError(f"--engines takes names from {', '.join(ENGINES)}; got {args.engines!r}")

    if args.threads < 0:
        raise ValueError("--threads must be >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    dde = import_deepxde()
    points = make_points(args.seed)
    started = time.perf_counter()
    results = {}
    for width, depth in sizes:
        results[(width, depth)] = bench_size(dde, width, depth, labels, points, device, args)

    info = machine(device, dde)
    print(f"\nBurgers PINN training step, {N_INTERIOR} interior + {N_BOUNDARY} boundary + {N_INITIAL} initial "
          f"points, float32, Adam; median of {args.repeats} x {args.steps} steps")
    load_after = os.getloadavg()[0]
    busy = ""
    if load_before >= (os.cpu_count() or 1):
        busy = " (at or above the core count: other processes compete for the CPU)"
    print(f"{info['device_name']}, torch {info['torch']}, deepxde {info['deepxde']}; 1-min load average "
          f"{load_before:.2f} before{busy}, {load_after:.2f} after\n")
    header = (f"{'network':14s} {'contender':22s} {'ms/step':>9s} {'vs deepxde':>11s} {'best block':>11s} "
              f"{'first step s':>13s}")
    print(header)
    print("-" * len(header))
    summary: dict = {"ms_per_step": {}, "speedup": {}, "ms_per_step_best_block": {}, "deepxde_model_train_ms": {},
                     "compile_s": {}, "initial_loss": {}}
    for (width, depth), contenders in results.items():
        net = network_name(width, depth)
        ref = contenders[0].ms_per_step
        for i, c in enumerate(contenders):
            ms = c.ms_per_step
            print(f"{net if i == 0 else '':14s} {c.label:22s} {ms:9.2f} {ref / ms:10.2f}x {c.ms_per_step_min:11.2f} "
                  f"{c.first_call_s:13.2f}")
        print(f"{'':14s} {'(deepxde Model.train)':22s} {contenders[0].train_ms:9.2f} {'':11s} {'':11s} "
              f"{'':13s}  <- whole train() call / iterations, cross-check only")
        key = lambda c: c.label.removeprefix("ours ")  # noqa: E731
        summary["ms_per_step"][net] = {key(c): round(c.ms_per_step, 4) for c in contenders}
        summary["speedup"][net] = {key(c): round(ref / c.ms_per_step, 3) for c in contenders[1:]}
        summary["ms_per_step_best_block"][net] = {key(c): round(c.ms_per_step_min, 4) for c in contenders}
        summary["deepxde_model_train_ms"][net] = round(contenders[0].train_ms, 4)
        summary["initial_loss"][net] = {key(c): sum(c.initial_terms.values()) for c in contenders}
        for c in contenders:
            if key(c) == "taylor-compiled":
                # first loss + first step, less the two steady-state evaluations it replaces
                summary["compile_s"][net] = round(c.first_call_s - 2 * c.ms_per_step / 1e3, 2)
    largest = max(results, key=lambda s: (s[0] * s[0] * s[1], s))
    big = network_name(*largest)
    best = max(summary["speedup"][big], key=summary["speedup"][big].get)
    speedup = summary["speedup"][big][best]
    print(f"\nbest of ours on {big}: {best}, {speedup:.2f}x DeepXDE's step "
          f"(target >= {TARGET_SPEEDUP:g}x: {'met' if speedup >= TARGET_SPEEDUP else 'NOT met'})")
    if summary["compile_s"]:
        print("taylor-compiled compile time (first loss + step, less two steady steps): "
              + ", ".join(f"{k} {v:.1f} s" for k, v in summary["compile_s"].items()))
    final = {"benchmark": "residual", "speedup_vs_deepxde": speedup, "best_engine": best, "network": big,
             "target_speedup": TARGET_SPEEDUP, "meets_target": speedup >= TARGET_SPEEDUP, **summary,
             "points": {"interior": N_INTERIOR, "boundary": N_BOUNDARY, "initial": N_INITIAL, "seed": args.seed,
                        "dtype": "float32"},
             "steps": args.steps, "repeats": args.repeats, "warmup": args.warmup,
             "wall_s": round(time.perf_counter() - started, 1),
             "loadavg_1m": [round(load_before, 2), round(load_after, 2)], "machine": info}
    print(json.dumps(final))
    return 0
