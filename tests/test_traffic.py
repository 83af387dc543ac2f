"""The traffic problems: residuals against exact solutions, the ring road's reference in physical units
against an independent Godunov solve, the detectors' layout and the interpolation baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml import inverse
from sciml.classical import lwr
from sciml.fields import AutogradFields
from sciml.problems.traffic import Traffic, TrafficRiemann
from sciml.solvers import PINN


def _points(problem, n=300, seed=0):
    lo = torch.tensor([-1.0, 0.0], dtype=torch.float64)
    span = torch.tensor([2.0, problem.duration], dtype=torch.float64)
    return torch.rand(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * span + lo


def test_riemann_residual_vanishes_on_the_exact_travelling_wave():
    problem = TrafficRiemann(rho_l=0.15, rho_r=0.6, v_f=1.3, rho_m=0.9, eps=0.01)
    s = problem.v_f * (1 - (problem.rho_l + problem.rho_r) / problem.rho_m)
    k = problem.v_f * (problem.rho_r - problem.rho_l) / (2 * problem.eps * problem.rho_m)

    def wave(x):
        z = x[:, 0] - s * x[:, 1]
        return (0.5 * (problem.rho_l + problem.rho_r) + 0.5 * (problem.rho_r - problem.rho_l) * torch.tanh(k * z))[:, None]

    f = AutogradFields(wave, _points(problem), problem.inputs, problem.outputs)
    scale = (problem.eps * f.d("rho", "x", "x")).abs().max()
    assert scale > 1.0  # a steep wave: the terms are large
    assert problem.residual(f).abs().max() / scale < 1e-12
    # the residual is not zero for a wrong free-flow speed: the test can fail
    wrong = TrafficRiemann(rho_l=0.15, rho_r=0.6, v_f=1.4, rho_m=0.9, eps=0.01)
    assert wrong.residual(f).abs().max() / scale > 1e-2
    # and the problem's reference is that wave (its initial state too)
    ref = problem.reference()
    exact = wave(torch.as_tensor(ref.points))[:, 0].numpy()
    assert np.abs(ref.values[:, 0] - exact).max() < 1e-12
    at_start = torch.as_tensor(ref.points[ref.points[:, 1] == 0])
    assert torch.allclose(problem.initial(at_start), wave(at_start)[:, 0], atol=1e-14)


def test_riemann_hard_constraint_holds_the_initial_and_end_states():
    problem = TrafficRiemann(rho_l=0.7, rho_r=0.2, eps=0.0)  # a fan: the initial state is the step
    model = PINN(problem, dtype="float64", device="cpu", progress=False, seed=1).build_model()
    x = torch.tensor([[-0.5, 0.0], [0.5, 0.0], [-1.0, 0.4], [1.0, 0.7]], dtype=torch.float64)
    with torch.no_grad():
        rho = model(x)[:, 0]
    assert torch.allclose(rho, torch.tensor([0.7, 0.2, 0.7, 0.2], dtype=torch.float64), atol=1e-14)
    ref = problem.reference()
    assert ref.source == "exact inviscid rarefaction fan"
    # the fan rho = (1 - x / t) / 2 inside -0.4 t < x < 0.6 t
    inside = (ref.points[:, 1] > 0) & (np.abs(ref.points[:, 0] - 0.1 * ref.points[:, 1]) < 0.4 * ref.points[:, 1])
    assert np.allclose(ref.values[inside, 0], 0.5 * (1 - ref.points[inside, 0] / ref.points[inside, 1]))


@pytest.mark.parametrize("params, message", [
    ({"rho_l": 1.2}, "rho_l must be <= rho_m"),
    ({"rho_l": 0.4, "rho_r": 0.4}, "must differ"),
    ({"rho_l": 0.5, "rho_r": 0.0, "duration": 1.0}, "reach the road.s ends"),
    ({"eps": -0.1}, "eps must be >= 0"),
])
def test_riemann_rejects_bad_states_in_one_sentence(params, message):
    with pytest.raises(ValueError, match=message):
        TrafficRiemann(**params)


def test_ring_road_residual_is_the_viscous_lwr_equation():
    problem = Traffic(v_f=25.0, rho_m=0.12, eps=40.0, length=800.0, duration=60.0)

    def field(x):  # an arbitrary smooth, periodic density
        return (0.05 + 0.02 * torch.sin(2 * np.pi * x[:, 0] / problem.length) * torch.cos(x[:, 1] / 9))[:, None]

    x = torch.rand(100, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * torch.tensor(
        [problem.length, problem.duration], dtype=torch.float64)
    f = AutogradFields(field, x, problem.inputs, problem.outputs)
    rho, rho_t, rho_x, rho_xx = f["rho"], f.d("rho", "t"), f.d("rho", "x"), f.d("rho", "x", "x")
    expected = rho_t + problem.v_f * (1 - 2 * rho / problem.rho_m) * rho_x - problem.eps * rho_xx
    scale = problem.length / (problem.rho_m * problem.v_f)  # to the scaled ring road's residual
    assert problem.residual_scale == pytest.approx(scale)
    assert torch.allclose(problem.residual(f), scale * expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("enforce", ["hard", "soft"])
def test_ring_road_in_physical_units_trains_as_the_scaled_one(enforce):
    """Residual, data and initial-condition terms are scaled so that a ring road in physical units (here
    1 km, v_f = 30 m/s, rho_m = 0.15 veh/m, identifying eps from a guess twice its value) and the
    dimensionless default are the same training problem: same loss history, same scaled eps."""
    def train(**params):
        problem = Traffic(enforce=enforce, **params)
        problem.given(inverse.sample_observations(problem, sensors=5))
        problem.identify(["eps"], {"eps": 2 * problem.eps})
        settings = dict(width=16, depth=2, n_interior=256, iterations=15, lbfgs_iterations=0, progress=False,
                        dtype="float64", seed=3)
        return PINN(problem, **settings).train()

    scaled, physical = train(), train(length=1000.0, v_f=30.0, rho_m=0.15, eps=150.0, duration=100.0)
    a = np.array([r["loss"] for r in scaled.history])
    b = np.array([r["loss"] for r in physical.history])
    assert a[-1] < 0.9 * a[0]  # it trained
    assert np.allclose(b, a, rtol=1e-6)
    assert physical.history[-1]["identified"]["eps"] / (1000.0 * 30.0) == pytest.approx(
        scaled.history[-1]["identified"]["eps"], rel=1e-6)


def test_ring_road_in_physical_units_is_the_scaled_bundled_solution():
    """A 1 km ring at v_f = 30 m/s, rho_m = 0.15 veh/m, eps = 150 m^2/s over 100 s is the default ring
    road in scaled form: its reference (the bundled field, scaled) must agree with an independent
    Godunov solve in physical units on 600 cells, whose own error is about 4e-3."""
    problem = Traffic(length=1000.0, v_f=30.0, rho_m=0.15, eps=150.0, duration=100.0)
    assert problem.scaled == pytest.approx((0.005, 3.0))
    ref = problem.reference()
    assert "bundled" in ref.source and ref.grid["t"][-1] == pytest.approx(100.0)
    n = 600
    rho0 = lwr.cell_averages(lambda x: 0.15 * (0.05 + 0.9 * np.exp(-100 * (x / 1000 - 0.5) ** 2)), n, 0.0, 1000.0)
    times = ref.grid["t"][::30]
    cells = lwr.godunov(rho0, times, 0.0, 1000.0, v_f=30.0, rho_m=0.15, eps=150.0)
    centres = lwr.cell_centres(n, 0.0, 1000.0)
    ours = ref.values[:, 0].reshape(len(ref.grid["t"]), -1)[::30]
    theirs = np.stack([np.interp(ref.grid["x"], centres, row, period=1000.0) for row in cells])
    err = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
    assert err < 1e-2
    # a wrong time scale would not agree: the test can fail
    assert np.linalg.norm(ours[1:] - theirs[:-1]) / np.linalg.norm(theirs) > 5 * err


def test_ring_road_off_the_bundled_case_is_solved_on_the_fly():
    problem = Traffic(eps=0.01, duration=0.5)
    ref = problem.reference()
    assert "Richardson of 1200/2400" in ref.source
    rho = ref.values[:, 0].reshape(len(ref.grid["t"]), -1)
    assert np.allclose(rho[0], lwr.ring_road_initial(ref.grid["x"]))
    # mass is conserved on the ring (to the face interpolation's accuracy)
    assert np.abs(rho.mean(axis=1) - rho[0].mean()).max() < 1e-6


def test_detectors_on_the_ring_start_at_its_origin_and_interpolation_misses_the_bump():
    problem = Traffic()
    problem.given(inverse.sample_observations(problem, sensors=5))
    assert np.allclose(problem.detectors(), [0.0, 0.2, 0.4, 0.6, 0.8])
    ref = problem.reference()
    obs = problem.observations
    # the baseline passes through the observations ...
    assert np.allclose(problem.interpolated(obs.points), obs.values[:, 0], atol=1e-12)
    # ... and between the loops misses the bump: 0.27 relative L2 over the field (the figure)
    assert problem.metrics(None)["interpolation_rel_l2"] == pytest.approx(0.268, abs=2e-3)
    # between two observed times it is linear in time
    t = np.unique(obs.points[:, 1])
    mid = np.array([[0.3, 0.5 * (t[10] + t[11])]])
    ends = problem.interpolated(np.array([[0.3, t[10]], [0.3, t[11]]]))
    assert problem.interpolated(mid)[0] == pytest.approx(ends.mean())
    assert len(ref.points) == 600 * 301


def test_detectors_figure_marks_the_loops(tmp_path):
    problem = Traffic()
    problem.given(inverse.sample_observations(problem, sensors=3))
    ref = problem.reference()
    lookup = {tuple(p): v for p, v in zip(map(tuple, ref.points), ref.values)}
    paths = problem.figures(lambda pts: np.stack([lookup[tuple(p)] for p in pts]), tmp_path)
    assert [p.name for p in paths] == ["detectors.png"] and paths[0].stat().st_size > 10_000
    assert Traffic().figures(None, tmp_path) == []  # no detectors, no figure
