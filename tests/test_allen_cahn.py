"""The spectral Allen–Cahn reference (Fourier + ETDRK4): coefficients, self-convergence of the bundled
solution, and the problem that reads it."""

from __future__ import annotations

import numpy as np
import pytest

from sciml import data as bundled
from sciml.classical.allen_cahn import etdrk4_coefficients, initial_condition, solve
from sciml.problems.allen_cahn import AllenCahn


def _closed_forms(z):
    ez = np.exp(z)
    return {"Q": (np.exp(z / 2) - 1) / z, "f1": (-4 - z + ez * (4 - 3 * z + z ** 2)) / z ** 3,
            "f2": (2 + z + ez * (z - 2)) / z ** 3, "f3": (-4 - 3 * z - z ** 2 + ez * (4 - z)) / z ** 3}


def test_contour_coefficients_match_closed_forms_and_their_limits():
    z = np.array([-30.0, -2.0, -0.5])  # far enough from 0 that the closed forms are accurate
    got, exact = etdrk4_coefficients(z), _closed_forms(z)
    for key in exact:
        np.testing.assert_allclose(got[key], exact[key], rtol=1e-12, err_msg=key)
    tiny = etdrk4_coefficients(np.array([-1e-12]))  # the closed forms cancel here; the limits are 1/2, 1/6
    assert abs(tiny["Q"][0] - 0.5) < 1e-12
    for key in ("f1", "f2", "f3"):
        assert abs(tiny[key][0] - 1 / 6) < 1e-12, key


def test_bundled_solution_self_converged_in_modes_and_dt():
    """Doubling the modes (1,024 -> 2,048) and halving dt changes the bundled solution by < 1e-5 (rel. L2)."""
    ref = bundled.load("allen_cahn")
    assert int(ref["modes"]) == 1024 and float(ref["dt"]) == 5e-5
    fine = solve(n_modes=2048, dt=2.5e-5, n_out=len(ref["t"]))
    u_fine = fine["u"][:, :: 2048 // len(ref["x"])]
    np.testing.assert_array_equal(fine["x"][:: 2048 // len(ref["x"])], ref["x"])
    change = np.linalg.norm(u_fine - ref["u"]) / np.linalg.norm(ref["u"])
    assert change < 1e-5, change
    assert change > 1e-8  # a real difference was measured (the kink at x = ±1 limits the modes' convergence)


def test_solution_shape_and_physics():
    ref = bundled.load("allen_cahn")
    u = ref["u"]
    np.testing.assert_array_equal(u[0], initial_condition(ref["x"]))
    assert np.abs(u).max() < 1 + 1e-3  # the phases are ±1: a maximum principle
    assert np.all(np.abs(u[-1, np.abs(ref["x"]) > 0.9] + 1) < 1e-3)  # near x = ±1, u settles at -1
    assert np.abs(u[-1]).min() < 0.5 < np.abs(u[-1]).max()  # interfaces between the phases at t = 1


def test_problem_reference_and_bad_step():
    ref = AllenCahn().reference()
    assert ref.values.shape == (201 * 512, 1) and ref.grid_shape == (201, 512)
    with pytest.raises(ValueError, match="dt = 0.003 must divide"):
        solve(n_modes=64, dt=3e-3)


def test_hard_constraint_keeps_u0_and_lets_its_boundary_kink_decay_as_the_reference_does():
    """The hard constraint carries the kink of u0 at x = ±1 with the decay exp(-10 t): the bundled spectral
    solution shows that decay next to the boundary (outside the diffusion width), and the constrained network
    equals u0 at t = 0 for any weights."""
    import torch

    from sciml.solvers import PINN

    grid = bundled.load("allen_cahn")
    x, t, u = grid["x"], grid["t"], grid["u"]
    j, k = 3, 20  # x = -1 + 3 dx (0.012 from the boundary), t = 0.1: the diffusion width sqrt(1e-4 t) is 0.003
    u0 = x[j] ** 2 * np.cos(np.pi * x[j])
    observed = (u[k, j] + 1.0) / (u0 + 1.0)
    assert observed == pytest.approx(np.exp(AllenCahn.KINK_DECAY * t[k]), rel=0.05)
    assert observed != pytest.approx(1.0, rel=0.5)  # the plain particular u0(x) would keep it at 1

    problem = AllenCahn()
    model = PINN(problem, width=8, depth=2, n_interior=64, iterations=1, lbfgs_iterations=0, dtype="float32",
                 progress=False).build_model()
    pts = torch.tensor([[-1.0, 0.0], [-0.3, 0.0], [0.7, 0.0]], dtype=torch.float32)
    assert torch.allclose(model(pts)[:, 0], problem.initial(pts), atol=1e-6)
    later = pts + torch.tensor([0.0, 0.5])
    assert not torch.allclose(model(later)[:, 0], problem.initial(later), atol=1e-3)
    # the slope's jump across the periodic boundary is u0's, 2 - (-2), times exp(-10 t): the network is smooth there
    ends = torch.tensor([[-1.0, 0.1], [1.0, 0.1]], requires_grad=True)
    (slope,) = torch.autograd.grad(model(ends).sum(), ends)
    assert float(slope[0, 0] - slope[1, 0]) == pytest.approx(4.0 * np.exp(-1.0), rel=1e-4)

