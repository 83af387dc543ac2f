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
