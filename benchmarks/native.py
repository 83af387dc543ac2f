"""``sciml bench native``: what the C++ CPU kernel (``sciml.native``) is worth end to end — whole
``sciml run`` trainings at a problem's default budget, with the solver's defaults (what a user gets)
beside the same run with ``native=True`` (and, on request, the eager PyTorch path ``compile=False,
native=False``), side by side, several seeds each.

Every run is a fresh Python process doing what ``sciml run PROBLEM --seed S --device cpu --out DIR``
does (``sciml.run`` with ``progress=False``) at ``--threads`` torch threads, so each pays its own
start-up, kernel load or ``torch.compile`` as a user's run does (on-disk caches warm: the native
build and Inductor's cache are made by an untimed warm-up run of each variant first, unless
``--no-warmup``). Runs are interleaved — for each seed, one run of every variant — so background
load hits the variants alike; the 1-minute load average is recorded beside every run.

Reported per problem and variant, as the median and the range over the seeds: the process's wall
time (start to exit, outputs written), the training wall time (``metrics.json``'s ``wall_time_s``),
the final relative L2 error, and the time to accuracy: the training time at which the run's error
(logged every ``eval_every`` Adam steps and every L-BFGS chunk) first reaches the median final error
of the default runs. Writes ``native.json`` into ``--out`` and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sciml import registry
from sciml.solvers.pinn import COMPILE_MIN_STEPS, PINN
from sciml.validation.runner import cpu_model, git_state

VARIANTS = {
    "default": {},
    "native": {"native": True},
    "eager": {"compile": False, "native": False},
}
"""Solver settings of each variant on top of the problem's defaults ("default": none, as ``sciml run``)."""


def _train(problem: str, settings: dict, seed: int, threads: int, out: str) -> None:
    """One run, in its own process: ``sciml.run`` as the CLI calls it, then what the solver chose."""
    torch.set_num_threads(threads)
    import sciml

    result = sciml.run(problem, seed=seed, device="cpu", out=out, progress=False, **settings)
    solver = result.solver
    chose = {"native": bool(solver.native), "compiled": solver._loss_fn != solver._loss_terms}  # bound methods: ==, not is
    Path(out, "chose.json").write_text(json.dumps(chose))


def run_once(problem: str, variant: str, seed: int, threads: int, work: Path, extra: dict) -> dict[str, Any]:
    """Train once in a fresh process; the run's times, errors, error history and load."""
    out = work / f"{problem}-{variant}-{seed}"
    settings = {**extra, **VARIANTS[variant]}
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    proc = multiprocessing.get_context("spawn").Process(target=_train, args=(problem, settings, seed, threads, str(out)))
    proc.start()
    proc.join()
    total = time.perf_counter() - began
    if proc.exitcode != 0:
        raise RuntimeError(f"{problem} {variant} seed {seed}: the run's process exited with {proc.exitcode}")
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    curve = [(r["time"], r["rel_l2"]) for r in history if r.get("rel_l2") is not None]
    return {"seed": seed, "total_s": total, "train_s": metrics["wall_time_s"], "rel_l2": metrics["rel_l2"],
            "chose": json.loads((out / "chose.json").read_text()), "curve": curve,
            "loadavg_1m": {"before": load_before, "after": os.getloadavg()[0]}}


def warmup_settings(problem: str, variant: str, extra: dict) -> dict:
    """A 10-step run of the variant that compiles the loss where its full run would
    (``compile="auto"`` decides by the number of steps), so that the timed runs find the native
    build and Inductor's cache as a user's second run does."""
    budget = {**PINN.defaults, **registry.problem(problem).solver_defaults, **extra}
    compiles = not VARIANTS[variant] and budget["iterations"] + budget["lbfgs_iterations"] >= COMPILE_MIN_STEPS
    return {"iterations": 10, "lbfgs_iterations": 0, **({"compile": True} if compiles else {})}


def time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    """Training time [s] at which the logged error first is at or below ``target`` (None: never)."""
    return next((t for t, err in curve if err <= target), None)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(runs: dict[str, list[dict]]) -> dict[str, Any]:
    """Per variant: median and range of the times and errors, the time to the largest final error
    of the default runs (the accuracy every default run reaches), and the speed-ups over the default:
    of the medians, and seed by seed (the same seed gives both variants the same network and points)."""
    target = max(r["rel_l2"] for r in runs["default"])
    out: dict[str, Any] = {"target_rel_l2": target, "variants": {}}
    for variant, rows in runs.items():
        reached = [time_to(r["curve"], target) for r in rows]
        for r, t in zip(rows, reached):
            r["time_to_target_s"] = t
        out["variants"][variant] = {
            "total_s": spread([r["total_s"] for r in rows]), "train_s": spread([r["train_s"] for r in rows]),
            "rel_l2": spread([r["rel_l2"] for r in rows]),
            "time_to_target_s": spread([t for t in reached if t is not None]) if any(t is not None for t in reached) else None,
            "reached_target": f"{sum(t is not None for t in reached)}/{len(rows)}",
            "chose": rows[0]["chose"]}
    base = out["variants"]["default"]
    for variant, v in out["variants"].items():
        v["train_speedup_vs_default"] = base["train_s"]["median"] / v["train_s"]["median"]
        v["total_speedup_vs_default"] = base["total_s"]["median"] / v["total_s"]["median"]
        v["train_speedup_by_seed"] = [d["train_s"] / r["train_s"] for d, r in zip(runs["default"], runs[variant])]
    return out


