"""The Burgers problem: residual against an exact solution, hard constraint, parameters, reference,
and a short end-to-end training measured against the Cole-Hopf solution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.classical.cole_hopf import burgers_cole_hopf
from sciml.fields import AutogradFields
from sciml.problems import Burgers
from sciml.solvers import PINN


def test_residual_vanishes_on_an_exact_travelling_wave():
    """u = c - a tanh(a (x - c t) / (2 nu)) solves u_t + u u_x = nu u_xx exactly."""
    problem = Burgers(nu=0.05)
    a, c = 0.8, 0.3

    def wave(x):
        return (c - a * torch.tanh(a * (x[:, 0] - c * x[:, 1]) / (2 * problem.nu)))[:, None]

    x = torch.rand(200, 2, dtype=torch.float64) * torch.tensor([2.0, 1.0], dtype=torch.float64) - torch.tensor(
        [1.0, 0.0], dtype=torch.float64)
    f = AutogradFields(wave, x, problem.inputs, problem.outputs)
    r = problem.residual(f)
    scale = (problem.nu * f.d("u", "x", "x")).abs().max()
    assert scale > 1.0  # the wave is steep: the terms are large
    assert r.abs().max() / scale < 1e-12
    # and it is not zero for a wrong viscosity: the test can fail
    wrong = Burgers(nu=0.06).residual(f)
    assert wrong.abs().max() / scale > 1e-2


def test_hard_constraint_is_exact_for_an_untrained_network():
    solver = PINN(Burgers(), dtype="float64", device="cpu", progress=False)
    model = solver.build_model()
    x = np.linspace(-1, 1, 101)
    at_t0 = torch.as_tensor(np.stack([x, np.zeros_like(x)], 1))
    t = np.linspace(0, 1, 51)
    walls = torch.as_tensor(np.concatenate([np.stack([-np.ones_like(t), t], 1), np.stack([np.ones_like(t), t], 1)]))
    with torch.no_grad():
        assert torch.allclose(model(at_t0)[:, 0], -torch.sin(math.pi * at_t0[:, 0]), atol=1e-14)
        assert model(walls).abs().max() < 1e-14
        inside = model(torch.tensor([[0.3, 0.5]], dtype=torch.float64))
    assert abs(inside.item() + math.sin(0.3 * math.pi)) > 1e-6  # the network does act inside


def test_soft_variant_declares_initial_and_boundary_conditions():
    assert Burgers().conditions() == [] and Burgers().constraint() is not None
    soft = Burgers(enforce="soft")
    assert soft.constraint() is None
    assert [c.name for c in soft.conditions()] == ["initial", "boundary"]


@pytest.mark.parametrize("kwargs,message", [
    (dict(nu=-0.01), "nu must be > 0.0 .*got -0.01"),
    (dict(nu=0.0), "nu must be > 0.0"),
    (dict(nu=float("nan")), "nu must be finite"),
    (dict(enforce="weak"), "enforce must be one of \\['hard', 'soft'\\], got 'weak'"),
    (dict(viscosity=0.1), "unknown parameter.*viscosity.*its parameters are: enforce, nu"),
])
def test_bad_parameters_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Burgers(**kwargs)


def test_reference_grid_and_other_viscosities():
    ref = Burgers().reference()
    assert ref.points.shape == (25600, 2) and ref.values.shape == (25600, 1)
    assert ref.grid_shape == (100, 256)
    t0 = ref.points[:, 1] == 0
    assert np.allclose(ref.values[t0, 0], -np.sin(np.pi * ref.points[t0, 0]), atol=1e-14)
    other = Burgers(nu=0.02).reference()
    k = 12345
    expected = burgers_cole_hopf(other.points[k, 0], other.points[k, 1], nu=0.02)
    assert other.values[k, 0] == pytest.approx(float(expected), abs=1e-13)


def test_short_training_learns_the_solution():
    """A small budget on a smoother case (nu = 0.05; ~10 s on 2 cores) already matches the exact
    Cole-Hopf solution to better than 1% (3.1e-3 measured with seed 0)."""
    result = PINN(Burgers(nu=0.05), width=20, depth=3, n_interior=1000, iterations=800, lbfgs_iterations=300,
                  compile=False, progress=False, device="cpu", seed=0).train()
    errors = result.errors()
    assert errors["rel_l2"] < 1e-2, errors
    assert errors["rel_l2_by_output"]["u"] == pytest.approx(errors["rel_l2"])
