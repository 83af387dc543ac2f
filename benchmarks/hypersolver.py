"""``sciml bench hypersolver``: global error against wall time and against function evaluations for
Euler, midpoint, RK4, HyperEuler, HyperMidpoint and dopri5, on the Lorenz system and the damped
pendulum, over held-out initial conditions (Poli et al. 2020's accuracy-vs-cost comparison).

For each problem: the hypersolvers are trained (or reloaded from ``--cache``), then every method
integrates the same ``--ics`` held-out initial conditions over the problem's horizon (Lorenz 1 time
unit, pendulum 5 s) at several step sizes (dopri5: several tolerances). The global error is the
relative L2 error of the states at 11 evenly spaced times against dopri5 at rtol = 1e-10 in float64.
Wall time is the median of ``--repeats`` solves (no gradients, one torch thread by default), the
repeats of all methods interleaved so background load hits them alike. States, the vector field and
dopri5 (torchdiffeq, the same batch and output times) are float64; g computes in its own precision
(the problems suggest a small float32 g) and returns float64. Prints a table, writes the
Pareto figure and a JSON file into ``--out``, and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

import sciml
from sciml import registry
from sciml.integrate import odeint
from sciml.problem import relative_l2

STEPS = {"lorenz": (0.05, 0.04, 0.02, 0.01), "pendulum": (0.25, 0.2, 0.1, 0.05)}
"""Step sizes of the fixed-step methods per problem [time units], inside the hypersolvers' training range."""
RTOLS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
"""dopri5 relative tolerances (atol = rtol / 100)."""
HYPER = {"hypereuler": "euler", "hypermidpoint": "midpoint"}
ACCURATE = 1e-2
"""The speed-up at equal error is also reported over the hypersolver points at or below this error."""


def hypersolver(problem: str, base: str, iterations: int, cache: Path | None, **net: int) -> Any:
    """The trained hypersolver result: from ``cache/PROBLEM-BASE`` if there, else trained (and saved);
    ``net`` (width, depth, dt_max) overrides the problem's suggestions."""
    where = cache / f"{problem}-hyper{base}" if cache else None
    if where is not None and (where / "result.pt").is_file():
        print(f"  reloading {where}", flush=True)
        return sciml.load(where)
    print(f"  training hyper{base} on {problem} ({iterations} Adam steps)", flush=True)
    return sciml.run(problem, "hypersolver", base=base, iterations=iterations, out=where, progress=False, **net)


def configurations(problem: str, hypers: dict[str, Any], steps: tuple[float, ...]) -> list[tuple[str, float, Any]]:
    """(method label, step size or rtol, solve(x0, t, stats)) for every point of the study."""
    p = registry.problem(problem)()
    field = p.field()
    configs = []
    for dt in steps:
        for method in ("euler", "midpoint", "rk4"):
            configs.append((method, dt, lambda x0, t, st, m=method, h=dt: odeint(field, x0, t, m, step_size=h, stats=st)))
        for label, result in hypers.items():
            configs.append((label, dt, lambda x0, t, st, r=result, h=dt: r.model.solve(x0, t, step_size=h, stats=st)))
    configs.sort(key=lambda c: (c[0], c[1]))
    for rtol in RTOLS:
        configs.append(("dopri5", rtol, lambda x0, t, st, r=rtol: odeint(field, x0, t, "dopri5", rtol=r, atol=r / 100,
                                                                        stats=st)))
    return configs


def study(problem: str, hypers: dict[str, Any], n_ics: int, repeats: int, steps: tuple[float, ...]) -> list[dict[str, Any]]:
    p = registry.problem(problem)()
    x0 = p.held_out(n_ics)
    t = torch.linspace(0.0, p.horizon, 11, dtype=torch.float64)
    ref = p.trajectories(x0, t).numpy()
    rows = []
    configs = configurations(problem, hypers, steps)
    times: list[list[float]] = [[] for _ in configs]
    with torch.no_grad():
        for k, (label, knob, solve) in enumerate(configs):
            stats: dict[str, Any] = {}
            ys = solve(x0, t, stats).numpy()
            rows.append({"problem": problem, "method": label, "step_size" if label != "dopri5" else "rtol": knob,
                         "error": relative_l2(ys, ref), "nfe": stats["nfe"], "correction_evals": stats["correction_evals"],
                         "cost_evals": stats["nfe"] + stats["correction_evals"], "steps": stats["steps"]})
        for r in range(repeats):
            order = list(range(len(configs)))
            order = order[r % len(order):] + order[:r % len(order)]
            for k in order:
                began = time.perf_counter()
                configs[k][2](x0, t, None)
                times[k].append(time.perf_counter() - began)
    for row, ts in zip(rows, times):
        row["wall_s"] = statistics.median(ts)
    return rows


