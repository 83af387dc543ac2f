"""``sciml bench diesel``: how fast the diesel engine reference simulator (:mod:`sciml.classical.diesel`)
runs a transient, by SciPy method and tolerance — the issue's target is a 30 s transient in under 2 s —
and, with ``--identify``, the accuracy and time of the classical identification baseline.

Each case is one call of :func:`sciml.classical.diesel.simulate` as a user makes it: random commands
(all four changing every ``--hold`` s, seeds ``--seeds``) over ``--duration`` s, the 8 states at 10 Hz,
from the steady state of the first commands (found inside the call; its own time is reported apart).
Runs of the methods are interleaved per seed and repeated ``--repeats`` times; the median is reported,
with the maximum relative error of p_im, p_em and omega_t against Radau at rtol 1e-11, and the load
average. Writes ``diesel.json`` into ``--out`` and ends with one JSON line.

``--identify``: instead, :func:`sciml.classical.diesel.identify_least_squares` of eta_sc, h_tot, A_egrmax
and A_vgtmax from p_im, p_em, omega_t and W_egr at 10 Hz over a 60 s random transient (commands every 4 s),
for each noise level of ``--noises`` (relative, Gaussian, per sample) and seed of ``--seeds`` (the seed
draws the commands and the noise), from initial guesses 30 % off (+, -, +, -). Reports each parameter's
relative error, the simulations used and the wall time; writes ``diesel-identify.json``.
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
    p.add_argument("--identify", action="store_true", help="time and score the least-squares identification instead")
    p.add_argument("--noises", default="0,0.01", help="relative noise levels of --identify (default: 0,0.01)")
    args = p.parse_args(argv)
    if args.identify:
        return identify(args)
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


def identify(args: argparse.Namespace) -> int:
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    noises = [float(n) for n in args.noises.split(",") if n.strip()]
    duration = 60.0
    t = np.arange(0.0, duration + 1e-9, 0.1)
    truth = {name: diesel.DEFAULTS[name] for name in diesel.IDENTIFIED}
    guess = {name: value * factor for (name, value), factor in zip(truth.items(), (1.3, 0.7, 1.3, 0.7))}
    runs = []
    print(f"{'noise':>6s} {'seed':>4s} " + " ".join(f"{n:>10s}" for n in truth) + f" {'sims':>5s} {'wall s':>7s} load")
    for noise in noises:
        for seed in seeds:
            commands = diesel.Commands.random(seed, duration, 4.0)
            measured = diesel.measure(commands, t, noise=noise, seed=seed)
            fit = diesel.identify_least_squares(commands, t, measured, guess)
            errors = {n: fit["values"][n] / truth[n] - 1.0 for n in truth}
            runs.append({"noise": noise, "seed": seed, "relative_error": errors, "simulations": fit["nfev"],
                         "wall_s": fit["wall_s"], "loadavg_1min": os.getloadavg()[0]})
            print(f"{noise:6.3f} {seed:4d} " + " ".join(f"{e:+10.2e}" for e in errors.values())
                  + f" {fit['nfev']:5d} {fit['wall_s']:7.1f} {runs[-1]['loadavg_1min']:.2f}")
    report = {"machine": machine(), "duration_s": duration, "hold_s": 4.0, "sample_rate_hz": 10.0,
              "initial_guess": guess, "truth": truth, "runs": runs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diesel-identify.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({f"noise={noise:g}": max(abs(e) for r in runs if r["noise"] == noise
                                               for e in r["relative_error"].values()) for noise in noises}))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
