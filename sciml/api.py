"""``sciml.run``: the one-call way to train a registered problem with a registered solver."""

from __future__ import annotations

import json
import os
import platform
import warnings
from pathlib import Path
from typing import Any, Sequence

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


def setup_inverse(problem: Problem, observations: Any = None, *, sensors: int | None = None, samples: int | None = None,
                  noise: float = 0.0, observe: Sequence[str] | None = None, observation_seed: int = 0,
                  identify: Sequence[str] | str | None = None, initial_guess: dict[str, float] | None = None,
                  conditions: str | None = None) -> Problem:
    """Make ``problem`` an inverse problem, as :func:`run`'s keyword arguments of the same names say;
    returns it. Observations come from ``observations`` (an :class:`~sciml.inverse.Observations`, or
    a CSV/NPZ file's path) or are sampled from the problem's reference (``sensors`` or ``samples``,
    with ``noise``, ``observe`` and ``observation_seed``: :func:`sciml.inverse.sample_observations`)."""
    from .inverse import Observations, read_observations, sample_observations

    sampled = sensors is not None or samples is not None
    if observations is not None and sampled:
        raise ValueError("give observations (a file or an Observations object) or sensors/samples to sample "
                         "them from the reference, not both")
    if not sampled and (noise or observe is not None):
        raise ValueError("noise and observe apply to observations sampled from the reference: give sensors or samples")
    if isinstance(observations, (str, Path)):
        observations = read_observations(observations, problem)
    elif sampled:
        observations = sample_observations(problem, sensors=sensors, samples=samples, noise=noise,
                                           outputs=observe, seed=observation_seed)
    elif observations is not None and not isinstance(observations, Observations):
        raise ValueError(f"observations must be a file path or an Observations object, got {type(observations).__name__}")
    if conditions is not None or observations is not None:
        problem.given(observations, conditions)
    names = [identify] if isinstance(identify, str) else list(identify or [])
    if names or initial_guess:
        problem.identify(names, initial_guess)
    truth = observations.truth if observations is not None else None
    if truth:
        for name, guess in problem.unknowns.items():
            if guess == truth.get(name):
                warnings.warn(f"{name} is identified from observations sampled at its true value {guess:g} and starts "
                              f"there: give an initial guess (initial_guess={{{name!r}: ...}}, --initial-guess "
                              f"{name}=...) for a test that means something")
    return problem


INVERSE_KEYS = ("observations", "sensors", "samples", "noise", "observe", "observation_seed", "identify",
                "initial_guess", "conditions")