def interpolate_time(dopri: list[dict[str, Any]], error: float) -> float | None:
    """dopri5's wall time at ``error``, log-log interpolated between its tolerances; None outside them."""
    pts = sorted((r["error"], r["wall_s"]) for r in dopri)
    for (e0, w0), (e1, w1) in zip(pts[:-1], pts[1:]):
        if e0 <= error <= e1 and e1 > e0:
            a = (math.log(error) - math.log(e0)) / (math.log(e1) - math.log(e0))
            return math.exp(math.log(w0) + a * (math.log(w1) - math.log(w0)))
    return None


def summarise(rows: list[dict[str, Any]], problem: str, trained_step: float, steps: tuple[float, ...]) -> dict[str, Any]:
    mine = [r for r in rows if r["problem"] == problem]
    err = {(r["method"], r.get("step_size")): r["error"] for r in mine}
    reduction = {dt: err[("euler", dt)] / err[("hypereuler", dt)] for dt in steps}
    dopri = [r for r in mine if r["method"] == "dopri5"]
    points = []
    for r in mine:
        w = interpolate_time(dopri, r["error"]) if r["method"] in HYPER else None
        if w is not None:
            points.append({"speedup": w / r["wall_s"], "method": r["method"], "step_size": r["step_size"],
                           "error": r["error"], "wall_s": r["wall_s"], "dopri5_wall_s_interpolated": w})
    best = max(points, key=lambda q: q["speedup"], default=None)
    accurate = max((q for q in points if q["error"] <= ACCURATE), key=lambda q: q["speedup"], default=None)
    return {"hypereuler_error_reduction_vs_euler": reduction.get(trained_step), "trained_step_size": trained_step,
            "error_reduction_by_step_size": {str(k): v for k, v in reduction.items()},
            "speedup_vs_dopri5_at_equal_error": best["speedup"] if best else None, "best_equal_error_point": best,
            f"speedup_vs_dopri5_at_equal_error_below_{ACCURATE:g}": accurate["speedup"] if accurate else None,
            f"best_equal_error_point_below_{ACCURATE:g}": accurate}


