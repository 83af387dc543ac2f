"""``sciml bench control``: one training step of the pendulum swing-up controller — time-averaged
cost over a batch of initial states, then backpropagation — through dopri5, Euler and HyperEuler,
side by side on the same policy weights and the same batch.

The policy and the hypersolver come from trained results (``--runs``: the folders ``sciml validate
pendulum-control-dopri5 pendulum-control-hypereuler`` writes); the dopri5-trained policy is used by
every method, so each integrates the same closed loop. Each timed block is ``--steps`` steps; blocks
of the methods are interleaved, rotating order, ``--repeats`` times; the median block counts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

import sciml


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sciml bench control", description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="validation/runs", help="folder holding the trained pendulum-control results")
    p.add_argument("--steps", type=int, default=3, help="training steps per timed block (default: 3)")
    p.add_argument("--repeats", type=int, default=5, help="timed blocks per method; median (default: 5)")
    p.add_argument("--batch", type=int, default=64, help="initial states per step (default: 64)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.repeats < 1 or args.batch < 1:
        raise ValueError("--steps, --repeats and --batch must be positive")
    torch.set_num_threads(1)
    runs = Path(args.runs)
    dopri = sciml.load(runs / "pendulum-control-dopri5")
    hyper = sciml.load(runs / "pendulum-control-hypereuler")
    hyper.model.policy.load_state_dict(dopri.model.policy.state_dict())
    problem, model = hyper.problem, hyper.model
    x0 = problem.sample_states(args.batch, torch.Generator().manual_seed(0))
    how = {"dopri5": dopri.solver.how(), "euler": {"method": "euler", "step_size": hyper.settings["step_size"]},
           "hypereuler": hyper.solver.how()}

    def block(method: str) -> float:
        began = time.perf_counter()
        for _ in range(args.steps):
            model.zero_grad(set_to_none=True)
            model.cost(x0, problem.horizon, **how[method]).mean().backward()
        return (time.perf_counter() - began) / args.steps

    load_before = os.getloadavg()[0]
    names = list(how)
    times: dict[str, list[float]] = {n: [] for n in names}
    for n in names:  # warm-up
        block(n)
    for r in range(args.repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            times[n].append(block(n))
    ms = {n: 1e3 * statistics.median(v) for n, v in times.items()}
    print(f"pendulum-control training step, batch {args.batch}, horizon {problem.horizon:g} s; "
          f"median of {args.repeats} blocks of {args.steps} steps; 1-min load {load_before:.2f}")
    for n in names:
        print(f"  {n:11s} {ms[n]:9.1f} ms/step   {ms['dopri5'] / ms[n]:5.2f}x vs dopri5   ({how[n]})")
    print(json.dumps({"step_speedup_vs_dopri5": {n: ms["dopri5"] / ms[n] for n in names}, "ms_per_step": ms,
                      "loadavg_1m": {"before": load_before, "after": os.getloadavg()[0]}, "cpu_count": os.cpu_count()}))
    return 0
