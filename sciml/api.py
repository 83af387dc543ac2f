"""``sciml.run``: the one-call way to train a registered problem with a registered solver."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from . import registry
from .device import describe
from .distributed import is_main
from .problem import Problem, Reference
from .solver import Result


def check_out_dir(out: str | Path | None) -> Path | None:
    """The output directory as a Path; a ``ValueError`` if it exists as something other than a folder."""
    if out is None:
        return None
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {str(out)!r} exists and is not a directory")
    return out


def split_kwargs(problem_cls, solver_cls, kwargs: dict[str, Any]) -> tuple[dict, dict]:
    """Split keyword arguments into problem parameters and solver settings; unknown names are errors."""
    params = {k: v for k, v in kwargs.items() if k in problem_cls.parameters}
    settings = {k: v for k, v in kwargs.items() if k not in params}
    unknown = set(settings) - set(solver_cls.defaults)
    if unknown:
        raise ValueError(
            f"unknown argument(s) {sorted(unknown)}: problem {problem_cls.name!r} has parameters "
            f"{sorted(problem_cls.parameters)} and solver {solver_cls.name!r} has settings {sorted(solver_cls.defaults)}")
    return params, settings


def run(problem: str | type[Problem], solver: str | None = None, *, iterations: int | None = None, device: str | None = None,
        seed: int = 0, out: str | Path | None = None, resume: bool = False, **kwargs: Any) -> Result:
    """Train ``problem`` with ``solver`` and, if ``out`` is given, write its outputs there.

    ``problem`` is a registered name (``"burgers"``) or a :class:`Problem` subclass (a problem of
    your own, registered or not). ``solver`` defaults to the problem's ``default_solver`` (``pinn``
    for PDE problems).
    Keyword arguments are the problem's parameters (``nu=0.005``) and the solver's settings
    (``width=64``). ``iterations`` is the number of Adam steps (the problem's default budget when
    None). ``out`` receives ``metrics.json``, ``result.pt``, ``checkpoint.pt``, ``history.json``,
    ``comparison.png`` (``solution.png`` without a reference), the fields for ParaView (``fields.vtu``,
    or ``fields.pvd`` over ``fields/`` for a time series) and the problem's own figures (``Problem.figures``);
    ``resume=True`` continues from ``out/checkpoint.pt``.
    """
    problem_cls = problem if isinstance(problem, type) and issubclass(problem, Problem) else registry.problem(problem)
    solver_cls = registry.solver(solver or problem_cls.default_solver)
    solver_cls.require(problem_cls)
    if iterations is not None:
        if int(iterations) != iterations or iterations <= 0:
            raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
        kwargs["iterations"] = int(iterations)
    out = check_out_dir(out)
    params, settings = split_kwargs(problem_cls, solver_cls, kwargs)
    trainer = solver_cls(problem_cls(**params), device=device, seed=seed, **settings)
    result = trainer.train(out=out, resume=resume)
    if out is not None and is_main():  # under torchrun only rank 0 writes
        write_outputs(result, out)
    return result


LOG_KEYS = {"phase", "step", "loss", "lr", "time", "rel_l2"}
"""Keys of a history record that are not loss terms."""


def residual_statistics(result: Result, points) -> dict[str, dict[str, float]]:
    """RMS and largest |residual| of each PDE residual of a trained PINN-family model at ``points``
    (N, d) (name -> {"rms", "max_abs"}); empty for a solver without strong-form residuals."""
    import numpy as np

    residuals = getattr(result.solver, "residuals", None)
    if residuals is None or not hasattr(result.solver, "plans"):
        return {}
    return {name: {"rms": float(np.sqrt(np.mean(r ** 2))), "max_abs": float(np.max(np.abs(r)))}
            for name, r in ((k, v.double().cpu().numpy()) for k, v in residuals(points).items())}


def metrics(result: Result, reference: Reference | None = None) -> dict[str, Any]:
    """The run's summary: errors against the reference (None where the problem has no reference
    field), the final loss and its terms, the problem's own metrics, time, budget, device and
    settings. Without a reference, ``residual`` gives the RMS and largest |residual| of each PDE
    residual on the problem's solution grid inside the domain (PINN-family solvers)."""
    from . import __version__

    ref = reference if reference is not None else result.problem.reference()
    errors = result.errors(ref) if ref is not None else {"rel_l2": None, "rel_l2_by_output": {}}
    measured = {}
    if ref is not None and ref.measure is not None:  # a distance to a target state, not an error
        measured = {ref.measure: errors["rel_l2"]}
        errors = {"rel_l2": None, "rel_l2_by_output": {}}
    last = result.history[-1] if result.history else {}
    s = result.settings
    extra = {**measured, **result.problem.metrics(result.predict)}
    summary = {
        "problem": result.problem.name, "solver": result.solver.name,
        "rel_l2": errors["rel_l2"], "rel_l2_by_output": errors["rel_l2_by_output"],
        "wall_time_s": result.timings["train_s"],
        "iterations": {"adam": s.get("iterations"), "lbfgs": s.get("lbfgs_iterations")},
        "final_loss": last.get("loss"),
        "loss_terms": {k: v for k, v in last.items() if k not in LOG_KEYS and isinstance(v, (int, float))},
        "device": str(result.device), "device_name": describe(result.device),
        "seed": s.get("seed"), "interrupted": result.interrupted, "params": result.problem.params,
        "settings": s, "reference": None if ref is None else ref.source, "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "sciml_version": __version__, "extra_metrics": result.solver.extra_metrics(result), "problem_metrics": sorted(extra),
    }
    if ref is None:
        grid = result.problem.solution_grid()
        summary["residual"] = residual_statistics(result, grid.points[result.problem.inside(grid.points)])
    clash = set(extra) & set(summary)
    if clash:
        raise ValueError(f"problem metrics {sorted(clash)} clash with the standard metrics.json keys")
    return {**summary, **extra}


def write_outputs(result: Result, out: Path) -> dict[str, Any]:
    """Write metrics.json, the result, the figure of the solution (``comparison.png`` against the
    reference, or ``solution.png`` where the problem has none) and the fields for ParaView into ``out``."""
    from .io import write_fields
    from .plotting import plot_solution

    result.save(out)
    problem = result.problem
    ref = problem.reference()
    summary = metrics(result, ref)
    name = f"{problem.name} / {result.solver.name}"
    if ref is not None:
        pred = result.predict(ref.points)
        shown = ref.measure or "rel_l2"
        problem.plot(ref, pred, out / "comparison.png", title=f"{name}: {shown.replace('_', ' ')} = {summary[shown]:.2e}")
        write_fields(out, problem, ref, pred)
    else:
        grid = problem.solution_grid()
        pred = result.predict(grid.points)
        pred[~problem.inside(grid.points)] = float("nan")
        plot_solution(problem, grid, pred, out / "solution.png", title=f"{name} (no reference solution)")
        write_fields(out, problem, grid, pred)
    summary["extra_figures"] = [Path(p).name for p in result.problem.figures(result.predict, out)]
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
