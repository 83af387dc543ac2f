"""``sciml bench diesel``: how fast the diesel engine reference simulator (:mod:`sciml.classical.diesel`)
runs a transient, by SciPy method and tolerance — the issue's target is a 30 s transient in under 2 s.

Each case is one call of :func:`sciml.classical.diesel.simulate` as a user makes it: random commands
(all four changing every ``--hold`` s, seeds ``--seeds``) over ``--duration`` s, the 8 states at 10 Hz,
from the steady state of the first commands (found inside the call; its own time is reported apart).
Runs of the methods are interleaved per seed and repeated ``--repeats`` times; the median is reported,
with the maximum relative error of p_im, p_em and omega_t against Radau at rtol 1e-11, and the load
average. Writes ``diesel.json`` into ``--out`` and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from sciml.classical import diesel

from .native import machine


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sciml bench diesel", description=__doc__.split(". ")[0] + ".")
    p.add_argument("--duration", type=float, default=30.0, help="simulated time [s] (default: 30)")
    p.add_argument("--hold", type=float, default=4.0, help="time between command changes [s] (default: 4)")
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds of the commands (default: 0,1,2,3,4)")
    p.add_argument("--methods", default="LSODA,BDF,Radau", help="SciPy methods (default: LSODA,BDF,Radau)")
    p.add_argument("--rtols", default="1e-8,1e-6", help="relative tolerances (default: 1e-8,1e-6)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per case and seed (default: 3)")
    p.add_argument("--out", default="benchmarks/results", help="diesel.json goes here (default: benchmarks/results)")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rtols = [float(r) for r in args.rtols.split(",") if r.strip()]
    t = np.linspace(0.0, args.duration, int(round(args.duration * 10)) + 1)
    cases = {f"{m} rtol={r:g}": (m, r) for m in methods for r in rtols}
    times = {name: [] for name in cases}
    errors = {name: [] for name in cases}
    steady = []
    load = [os.getloadavg()[0]]
    for seed in seeds:
        commands = diesel.Commands.random(seed, args.duration, args.hold)
        start = time.perf_counter()
        x0 = diesel.steady_state(commands(0.0))
        steady.append(time.perf_counter() - start)
        truth = diesel.simulate(commands, t, x0=x0, rtol=1e-11, method="Radau")[:, [0, 1, 4]]
        for _ in range(args.repeats):
            for name, (method, rtol) in cases.items():
                start = time.perf_counter()
                x = diesel.simulate(commands, t, rtol=rtol, method=method)
                times[name].append(time.perf_counter() - start)
                errors[name].append(float(np.max(np.abs(x[:, [0, 1, 4]] - truth) / np.abs(truth))))
        load.append(os.getloadavg()[0])
    report = {"machine": machine(), "loadavg_1min": load, "duration_s": args.duration, "hold_s": args.hold,
              "seeds": seeds, "repeats": args.repeats, "steady_state_s_median": statistics.median(steady),
              "cases": {name: {"wall_s_median": statistics.median(times[name]), "wall_s_max": max(times[name]),
                               "max_rel_error": max(errors[name])} for name in cases}}
    print(f"{args.duration:g} s random transient (commands every {args.hold:g} s), {len(seeds)} seeds x "
          f"{args.repeats} calls; steady state alone {report['steady_state_s_median']:.3f} s (median); "
          f"load {min(load):.2f}-{max(load):.2f}")
    print(f"{'case':22s} {'median s':>9s} {'max s':>8s} {'max rel. error':>15s}")
    for name, r in report["cases"].items():
        print(f"{name:22s} {r['wall_s_median']:9.3f} {r['wall_s_max']:8.3f} {r['max_rel_error']:15.2e}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diesel.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({name: r["wall_s_median"] for name, r in report["cases"].items()}))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
