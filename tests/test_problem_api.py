"""The problem API from a user's side: a new problem in one class, conditions, registry errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml import Parameter, Problem, Reference
from sciml.conditions import DirichletBC, NeumannBC, PeriodicBC, PointData
from sciml.fields import AutogradFields
from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.solvers import PINN


class Heat(Problem):
    """The README's example: u_t = kappa u_xx on [0,1]x[0,1], u(x,0) = sin(pi x), u(0,t) = u(1,t) = 0."""

    name = "heat"
    inputs, outputs, time = ("x", "t"), ("u",), "t"
    parameters = {"kappa": Parameter(0.1, unit="m^2/s", doc="diffusivity", minimum=0, exclusive_minimum=True),
                  "enforce": Parameter("hard", choices=("hard", "soft"))}

    def geometry(self):
        g = dde()
        return g.GeometryXTime(g.Interval(0, 1), g.TimeDomain(0, 1))

    def residual(self, f):
        return f.d("u", "t") - self.kappa * f.d("u", "x", "x")

    def constraint(self):
        if self.enforce == "soft":
            return None
        return HardConstraint(lambda x: torch.sin(math.pi * x[:, :1]), lambda x: x[:, 1:] * x[:, :1] * (1 - x[:, :1]))

    def conditions(self):
        if self.enforce == "hard":
            return []
        return [DirichletBC("u", lambda x: torch.sin(math.pi * x[:, 0]), on="initial", name="initial"),
                DirichletBC("u", lambda x: torch.zeros_like(x[:, 0]), on="boundary", name="walls")]

    def exact(self, x, t):
        return np.exp(-self.kappa * math.pi ** 2 * t) * np.sin(math.pi * x)

    def reference(self):
        t, x = np.linspace(0, 1, 21), np.linspace(0, 1, 41)
        tt, xx = np.meshgrid(t, x, indexing="ij")
        pts = np.stack([xx.ravel(), tt.ravel()], 1)
        return Reference(pts, self.exact(pts[:, 0], pts[:, 1])[:, None], "analytic", grid={"t": t, "x": x})


@pytest.mark.parametrize("enforce,engine,bound", [("hard", "taylor", 5e-3), ("soft", "autograd", 3e-2)])
def test_a_new_problem_in_one_class_trains_to_its_analytic_solution(enforce, engine, bound):
    problem = Heat(kappa=0.1, enforce=enforce)
    result = PINN(problem, width=16, depth=2, n_interior=500, n_boundary=100, iterations=500,
                  lbfgs_iterations=200, engine=engine, compile=False, progress=False, device="cpu").train()
    assert result.errors()["rel_l2"] < bound


def test_n_boundary_reaches_the_conditions_that_do_not_set_their_own():
    from sciml.problems import Convection

    solver = PINN(Heat(enforce="soft"), n_boundary=37, iterations=1, progress=False, device="cpu")
    solver.setup()
    assert [len(ps.x) for ps in solver.condition_sets] == [37, 37]
    own = PINN(Convection(enforce="soft"), n_boundary=37, iterations=1, progress=False, device="cpu")
    own.setup()
    assert [len(ps.x) for ps in own.condition_sets] == [512]  # the initial condition sets n_points=512


def test_condition_residuals_vanish_on_functions_that_satisfy_them():
    g = dde()
    geom = g.Interval(0.0, 2 * math.pi)
    # u = sin(x) + 3: periodic in value and slope on [0, 2 pi]
    periodic = PeriodicBC("u", 0, "x", n_points=20)
    slope = PeriodicBC("u", 0, "x", derivative_order=1, n_points=20)
    ps = periodic.sample(geom, 20)
    f = AutogradFields(lambda x: torch.sin(x) + 3, ps.x, ("x",), ("u",))
    assert periodic.residual(f, ps.aux).abs().max() < 1e-12
    assert slope.residual(f, ps.aux).abs().max() < 1e-12
    # and it fails for a function that is not periodic
    f_bad = AutogradFields(lambda x: x ** 2, ps.x, ("x",), ("u",))
    assert periodic.residual(f_bad, ps.aux).abs().max() > 1.0
    # u = x^2 on [0, 1]: outward normal derivative is -0 at x=0 and 2 at x=1
    unit = g.Interval(0.0, 1.0)
    neumann = NeumannBC("u", lambda x: 2 * x[:, 0], spatial=("x",))
    nb = neumann.sample(unit, 10)
    f = AutogradFields(lambda x: x ** 2, nb.x, ("x",), ("u",))
    assert set(np.round(nb.x[:, 0].numpy(), 12)) == {0.0, 1.0}
    assert neumann.residual(f, nb.aux).abs().max() < 1e-12
    dirichlet = DirichletBC("u", lambda x: x[:, 0] ** 2, on="boundary")
    assert dirichlet.residual(f, {}).abs().max() < 1e-12
    data = PointData("u", np.array([[0.5], [0.25]]), np.array([0.25, 0.0625]))
    dp = data.sample(unit, 0)
    assert data.residual(AutogradFields(lambda x: x ** 2, dp.x, ("x",), ("u",)), dp.aux).abs().max() < 1e-15


def test_problem_and_solver_errors_name_the_value():
    with pytest.raises(ValueError, match="kappa must be > 0"):
        Heat(kappa=-2.0)
    with pytest.raises(ValueError, match="unknown setting.*'widht'.*its settings are"):
        PINN(Heat(), widht=3)
    with pytest.raises(ValueError, match="engine must be 'auto', 'taylor' or 'autograd', got 'fast'"):
        PINN(Heat(), engine="fast")
    with pytest.raises(ValueError, match="n_interior must be a positive integer, got 0"):
        PINN(Heat(), n_interior=0)
    with pytest.raises(ValueError, match="weights given for unknown loss term.*'initial'.*terms are \\['residual'\\]"):
        PINN(Heat(), weights={"initial": 2.0}, iterations=1, progress=False).train()
    with pytest.raises(TypeError, match="clash with Problem attributes"):
        type("Bad", (Problem,), {"parameters": {"residual": Parameter(1.0)}})


def test_init_starts_from_a_saved_result(tmp_path):
    """``init`` loads a saved network (a continuation in kappa here): the same weights before training,
    and a short run from them ends far closer to the new solution than the same run from scratch."""
    net = dict(width=16, depth=2, n_interior=500, compile=False, progress=False, device="cpu")
    first = PINN(Heat(kappa=0.1), iterations=500, lbfgs_iterations=200, **net).train()
    first.save(tmp_path)
    warm = PINN(Heat(kappa=0.12), init=tmp_path, iterations=50, **net)
    warm.setup()
    saved = first.model.state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in warm.model.state_dict().items())
    warm_error = warm.train().errors()["rel_l2"]
    cold_error = PINN(Heat(kappa=0.12), iterations=50, **net).train().errors()["rel_l2"]
    assert warm_error < 0.1 * cold_error
    with pytest.raises(ValueError, match="does not fit"):
        PINN(Heat(kappa=0.12), init=tmp_path / "result.pt", **{**net, "width": 8}).setup()
    with pytest.raises(FileNotFoundError, match="init: no saved result"):
        PINN(Heat(kappa=0.12), init=tmp_path / "missing", **net).setup()
