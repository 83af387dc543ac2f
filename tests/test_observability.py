"""The ring-road observability analysis (sciml.validation.observability) on estimates whose answer is known:
the reference itself, and the reference with its initial bump moved (a different PDE solution)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator

from sciml.problems.traffic import Traffic
from sciml.problem import relative_l2
from sciml.validation.observability import agreement, analyse, group_name

SENSORS = np.array([0.0, 0.2, 0.4, 0.6, 0.8])


class Field:
    """A stand-in for a trained result: ``predict`` interpolates a (t, x) field, periodic in x."""

    def __init__(self, t, x, rho):
        self.problem = Traffic()
        wrapped = np.concatenate([rho, rho[:, :1]], axis=1)
        self.interp = RegularGridInterpolator((t, np.append(x, 1.0)), wrapped)

    def predict(self, points):
        return self.interp(np.stack([points[:, 1], points[:, 0] % 1.0], 1))[:, None]


@pytest.fixture(scope="module")
def reference():
    ref = Traffic().reference()
    return ref.grid["t"], ref.grid["x"], ref.values[:, 0].reshape(ref.grid_shape)


def test_the_reference_as_estimate_solves_the_pde_and_matches_at_the_detectors(reference):
    numbers, arrays = analyse(Field(*reference), SENSORS)
    assert numbers["rel_l2"] < 1e-12 and numbers["initial_condition_rel_l2"] < 1e-12
    # Godunov from (interpolated) true data is as far from the estimate as from the reference: 2e-3, first order
    assert numbers["estimate_vs_godunov_from_its_initial_condition"] == pytest.approx(numbers["godunov_vs_reference"],
                                                                                      rel=0.05)
    assert 1e-3 < numbers["godunov_vs_reference"] < 3e-3
    assert numbers["godunov_from_estimate_vs_from_truth_at_detectors"] < 1e-4
    assert arrays["detector_gap"].shape == (len(reference[0]), len(SENSORS))


def test_a_moved_initial_bump_is_another_solution_that_the_detectors_see(reference):
    t, x, rho = reference
    shift = 30  # points of 1/600: the whole solution moved by 0.05 m along the ring, still a solution
    numbers, _ = analyse(Field(t, x, np.roll(rho, shift, axis=1)), SENSORS)
    # a moved solution solves the PDE (its Godunov run from its own rho(x, 0) is it, moved) ...
    assert numbers["estimate_vs_godunov_from_its_initial_condition"] == pytest.approx(numbers["godunov_vs_reference"],
                                                                                      rel=0.05)
    # ... and the detectors see the move: at the detectors as far off as the whole field
    assert numbers["godunov_from_estimate_vs_from_truth_at_detectors"] > 0.3 * numbers["godunov_from_estimate_vs_from_truth"]
    assert numbers["godunov_from_estimate_vs_from_truth"] > 0.1


def test_agreement_measures_how_far_two_estimates_lie_apart_as_errors_are_measured(reference):
    t, x, rho = reference
    moved = np.roll(rho, 30, axis=1)
    early = t < 0.1
    pairs = agreement({"truth": rho, "same": rho.copy(), "moved": moved}, rho, t, 0.1)
    assert [p["runs"] for p in pairs] == [["truth", "same"], ["truth", "moved"], ["same", "moved"]]
    assert pairs[0]["distance"] == 0.0 and pairs[0]["distance_before_0.1s"] == 0.0
    # against the truth, a distance is the other estimate's error, over the field and before 0.1 s
    assert pairs[1]["distance"] == pytest.approx(relative_l2(moved, rho), rel=1e-12) and pairs[1]["distance"] > 0.1
    assert pairs[2]["distance_before_0.1s"] == pytest.approx(relative_l2(moved[early], rho[early]), rel=1e-12)


def test_group_name_is_the_runs_common_case():
    assert group_name(["traffic-5-loops-seed0", "traffic-5-loops-seed1"]) == "traffic-5-loops"
    assert group_name(["traffic-5-loops", "traffic-3-loops"]) == "traffic"
    assert group_name(["a", "b"]) == "a+b"