def figure(rows: list[dict[str, Any]], problems: list[str], path: Path) -> Path:
    from sciml.plotting import save_figure, subplots

    style = {"euler": ("C0", "o"), "midpoint": ("C1", "s"), "rk4": ("C2", "^"), "hypereuler": ("C3", "o"),
             "hypermidpoint": ("C4", "s"), "dopri5": ("k", "D")}
    fig, axes = subplots(len(problems), 2, figsize=(12, 4.6 * len(problems)), squeeze=False)
    for i, problem in enumerate(problems):
        for j, (key, xlabel) in enumerate((("wall_s", "wall time per solve of the batch [s]"),
                                           ("cost_evals", "function evaluations (f, plus g for hypersolvers)"))):
            ax = axes[i, j]
            for method, (color, marker) in style.items():
                pts = sorted((r[key], r["error"]) for r in rows if r["problem"] == problem and r["method"] == method)
                if pts:
                    xs, ys = zip(*pts)
                    ax.loglog(xs, ys, color=color, marker=marker, ls="--" if method == "dopri5" else "-",
                              mfc=color if method in HYPER else "none", label=method)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("global relative L2 error vs dopri5 (rtol 1e-10) [–]")
            ax.set_title(f"{problem}: error vs {'wall time' if j == 0 else 'NFE'}")
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=8)
    return save_figure(fig, path)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sciml bench hypersolver",
                                description="Error vs wall time and vs NFE: Euler, midpoint, RK4, HyperEuler, "
                                            "HyperMidpoint and dopri5 on Lorenz and the damped pendulum.")
    p.add_argument("--problems", default="lorenz,pendulum", help="comma-separated (default: lorenz,pendulum)")
    p.add_argument("--ics", type=int, default=512, help="held-out initial conditions (default: 512)")
    p.add_argument("--repeats", type=int, default=9, help="timed solves per configuration; median (default: 9)")
    p.add_argument("--iterations", type=int, default=3000, help="Adam steps of each hypersolver (default: 3000)")
    p.add_argument("--cache", default="runs/bench-hypersolver",
                   help="folder of trained hypersolvers, reused when present (default: runs/bench-hypersolver)")
    p.add_argument("--out", default="benchmarks/results", help="figure and JSON go here (default: benchmarks/results)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--width", type=int, default=None, help="width of g (default: the problem's suggestion)")
    p.add_argument("--depth", type=int, default=None, help="hidden layers of g (default: the problem's suggestion)")
    p.add_argument("--dt-max", type=float, default=None, help="largest step size g is trained on (default: the problem's)")
    p.add_argument("--steps", default=None, help="comma-separated step sizes (default: the problem's four, see STEPS)")
    args = p.parse_args(argv)
    problems = [s.strip() for s in args.problems.split(",") if s.strip()]
    bad = set(problems) - set(STEPS)
    if bad or not problems:
        raise ValueError(f"--problems takes names from {sorted(STEPS)}; got {args.problems!r}")
    if args.ics < 1 or args.repeats < 1 or args.iterations < 1 or args.threads < 1:
        raise ValueError("--ics, --repeats, --iterations and --threads must be positive")
    torch.set_num_threads(args.threads)
    cache = Path(args.cache) if args.cache else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    rows, summary = [], {}
    for problem in problems:
        print(f"{problem}:", flush=True)
        net = {k: v for k, v in (("width", args.width), ("depth", args.depth), ("dt_max", args.dt_max)) if v is not None}
        steps = tuple(float(v) for v in args.steps.split(",")) if args.steps else STEPS[problem]
        hypers = {label: hypersolver(problem, base, args.iterations, cache, **net) for label, base in HYPER.items()}
        rows += study(problem, hypers, args.ics, args.repeats, steps)
        summary[problem] = summarise(rows, problem, hypers["hypereuler"].settings["step_size"], steps)
        summary[problem]["hypersolver_adam_steps"] = {k: r.settings["iterations"] for k, r in hypers.items()}
        summary[problem]["hypersolver_network"] = {k: f"{r.settings['width']}x{r.settings['depth']}" for k, r in hypers.items()}
    load_after = os.getloadavg()[0]

    print(f"\n{'problem':9s} {'method':14s} {'dt / rtol':>10s} {'rel. L2 error':>14s} {'NFE f':>8s} {'NFE g':>7s} "
          f"{'wall ms':>9s}")
    for r in rows:
        knob = r.get("step_size", r.get("rtol"))
        print(f"{r['problem']:9s} {r['method']:14s} {knob:10.3g} {r['error']:14.3e} {r['nfe']:8d} "
              f"{r['correction_evals']:7d} {1e3 * r['wall_s']:9.2f}")
    fig = figure(rows, problems, out / "hypersolver-pareto.png")
    print(f"\nfigure: {fig}")
    for problem, s in summary.items():
        b = s["best_equal_error_point"]
        reduction = s["hypereuler_error_reduction_vs_euler"]
        print(f"{problem}: HyperEuler error " + (f"{reduction:.1f}x lower than Euler at dt = {s['trained_step_size']:g}; "
                                                  if reduction else "not compared at the trained step size; ") + (
                  f"{b['method']} at dt = {b['step_size']:g} (error {b['error']:.2e}) is {b['speedup']:.1f}x faster than "
                  f"dopri5 at the same error" if b else "no hypersolver point lies within dopri5's error range"))
        a = s[f"best_equal_error_point_below_{ACCURATE:g}"]
        if a:
            print(f"  at error <= {ACCURATE:g}: {a['method']} at dt = {a['step_size']:g} (error {a['error']:.2e}) is "
                  f"{a['speedup']:.1f}x faster than dopri5 at the same error")
    info = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "ics": args.ics, "repeats": args.repeats, "loadavg_1m": {"before": load_before, "after": load_after}}
    final = {
        "hypereuler_error_reduction_vs_euler": {k: s["hypereuler_error_reduction_vs_euler"] for k, s in summary.items()},
        "speedup_vs_dopri5_at_equal_error": {k: s["speedup_vs_dopri5_at_equal_error"] for k, s in summary.items()},
        f"speedup_vs_dopri5_at_equal_error_below_{ACCURATE:g}": {
            k: s[f"speedup_vs_dopri5_at_equal_error_below_{ACCURATE:g}"] for k, s in summary.items()},
        "summary": summary, "machine": info,
    }
    (out / "hypersolver.json").write_text(json.dumps({**final, "rows": rows}, indent=2) + "\n")
    print(json.dumps(final))
    return 0
