"""The deeponet solver: an operator with a closed form learned to a stated error on held-out input functions,
the diesel actuators through `sciml run` with their metrics, figure and a save/load round trip, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import sciml
from sciml.odeproblem import REFERENCE_SEED, trajectory_points
from sciml.problem import Problem, Reference, relative_l2
from sciml.problems.burgers import Burgers
from sciml.problems.diesel import DieselActuators, DieselEngine
from sciml.solvers.deeponet import DeepONet

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class Antiderivative(Problem):
    """s(t) = integral of u from 0 to t, u piecewise linear through its values at 6 evenly spaced sensors on
    [0, 1], each uniform in [-1, 1]: the exact operator is known in closed form."""

    name = "antiderivative"
    inputs = ("t",) + tuple(f"u_{k}" for k in range(6))
    outputs = ("s",)
    time = "t"
    horizon = 1.0
    sensors = np.linspace(0.0, 1.0, 6)

    def sample_inputs(self, n, generator):
        return 2 * torch.rand(n, len(self.sensors), generator=generator, dtype=torch.float64) - 1

    def solution(self, inputs, t):
        u, t, h = np.asarray(inputs), np.asarray(t), self.sensors[1]
        k = np.clip(np.searchsorted(self.sensors, t, side="right") - 1, 0, len(self.sensors) - 2)
        before = np.concatenate([np.zeros((len(u), 1)), np.cumsum(h * (u[:, 1:] + u[:, :-1]) / 2, axis=1)], axis=1)
        d = t - self.sensors[k]
        s = before[:, k] + u[:, k] * d + (u[:, k + 1] - u[:, k]) * d ** 2 / (2 * h)
        return s[..., None]

    def reference(self):
        u = self.sample_inputs(100, torch.Generator().manual_seed(REFERENCE_SEED)).numpy()
        t = np.linspace(0.0, 1.0, 51)
        return Reference(trajectory_points(u, t), self.solution(u, t).reshape(-1, 1), "closed form")


def test_the_antiderivative_closed_form_is_the_integral():
    p = Antiderivative()
    u = p.sample_inputs(3, torch.Generator().manual_seed(0)).numpy()
    t = np.linspace(0.0, 1.0, 2001)
    dense = np.stack([np.interp(t, p.sensors, row) for row in u])
    trapezoid = np.concatenate([np.zeros((3, 1)), np.cumsum((dense[:, 1:] + dense[:, :-1]) / 2 * np.diff(t), 1)], 1)
    np.testing.assert_allclose(p.solution(u, t)[..., 0], trapezoid, atol=1e-7)


def test_deeponet_learns_the_antiderivative_operator_on_held_out_inputs():
    problem = Antiderivative()
    result = DeepONet(problem, width=32, depth=2, basis=16, n_functions=1000, n_times=50, batch=100,
                      iterations=3000, lr=1e-2, progress=False).train()
    ref = problem.reference()
    error = relative_l2(result.predict(ref.points), ref.values)
    assert error < 3e-2                                            # measured 1.4e-2
    assert relative_l2(np.zeros_like(ref.values), ref.values) == 1.0   # the bound is far below a blind guess


def test_diesel_actuators_run_writes_metrics_figure_and_reloads(tmp_path):
    out = tmp_path / "act"
    result = sciml.run("diesel-actuators", iterations=400, n_functions=200, n_times=60, batch=50, lr=3e-3,
                       progress=False, out=out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["solver"] == "deeponet" and metrics["extra_metrics"]["held_out_functions"] == 100
    assert metrics["rel_l2"] == pytest.approx(result.errors()["rel_l2"], rel=1e-12)
    assert metrics["rel_l2"] < 0.35                                # measured 0.24 after 400 steps (a blind guess: 1)
    assert (out / "comparison.png").stat().st_size > 0
    again = sciml.load(out)
    points = DieselActuators().reference().points[:500]
    np.testing.assert_array_equal(again.predict(points), result.predict(points))
    # the engine twin's actuator states from the saved operator, which must be trained for its actuators
    t = torch.linspace(0.0, 60.0, 50, dtype=torch.float64)
    engine = DieselEngine(actuators=str(out))
    known = engine.known(t)
    want = again.predict(DieselActuators().operator_points(engine.commands, t.numpy()))
    np.testing.assert_array_equal(np.stack([known[n].numpy() for n in ("ut_egr1", "ut_egr2", "ut_vgt")], 1), want)
    with pytest.raises(ValueError, match=r"trained for other actuator time constants or delays than this engine's: "
                                         r"tau_vgt = 0.025 s there, 0.03 s here"):
        DieselEngine(actuators=str(out), tau_vgt=0.03).known(t)


@pytest.mark.parametrize("settings, message", [
    ({"basis": 0}, "basis must be an integer >= 1, got 0"),
    ({"n_times": 1}, "n_times must be an integer >= 2, got 1"),
    ({"seed": REFERENCE_SEED}, f"seed {REFERENCE_SEED} draws the held-out input functions"),
    ({"device": "cuda"}, "runs on the CPU in float64"),
])
def test_bad_settings_are_one_sentence(settings, message):
    with pytest.raises(ValueError, match=message):
        DeepONet(DieselActuators(), **settings)


def test_a_problem_without_input_functions_and_bad_points_are_refused():
    with pytest.raises(ValueError, match="cannot solve problem 'burgers': it has no input functions of time"):
        DeepONet(Burgers())
    model = DeepONet(Antiderivative()).build_model()
    with pytest.raises(ValueError, match=r"points must be \(M, 7\) rows of \(t, sensor values\), got shape \(5, 3\)"):
        model(torch.zeros(5, 3, dtype=torch.float64))
