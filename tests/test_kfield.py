"""The k-field problem (Mode-I crack tip, sciml.problems.fracture.KField): the Williams field solves its
equations and conditions, minimises its energy, and gives J = K² / E' on any contour; bad input refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.fields import AutogradFields
from sciml.problems.fracture import KField, j_integral, williams_displacement

PROBLEM = KField()


def _exact_fields(points: np.ndarray, problem: KField = PROBLEM) -> AutogradFields:
    def model(x):
        return torch.stack(williams_displacement(x[:, 0], x[:, 1], problem.K, problem.E, problem.nu), dim=1)
    return AutogradFields(model, torch.as_tensor(points, dtype=torch.float64), problem.inputs, problem.outputs)


def test_the_williams_field_has_no_navier_residual_and_free_crack_faces():
    rng = np.random.default_rng(0)
    inside = rng.uniform([-1, 0.01], [1, 1], size=(500, 2))
    residual = PROBLEM.residual(_exact_fields(inside))
    assert max(float(v.detach().abs().max()) for v in residual.values()) < 1e-9
    # the same residual of a field with the wrong Poisson ratio is not small: the check can fail
    wrong = KField(nu=0.2)
    f = _exact_fields(inside, wrong)
    assert max(float(v.detach().abs().max()) for v in PROBLEM.residual(f).values()) > 1e-2
    line = np.stack([np.linspace(-0.99, 0.99, 200), np.zeros(200)], axis=1)
    traction = PROBLEM.conditions()[-1]
    assert float(traction.residual(_exact_fields(line), {}).detach().abs().max()) < 1e-9


@pytest.mark.parametrize("radius", [0.1, 0.5, 0.9])
def test_j_integral_of_the_williams_field_is_k_squared_over_e_prime(radius):
    exact = PROBLEM.K ** 2 / PROBLEM.effective_modulus
    assert j_integral(PROBLEM.exact, radius, PROBLEM.E, PROBLEM.nu) == pytest.approx(exact, rel=1e-5)
    m = PROBLEM.metrics(PROBLEM.exact)
    assert m["K_rel_error"] < 1e-5 and m["J_exact"] == pytest.approx(exact)
    # a field of twice the amplitude has four times the J: the integral is quadratic, not a constant
    assert j_integral(lambda p: 2 * PROBLEM.exact(p), radius, PROBLEM.E, PROBLEM.nu) == pytest.approx(4 * exact, rel=1e-5)


def test_the_hard_constraint_meets_the_boundary_values_and_leaves_a_bounded_function_to_learn():
    rng = np.random.default_rng(1)
    pts = rng.uniform([-1, 0], [1, 1], size=(2000, 2))
    pts = np.concatenate([pts, np.stack([np.linspace(-1, -0.01, 50), np.zeros(50)], axis=1)])
    x = torch.as_tensor(pts)
    # the factors: Williams / factors = (cos(θ/2) (κ − cos θ), κ − cos θ), bounded
    factors = PROBLEM._factors(x).numpy()
    theta = np.arctan2(pts[:, 1], pts[:, 0])
    kappa = 3 - 4 * PROBLEM.nu
    expected = np.stack([np.cos(theta / 2) * (kappa - np.cos(theta)), kappa - np.cos(theta)], axis=1)
    np.testing.assert_allclose(PROBLEM.exact(pts) / factors, expected, rtol=1e-9, atol=1e-12)
    assert np.isfinite(PROBLEM._factors(torch.zeros(1, 2, dtype=torch.float64)).numpy()).all()
    # any network output gives the Williams values on the left, right and top edges and u_y = 0 ahead of the tip
    c = PROBLEM.constraint()
    s = np.linspace(0.0, 1.0, 41)
    edges = np.concatenate([np.stack([-np.ones_like(s), s], 1), np.stack([np.ones_like(s), s], 1),
                            np.stack([2 * s - 1, np.ones_like(s)], 1)])
    for net in (torch.zeros(len(edges), 2, dtype=torch.float64), torch.randn(len(edges), 2, dtype=torch.float64)):
        np.testing.assert_allclose(c(torch.as_tensor(edges), net).numpy(), PROBLEM.exact(edges),
                                   atol=1e-12 * PROBLEM.displacement_scale)
    ahead = torch.as_tensor(np.stack([np.linspace(0.01, 0.99, 30), np.zeros(30)], 1))
    assert c(ahead, torch.randn(30, 2, dtype=torch.float64))[:, 1].abs().max() == 0
    inside = torch.as_tensor(pts[:100])
    assert (c(inside, torch.zeros(100, 2, dtype=torch.float64)) - torch.as_tensor(PROBLEM.exact(pts[:100]))).abs().max() \
        > 1e-2 * PROBLEM.displacement_scale  # the blend alone is not the answer inside


def test_the_williams_field_minimises_the_energy_among_fields_with_its_boundary_values():
    from sciml.solvers.deep_energy import gauss_legendre

    points, weight = gauss_legendre([-1.0, 0.0], [1.0, 1.0], 16, 8)
    bump = lambda x: (1 - x[:, 0] ** 2) * x[:, 1] * (1 - x[:, 1])  # noqa: E731 - zero on the outer boundary

    def energy(eps_x, eps_y):
        def model(x):
            ux, uy = williams_displacement(x[:, 0], x[:, 1], PROBLEM.K, PROBLEM.E, PROBLEM.nu)
            U = PROBLEM.displacement_scale
            return torch.stack([ux + eps_x * U * bump(x), uy + eps_y * U * bump(x) * x[:, 1]], dim=1)
        f = AutogradFields(model, torch.as_tensor(points), PROBLEM.inputs, PROBLEM.outputs)
        return float((PROBLEM.energy(f) * torch.as_tensor(weight)).sum().detach())

    base = energy(0.0, 0.0)
    for eps in [(0.05, 0.0), (-0.05, 0.0), (0.0, 0.05), (0.0, -0.05), (0.03, -0.03)]:
        assert energy(*eps) > base + 1e-6


def test_bad_input_is_one_clear_sentence():
    with pytest.raises(ValueError, match=r"contour_radius must be less than a = 1 mm, got 1.5"):
        KField(contour_radius=1.5)
    with pytest.raises(ValueError, match="nu"):
        KField(nu=0.5)
