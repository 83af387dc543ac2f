"""The README's own examples and commands, run or checked as a new user would meet them."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def code_blocks(language: str) -> list[str]:
    """The README's fenced code blocks in ``language``, as printed."""
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_the_heat_example_runs_as_printed_and_solves_the_heat_equation(tmp_path, monkeypatch):
    # "Writing a problem": a problem without a reference must train, save and report (issue 20, item 1).
    (block,) = [b for b in code_blocks("python") if "class Heat(Problem)" in b]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    out = tmp_path / "runs" / "heat"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rel_l2"] is None and metrics["reference"] is None
    assert set(metrics["loss_terms"]) == {"residual"}
    assert 0 < metrics["residual"]["residual"]["rms"] <= metrics["residual"]["residual"]["max_abs"]
    for name in ("solution.png", "fields.pvd", "result.pt", "history.json"):
        assert (out / name).stat().st_size > 0
    # the trained field against the exact solution u = exp(-kappa pi^2 t) sin(pi x)
    kappa = scope["result"].problem.kappa
    x, t = np.meshgrid(np.linspace(0, 1, 41), np.linspace(0, 1, 21))
    points = np.stack([x.ravel(), t.ravel()], axis=1)
    exact = np.exp(-kappa * math.pi ** 2 * points[:, 1]) * np.sin(math.pi * points[:, 0])
    predicted = scope["result"].predict(points)[:, 0]
    assert np.linalg.norm(predicted - exact) / np.linalg.norm(exact) < 2e-2


RUN_ONLY = {"progress", "eval_every", "log_weights_every", "checkpoint_every", "checkpoint_minutes"}
"""Settings that change what a run reports or saves, not what it trains."""


def readme_run_commands() -> list[list[str]]:
    """Every ``sciml run`` command in the README's shell blocks (torchrun's included), as argv after
    ``sciml run``, comments stripped."""
    import shlex

    commands = []
    for block in code_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#")[0]
            found = re.search(r"(?:^|&&|\s-m)\s*sciml run (.*)$", line)
            if found:
                commands.append(shlex.split(found.group(1).split("&&")[0]))
    return commands


def resolved(problem: str, solver: str, params: dict, settings: dict) -> tuple[dict, dict]:
    """The problem parameters and the solver settings a run would train with."""
    from sciml import registry

    problem_obj = registry.problem(problem)(**params)
    solver_obj = registry.solver(solver)(problem_obj, **settings)
    return problem_obj.params, {k: v for k, v in solver_obj.settings.items() if k not in RUN_ONLY}


def test_every_readme_command_names_a_problem_solver_and_flags_that_exist():
    from sciml.cli import parse_run

    commands = readme_run_commands()
    assert len(commands) >= 20 and ["burgers"] in commands
    for argv in commands:
        if "--help" in argv:
            continue
        args, params, settings = parse_run(argv)  # an unknown problem, solver or flag fails here
        resolved(args.problem, args.solver, params, settings)


def test_readme_commands_at_their_defaults_train_what_the_report_shows():
    """Issue 20, item 8: a README command for a problem, solver and parameters that the validation report
    shows must train with the settings of (one of) those cases, so it reaches what the report shows."""
    from sciml.cli import parse_run
    from sciml.validation import cases

    checked = 0
    for argv in readme_run_commands():
        if "--help" in argv or "--init" in argv:
            continue
        args, params, settings = parse_run(argv)
        if args.iterations is not None:
            settings["iterations"] = args.iterations
        shown = [c for c in map(cases.get, cases.names()) if c.problem == args.problem and c.solver == args.solver]
        command_params, command_settings = resolved(args.problem, args.solver, params, settings)
        same_physics = [c for c in shown if resolved(c.problem, c.solver, c.params, {})[0] == command_params]
        if not same_physics:
            continue
        case_settings = {c.name: resolved(c.problem, c.solver, c.params, c.settings)[1] for c in same_physics}
        assert command_settings in case_settings.values(), (
            f"`sciml run {' '.join(argv)}` trains with settings that differ from the report's "
            f"{', '.join(case_settings)}: " + "; ".join(
                f"{name}: " + ", ".join(f"{k}={v!r} (command: {command_settings.get(k)!r})"
                                        for k, v in s.items() if command_settings.get(k) != v)
                for name, s in case_settings.items()))
        checked += 1
    assert checked >= 10