"""Keyword arguments of :func:`run` that make the problem an inverse one (:func:`setup_inverse`)."""


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

    Inverse problems (:mod:`sciml.inverse`; the ``pinn`` solver): ``observations`` (a CSV/NPZ file
    with columns named by the inputs and observed outputs, or an ``Observations``) or sampled from
    the reference: ``sensors=N`` evenly spaced sensors recording every reference time step (1-D
    space-time problems) or ``samples=N`` random reference points, with ``noise`` σ (Gaussian,
    σ times each output's standard deviation), ``observe`` (outputs; default all) and
    ``observation_seed``; they enter the loss as the term ``data``. ``conditions`` says which of
    the problem's conditions still apply: "all", "boundary" (default with observations: the initial
    condition is unknown) or "none". ``identify=["nu"]`` learns those parameters with the network
    from ``initial_guess={"nu": 0.05}`` (default: the parameter's given value); metrics.json then
    has ``identified`` and the folder ``identified.png``.
    """
    problem_cls = problem if isinstance(problem, type) and issubclass(problem, Problem) else registry.problem(problem)
    solver_cls = registry.solver(solver or problem_cls.default_solver)
    solver_cls.require(problem_cls)
    if iterations is not None:
        if int(iterations) != iterations or iterations <= 0:
            raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
        kwargs["iterations"] = int(iterations)
    out = check_out_dir(out)
    inverse = {k: kwargs.pop(k) for k in INVERSE_KEYS if k in kwargs}
    params, settings = split_kwargs(problem_cls, solver_cls, kwargs)
    problem_obj = setup_inverse(problem_cls(**params), **inverse)
    trainer = solver_cls(problem_obj, device=device, seed=seed, **settings)
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


def _second_phase_steps(settings: dict[str, Any]) -> dict[str, Any]:
    """{phase: steps} of the phase after Adam that the settings ask for: {"lbfgs": lbfgs_iterations}
    unless a second-order ``optimizer`` is named (:class:`sciml.training.TrainConfig`)."""
    optimizer = settings.get("optimizer", "adam-lbfgs")
    if optimizer == "adam-lbfgs":
        return {"lbfgs": settings.get("lbfgs_iterations")}
    steps = settings.get("second_order_iterations")
    return {optimizer: settings.get("lbfgs_iterations") if steps is None else steps}


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
    extra = {**measured, **result.problem.metrics(result.predict), **result.own_metrics()}
    summary = {
        "problem": result.problem.name, "solver": result.solver.name,
        "rel_l2": errors["rel_l2"], "rel_l2_by_output": errors["rel_l2_by_output"],
        "wall_time_s": result.timings["train_s"],
        "iterations": {"adam": s.get("iterations"), **_second_phase_steps(s)},
        "final_loss": last.get("loss"),
        "loss_terms": {k: v for k, v in last.items() if k not in LOG_KEYS and isinstance(v, (int, float))},
        "device": str(result.device), "device_name": describe(result.device),
        "seed": s.get("seed"), "interrupted": result.interrupted, "params": result.problem.params,
        "settings": s, "reference": None if ref is None else ref.source, "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "sciml_version": __version__, "extra_metrics": result.solver.extra_metrics(result), "problem_metrics": sorted(extra),
    }
    if result.problem.unknowns or result.problem.observations is not None:
        summary.update(inverse_metrics(result))
    if ref is None:
        grid = result.problem.solution_grid()
        summary["residual"] = residual_statistics(result, grid.points[result.problem.inside(grid.points)])
    clash = set(extra) & set(summary)
    if clash:
        raise ValueError(f"problem metrics {sorted(clash)} clash with the standard metrics.json keys")
    return {**summary, **extra}


def identified_history(result: Result) -> dict[str, Any]:
    """Each unknown parameter's value after every recorded step: {"step": [...], name: [...]}, the
    steps on one axis (the steps of the phase after Adam counted after the last Adam step)."""
    rows = [r for r in result.history if "identified" in r]
    adam = max((int(r["step"]) for r in rows if r.get("phase") == "adam"), default=0)
    steps = [int(r["step"]) + (adam if r.get("phase") != "adam" else 0) for r in rows]
    return {"step": steps, **{n: [r["identified"][n] for r in rows] for n in result.problem.unknowns}}


def inverse_metrics(result: Result) -> dict[str, Any]:
    """metrics.json entries of an inverse problem: ``observations`` (where from, how many, noise),
    ``conditions`` (which applied) and ``identified`` {name: {"value", "initial", "true",
    "rel_error", "unit", "history"}} ("true" when the observations were sampled from the reference
    at known parameters, else None), plus ``rel_error_NAME`` for each identified parameter with a
    known true value."""
    p = result.problem
    truth = (p.observations.truth or {}) if p.observations is not None else {}
    history = identified_history(result)
    identified, flat = {}, {}
    for name, value in result.identified.items():
        true = truth.get(name)
        rel = None if true is None else abs(value - true) / abs(true)
        identified[name] = {"value": value, "initial": p.unknowns[name], "true": true, "rel_error": rel,
                            "unit": p.parameters[name].unit, "history": {"step": history["step"], "value": history[name]}}
        if rel is not None:
            flat[f"rel_error_{name}"] = rel
    return {"observations": None if p.observations is None else p.observations.summary(),
            "conditions": p.applies, "identified": identified, **flat}


def plot_identified(result: Result, path: Path) -> Path:
    """``identified.png``: each unknown parameter against the optimiser step, its initial guess and
    (when known) its true value marked; a log scale for a parameter learned in log space."""
    from .plotting import save_figure, subplots

    summary = inverse_metrics(result)["identified"]
    fig, axes = subplots(1, len(summary), figsize=(5.0 * len(summary), 3.6), squeeze=False)
    for ax, (name, entry) in zip(axes[0], summary.items()):
        steps, values = [0] + entry["history"]["step"], [entry["initial"]] + entry["history"]["value"]
        ax.plot(steps, values, label=f"identified: {entry['value']:.6g}")
        if entry["true"] is not None:
            ax.axhline(entry["true"], color="k", ls="--", lw=1,
                       label=f"true: {entry['true']:.6g} (rel. error {entry['rel_error']:.2e})")
        if result.problem.parameters[name].minimum == 0:
            ax.set_yscale("log")
        unit = entry["unit"]
        ax.set_xlabel("optimiser step (Adam, then L-BFGS iterations)")
        ax.set_ylabel(f"{name}" + ("" if unit == "1" else f" [{unit}]"))
        ax.set_title(f"{result.problem.name}: {name} from {entry['initial']:.4g}")
        ax.legend(fontsize=8)
    return save_figure(fig, path)


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
    summary["extra_figures"] = [Path(p).name for p in result.problem.figures(result.predict, out)] + result.own_figures()
    if problem.unknowns:
        summary["extra_figures"].append(plot_identified(result, out / "identified.png").name)
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