def show(problem: str, summary: dict[str, Any]) -> None:
    """The summary table of one problem."""
    print(f"{problem}: target rel. L2 (the largest final error of the default runs) {summary['target_rel_l2']:.3e}")
    print(f"  {'variant':8s} {'total s (median, range)':>26s} {'training s':>24s} {'to target s':>24s} "
          f"{'rel. L2':>28s}  speed-up (training, total; training by seed)")
    for variant, v in summary["variants"].items():
        tt = v["time_to_target_s"]
        to = f"{tt['median']:7.1f} [{tt['min']:.1f}, {tt['max']:.1f}]" if tt else "never"
        print(f"  {variant:8s} {v['total_s']['median']:9.1f} [{v['total_s']['min']:.1f}, {v['total_s']['max']:.1f}]"
              f" {v['train_s']['median']:9.1f} [{v['train_s']['min']:.1f}, {v['train_s']['max']:.1f}]"
              f" {to:>24s} ({v['reached_target']})"
              f" {v['rel_l2']['median']:.3e} [{v['rel_l2']['min']:.2e}, {v['rel_l2']['max']:.2e}]"
              f"  {v['train_speedup_vs_default']:.3f}x, {v['total_speedup_vs_default']:.3f}x; "
              + ", ".join(f"{x:.3f}x" for x in v["train_speedup_by_seed"]), flush=True)


def machine() -> dict[str, Any]:
    """The machine a benchmark ran on and the commit it ran (``uncommitted_changes``: tracked files differ
    from it); the CPU with its family and model numbers (:func:`sciml.validation.runner.cpu_model`)."""
    commit, dirty = git_state(Path(__file__).parent.parent) or (None, None)
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "commit": commit, "uncommitted_changes": dirty}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sciml bench native", description=__doc__.split(". ")[0] + ".")
    p.add_argument("--problems", default="burgers,kovasznay", help="comma-separated (default: burgers,kovasznay)")
    p.add_argument("--variants", default="default,native",
                   help=f"comma-separated from {list(VARIANTS)}, starting with default (default: default,native)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one run of each variant per seed (default: 0,1,2)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default: 1)")
    p.add_argument("--iterations", type=int, default=None, help="Adam steps (default: each problem's budget)")
    p.add_argument("--lbfgs-iterations", type=int, default=None, help="L-BFGS iterations (default: each problem's budget)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run of each variant")
    p.add_argument("--out", default="benchmarks/results", help="native.json goes here (default: benchmarks/results)")
    p.add_argument("--resummarise", metavar="JSON", default=None,
                   help="train nothing: recompute the summaries of the runs in an earlier native.json")
    args = p.parse_args(argv)
    if args.resummarise:
        report = json.loads(Path(args.resummarise).read_text())
        for problem, entry in report["problems"].items():
            summary = summarise(entry["runs"])
            report["problems"][problem] = {**summary, "runs": entry["runs"]}
            show(problem, summary)
        return finish(report, Path(args.out))
    problems = [s.strip() for s in args.problems.split(",") if s.strip()]
    variants = [s.strip() for s in args.variants.split(",") if s.strip()]
    if not variants or variants[0] != "default" or set(variants) - set(VARIANTS):
        raise ValueError(f"--variants must start with default and take names from {list(VARIANTS)}; got {args.variants!r}")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if not seeds or args.threads < 1:
        raise ValueError(f"need at least one seed and one thread; got --seeds {args.seeds!r}, --threads {args.threads}")
    extra = {k: v for k, v in (("iterations", args.iterations), ("lbfgs_iterations", args.lbfgs_iterations))
             if v is not None}
    report: dict[str, Any] = {"machine": machine(), "loadavg_at_start": os.getloadavg(), "threads": args.threads,
                              "seeds": seeds, "budget_override": extra,
                              "command": "sciml bench native " + " ".join(argv), "problems": {}}
    with tempfile.TemporaryDirectory(prefix="sciml-bench-native-") as tmp:
        work = Path(tmp)
        for problem in problems:
            if not args.no_warmup:
                for variant in variants:
                    print(f"{problem}: warm-up run of {variant} (untimed)", flush=True)
                    run_once(problem, variant, seeds[0], args.threads, work / "warmup", warmup_settings(problem, variant, extra))
            runs: dict[str, list[dict]] = {v: [] for v in variants}
            for seed in seeds:
                for variant in variants:
                    row = run_once(problem, variant, seed, args.threads, work, extra)
                    runs[variant].append(row)
                    print(f"{problem} {variant:8s} seed {seed}: total {row['total_s']:7.1f} s, training "
                          f"{row['train_s']:7.1f} s, rel. L2 {row['rel_l2']:.3e}, chose {row['chose']}, load "
                          f"{row['loadavg_1m']['before']:.2f}->{row['loadavg_1m']['after']:.2f}", flush=True)
            summary = summarise(runs)
            report["problems"][problem] = {**summary, "runs": runs}
            show(problem, summary)
    return finish(report, Path(args.out))


def finish(report: dict[str, Any], out: Path) -> int:
    """Write native.json into ``out`` and print the one-line JSON summary."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "native.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({p: {v: {"train_s": s["train_s"]["median"], "rel_l2": s["rel_l2"]["median"],
                              "time_to_target_s": (s["time_to_target_s"] or {}).get("median")}
                          for v, s in r["variants"].items()} for p, r in report["problems"].items()}))
    return 0
