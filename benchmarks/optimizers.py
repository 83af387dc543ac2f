"""``sciml bench optimizers``: relative L2 error against training wall time for the optimisers that
follow Adam (issue 17), on Burgers (ν = 0.01/π, the Cole–Hopf reference), one after the other in one
process at one torch thread.

Every optimiser trains the same PINN from the same initial weights (``--seed``): the same tanh MLP
(``--width`` × ``--depth``, float64 by default), the same ``--n-interior`` collocation points redrawn
every ``--resample-every`` steps from the same generator, the same ``--iterations`` Adam steps (so the
Adam part of every curve is the same run), then ``--steps`` steps of the optimiser — ``adam-lbfgs``:
torch's L-BFGS with a strong-Wolfe line search, which does not resample after Adam;
``ssbroyden``/``ssbfgs``/``bfgs``: :class:`sciml.optim.QuasiNewton`, which resamples every
``--resample-every`` steps counted from the start of training; all four by default, L-BFGS first as
the baseline. ``engd`` is meant for small networks on fixed points (each of its steps solves with the
Gram matrix of the Jacobian of every residual by every parameter), so it is not offered here. The
error against the reference (the whole 256 × 100 Cole–Hopf grid) is recorded every ``--eval-every``
Adam steps and at every record of the phase after Adam (every 50 steps); those evaluations are inside
the training wall time, the same few per record for every optimiser. Writes
``optimizers-burgers.json`` (with the machine, the commit that ran and the load) and
``optimizers-burgers.png`` (error and loss against wall time) into ``--out``, prints a table and ends
with one JSON line; ``sciml validate --report-only`` puts the figure under the Burgers optimiser table
of the validation report.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import torch

import sciml
from sciml.training import OPTIMIZERS

from .native import machine

CHOICES = tuple(o for o in OPTIMIZERS if o != "engd")


def _settings(args: argparse.Namespace, optimizer: str) -> dict[str, Any]:
    # the optimiser named always, as the problem's default may be another one
    steps = {"lbfgs_iterations": args.steps} if optimizer == "adam-lbfgs" else {"second_order_iterations": args.steps}
    steps["optimizer"] = optimizer
    return {"iterations": args.iterations, "width": args.width, "depth": args.depth, "n_interior": args.n_interior,
            "resample_every": args.resample_every, "eval_every": args.eval_every, "dtype": args.dtype,
            "seed": args.seed, "progress": False, **steps}


def train(args: argparse.Namespace, optimizer: str) -> dict[str, Any]:
    """One training with ``optimizer`` after Adam; its error and loss curves against wall time [s]."""
    load_before = os.getloadavg()[0]
    result = sciml.run("burgers", "pinn", **_settings(args, optimizer))
    load_after = os.getloadavg()[0]
    curve = [{"time_s": r["time"], "phase": r["phase"], "step": r["step"], "loss": r["loss"], "rel_l2": r["rel_l2"]}
             for r in result.history if r.get("rel_l2") is not None]
    adam = [r for r in result.history if r["phase"] == "adam"]
    return {"final_rel_l2": result.errors()["rel_l2"], "train_s": result.timings["train_s"],
            "adam_s": adam[-1]["time"] if adam else 0.0,
            "steps_after_adam": max((r["step"] for r in result.history if r["phase"] != "adam"), default=0),
            "final_loss": result.history[-1]["loss"], "curve": curve,
            "loadavg_1m": {"before": load_before, "after": load_after}}


def time_to_reach(curve: list[dict[str, Any]], error: float) -> float | None:
    """The first recorded wall time [s] at which the error is at or below ``error`` (None: never)."""
    return next((p["time_s"] for p in curve if p["rel_l2"] <= error), None)


def plot(rows: dict[str, dict[str, Any]], path: Path, title: str) -> Path:
    from sciml.plotting import save_figure, subplots

    fig, (ax, ax_loss) = subplots(1, 2, figsize=(12, 4.6))
    for k, (name, row) in enumerate(rows.items()):
        t = [p["time_s"] for p in row["curve"]]
        ax.semilogy(t, [p["rel_l2"] for p in row["curve"]], color=f"C{k}", marker=".", ms=3, lw=1.2,
                    label=f"Adam + {name.replace('adam-', '')}: {row['final_rel_l2']:.2e} in {row['train_s']:.0f} s")
        ax_loss.semilogy(t, [p["loss"] for p in row["curve"]], color=f"C{k}", lw=1.2, label=name)
        ax.axvline(row["adam_s"], color=f"C{k}", ls=":", lw=0.8)
    ax.set_xlabel("training wall time [s] (dotted: end of Adam)")
    ax.set_ylabel("relative L2 error vs Cole–Hopf reference [–]")
    ax_loss.set_xlabel("training wall time [s]")
    ax_loss.set_ylabel("training loss [–]")
    for a in (ax, ax_loss):
        a.grid(True, which="both", alpha=0.25)
        a.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, bbox_inches="tight")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sciml bench optimizers", description=__doc__.split("\n\n")[0])
    p.add_argument("--optimizers", default=",".join(CHOICES),
                   help=f"comma-separated, from {list(CHOICES)}; the first is the baseline (default: all, {','.join(CHOICES)})")
    p.add_argument("--iterations", type=int, default=1000, help="Adam steps, the same for all (default: 1000)")
    p.add_argument("--steps", type=int, default=3000, help="steps of each optimiser after Adam (default: 3000)")
    p.add_argument("--width", type=int, default=20, help="neurons per hidden layer (default: 20)")
    p.add_argument("--depth", type=int, default=4, help="hidden layers (default: 4)")
    p.add_argument("--n-interior", type=int, default=8000, help="collocation points (default: 8000)")
    p.add_argument("--resample-every", type=int, default=500, help="redraw the points every N steps (default: 500)")
    p.add_argument("--eval-every", type=int, default=100, help="record the error every N Adam steps (default: 100)")
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"), help="default: float64")
    p.add_argument("--seed", type=int, default=0, help="initial weights and points (default: 0)")
    p.add_argument("--out", default="benchmarks/results", help="output folder (default: benchmarks/results)")
    args = p.parse_args(argv)
    optimizers = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    bad = sorted(set(optimizers) - set(CHOICES))
    if bad or len(optimizers) < 2 or len(set(optimizers)) != len(optimizers):
        raise ValueError(f"--optimizers must name at least two different optimisers from {list(CHOICES)}, "
                         f"got {args.optimizers!r}")
    for name in ("iterations", "steps", "n_interior", "eval_every"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    torch.set_num_threads(1)
    ran = machine()  # the commit and the state of the tree as the trainings start
    rows = {}
    for optimizer in optimizers:
        print(f"training Burgers with Adam ({args.iterations}) + {optimizer} ({args.steps})", flush=True)
        rows[optimizer] = train(args, optimizer)
    base_name, base = optimizers[0], rows[optimizers[0]]
    print(f"\n{'optimiser':11s} {'rel. L2':>9s} {'train s':>8s} {'steps':>6s} {'vs ' + base_name:>15s} "
          f"{'s to ' + format(base['final_rel_l2'], '.1e'):>12s} {'load':>10s}")
    for name, r in rows.items():
        r["ratio_vs_baseline"] = r["final_rel_l2"] / base["final_rel_l2"]
        r["time_to_baseline_error_s"] = time_to_reach(r["curve"], base["final_rel_l2"])
        reach = r["time_to_baseline_error_s"]
        print(f"{name:11s} {r['final_rel_l2']:9.2e} {r['train_s']:8.1f} {r['steps_after_adam']:6d} "
              f"{r['ratio_vs_baseline']:15.3g} {'never' if reach is None else format(reach, '.1f'):>12s} "
              f"{r['loadavg_1m']['before']:4.2f}-{r['loadavg_1m']['after']:4.2f}")
    config = {k: v for k, v in vars(args).items() if k not in ("optimizers", "out")}
    final = {"problem": "burgers", "baseline": base_name, "config": config,
             "final_rel_l2": {m: r["final_rel_l2"] for m, r in rows.items()},
             "train_s": {m: r["train_s"] for m, r in rows.items()},
             "ratio_vs_baseline": {m: r["ratio_vs_baseline"] for m, r in rows.items()},
             "time_to_baseline_error_s": {m: r["time_to_baseline_error_s"] for m, r in rows.items()},
             "machine": ran, "torch_threads": torch.get_num_threads(),
             "loadavg_1m": {"before": rows[optimizers[0]]["loadavg_1m"]["before"],
                            "after": rows[optimizers[-1]]["loadavg_1m"]["after"]}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "optimizers-burgers.json").write_text(json.dumps({**final, "runs": rows}, indent=2) + "\n")
    plot(rows, out / "optimizers-burgers.png",
         f"Burgers ν = 0.01/π: {args.width} × {args.depth} tanh, {args.dtype}, {args.n_interior} points redrawn every "
         f"{args.resample_every} steps, {args.iterations} Adam + {args.steps} steps; one thread, seed {args.seed}; "
         f"{final['machine']['cpu']}, commit {str(final['machine']['commit'])[:12]}")
    print(json.dumps(final))
    return 0
