"""Lagrangian PINN: the residuals in the Lagrangian frame vanish on an exact solution written along
(deliberately non-uniformly labelled) characteristics, predictions map back to the Eulerian grid,
and training fixes the β = 50 convection case."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.characteristics import to_grid
from sciml.fields import AutogradFields
from sciml.problems.burgers import Burgers
from sciml.problems.convection import Convection, ConvectionDiffusion
from sciml.solvers.lagrangian import Characteristics, LagrangianPINN

BETA, NU = 3.0, 0.4


class ExactCurves(torch.nn.Module):
    """(x0, t) -> (X, u) for u_t + β u_x = ν u_xx, u0 = sin: X = x0 + β t + 0.3 sin x0 (any labelling
    of the curves is allowed), u = exp(-ν t) sin(X - β t)."""

    def forward(self, p):
        x0, t = p[:, 0], p[:, 1]
        X = x0 + BETA * t + 0.3 * torch.sin(x0)
        return torch.stack([X, torch.exp(-NU * t) * torch.sin(X - BETA * t)], dim=1)


def test_lagrangian_residuals_vanish_on_exact_curves():
    solver = LagrangianPINN(ConvectionDiffusion(beta=BETA, viscosity=NU), dtype="float64")
    x = torch.rand(64, 2, dtype=torch.float64) * torch.tensor([2 * math.pi, 1.0], dtype=torch.float64)
    f = AutogradFields(ExactCurves(), x, ("x", "t"), ("X", "u"))
    r = solver._residuals(f)
    assert r["characteristic"].abs().max() < 1e-12
    assert r["state"].abs().max() < 1e-12
    # a wrong (Eulerian) second derivative u_{x0 x0} instead of the Jacobian formula is visibly off:
    wrong = f.d("u", "t") - NU * f.d("u", "x", "x")
    assert wrong.abs().max() > 1e-2


def test_predictions_map_back_to_the_eulerian_grid():
    model = Characteristics(ExactCurves(), 0.0, 2 * math.pi, periodic=True, n_curves=2048).double()
    x = torch.linspace(0, 2 * math.pi, 97, dtype=torch.float64)[:-1]
    pts = torch.stack([x.repeat(3), torch.tensor([0.0, 0.4, 1.0], dtype=torch.float64).repeat_interleave(96)], 1)
    got = model(pts)[:, 0]
    exact = torch.exp(-NU * pts[:, 1]) * torch.sin(pts[:, 0] - BETA * pts[:, 1])
    assert (got - exact).abs().max() < 1e-5  # linear interpolation, spacing 2π/2048: h²/8 ≈ 1.2e-6


def test_to_grid_wraps_and_clamps():
    pos = torch.tensor([3.5, 0.5, 1.5, 2.5], dtype=torch.float64)  # unsorted, period 4
    val = pos.clone()
    assert torch.allclose(to_grid(pos, val, torch.tensor([1.0, 8.0]).double(), 0.0, 4.0, True),
                          torch.tensor([1.0, 2.0], dtype=torch.float64))  # 8.0 wraps to 0.0: between 3.5 and 4.5
    assert torch.allclose(to_grid(pos, val, torch.tensor([-1.0, 1.0, 9.0]).double(), 0.0, 4.0, False),
                          torch.tensor([0.5, 1.0, 3.5], dtype=torch.float64))


def test_refuses_soft_conditions_and_problems_without_transport():
    with pytest.raises(ValueError, match="enforce='hard'"):
        LagrangianPINN(Convection(enforce="soft"))
    LagrangianPINN(Burgers())  # Burgers declares its transport form


def test_lagrangian_fixes_convection_beta_50():
    """A few hundred steps reach ~1e-3 where a plain PINN fails (validation: convection-50-*)."""
    torch.set_num_threads(1)
    solver = LagrangianPINN(Convection(beta=50.0), width=32, depth=3, n_interior=512, iterations=150,
                            progress=False, n_curves=512)
    err = solver.train().errors()["rel_l2"]
    assert err < 1e-2, err
