"""``sciml bench control``: whole trainings of the pendulum swing-up controller through dopri5,
HyperEuler and Euler, one after the other in one process at one torch thread, each from the same
initial policy on the same sequence of batches (the controller's seed fixes both), the same number
of Adam steps. Reports each training's wall time (the hypersolver's own fitting apart, done once
before), the speed-up over dopri5, and each trained controller's control cost on the held-out
initial states evaluated with dopri5 at rtol 1e-8 — Berto et al. (2022)'s comparison. The speed-up
is given on the training wall time and on the whole ``train()`` call (HyperEuler's: with its
hypersolver's data and fitting). Writes ``control-dtSTEP.json`` into ``--out`` and ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from sciml.problems.pendulum import PendulumControl
from sciml.solvers.controller import METHODS, Controller


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sciml bench control", description=__doc__.split(". ")[0] + ".")
    p.add_argument("--methods", default="dopri5,hypereuler,euler",
                   help=f"comma-separated, from {list(METHODS)}; dopri5 first is the baseline (default: all three)")
    p.add_argument("--iterations", type=int, default=None, help="Adam steps of each training (default: the controller's)")
    p.add_argument("--step-size", type=float, default=None, help="Euler/HyperEuler step [s] (default: the problem's)")
    p.add_argument("--seed", type=int, default=0, help="initial policy and batches (default: 0)")
    p.add_argument("--out", default="benchmarks/results", help="control.json goes here (default: benchmarks/results)")
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or methods[0] != "dopri5" or set(methods) - set(METHODS):
        raise ValueError(f"--methods must start with dopri5 and take names from {list(METHODS)}; got {args.methods!r}")
    if args.iterations is not None and args.iterations < 1:
        raise ValueError(f"--iterations must be positive, got {args.iterations}")
    torch.set_num_threads(1)
    settings = {k: v for k, v in (("iterations", args.iterations), ("step_size", args.step_size)) if v is not None}
    rows = {}
    for method in methods:
        solver = Controller(PendulumControl(), method=method, seed=args.seed, progress=False, **settings)
        load_before = os.getloadavg()[0]
        print(f"training through {method} ({solver.settings['iterations']} Adam steps)", flush=True)
        began = time.perf_counter()
        result = solver.train()
        total = time.perf_counter() - began
        metrics = solver.extra_metrics(result)
        rows[method] = {"train_s": result.timings["train_s"], "total_s": total,
                        "hypersolver_train_s": metrics["hypersolver_train_s"],
                        "control_cost_dopri5": metrics["control_cost_dopri5"],
                        "control_cost_training_integrator": metrics["control_cost_training_integrator"],
                        "upright_fraction": metrics["upright_fraction"], "how": solver.how(),
                        "loadavg_1m": {"before": load_before, "after": os.getloadavg()[0]}}
    base = rows["dopri5"]
    for row in rows.values():
        row["speedup_vs_dopri5"] = base["train_s"] / row["train_s"]
        row["total_speedup_vs_dopri5"] = base["total_s"] / row["total_s"]
        row["cost_vs_dopri5"] = row["control_cost_dopri5"] / base["control_cost_dopri5"] - 1
    print(f"\n{'method':11s} {'train s':>9s} {'speed-up':>9s} {'total s':>8s} {'speed-up':>9s} {'cost (dopri5)':>14s} "
          f"{'vs dopri5':>10s} {'upright':>8s}")
    for method, r in rows.items():
        print(f"{method:11s} {r['train_s']:9.1f} {r['speedup_vs_dopri5']:8.2f}x {r['total_s']:8.1f} "
              f"{r['total_speedup_vs_dopri5']:8.2f}x {r['control_cost_dopri5']:14.4f} {100 * r['cost_vs_dopri5']:+9.1f}% "
              f"{r['upright_fraction']:8.1%}")
    step = solver.settings["step_size"]
    final = {"step_size": step, "training_speedup_vs_dopri5": {m: r["speedup_vs_dopri5"] for m, r in rows.items()},
             "total_speedup_vs_dopri5": {m: r["total_speedup_vs_dopri5"] for m, r in rows.items()},
             "control_cost_dopri5": {m: r["control_cost_dopri5"] for m, r in rows.items()},
             "cost_vs_dopri5": {m: r["cost_vs_dopri5"] for m, r in rows.items()},
             "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"control-dt{step:g}.json").write_text(json.dumps({**final, "runs": rows}, indent=2) + "\n")
    print(json.dumps(final))
    return 0
