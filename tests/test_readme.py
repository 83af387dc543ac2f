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
