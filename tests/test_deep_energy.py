"""The deep-energy solver against closed forms: Poisson's Dirichlet energy, a disk by Monte Carlo,
the 1-D phase-field crack profiles (AT2, AT1) and the homogeneous bar's peak stress (AT2, AT1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import sciml
from sciml import registry
from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.problem import Problem, Reference
from sciml.problems.fracture import (DamagedBar, PhaseField1D, bar_damage, bar_peak, crack_profile, crack_surface,
                                     measured_crack_surface)
from sciml.problems.poisson import Poisson
from sciml.solvers.deep_energy import DeepEnergy, gauss_legendre
from sciml.training import TrainConfig, Trainer, TrainingDiverged


def train(problem, **settings):
    return DeepEnergy(problem, progress=False, **settings).train()


# -- quadrature and closed forms ---------------------------------------------------------------------
def test_gauss_legendre_integrates_polynomials_exactly_on_a_box():
    points, weights = gauss_legendre([0.0, -1.0], [2.0, 0.5], cells=3, order=4)
    assert points.shape == (144, 2) and weights.shape == (144,)
    assert weights.sum() == pytest.approx(3.0, rel=1e-14)
    # ∫₀² x⁷ dx ∫_{-1}^{0.5} y⁶ dy = (2⁸ / 8) (0.5⁷ + 1) / 7: degree 7 per axis is exact with 4 nodes.
    exact = 2 ** 8 / 8 * (0.5 ** 7 + 1) / 7
    assert np.sum(weights * points[:, 0] ** 7 * points[:, 1] ** 6) == pytest.approx(exact, rel=1e-13)


@pytest.mark.parametrize("model", ["at2", "at1"])
def test_measured_crack_surface_of_the_closed_form_profile(model):
    l, a = 0.015, 0.06
    gamma = measured_crack_surface(lambda x: crack_profile(x[:, 0], model, l, a)[:, None], model, l, a)
    assert gamma == pytest.approx(crack_surface(model, l, a), abs=1e-6)
    # any other admissible profile costs more: the closed form minimises Γ
    wider = measured_crack_surface(lambda x: crack_profile(x[:, 0] / 1.2, model, l, a)[:, None], model, l, a)
    assert wider > gamma + 1e-3


@pytest.mark.parametrize("model", ["at2", "at1"])
def test_bar_closed_forms_minimise_the_energy_and_peak_at_sigma_c(model):
    E, G_c, l = 210.0, 2.7e-3, 0.015
    c_w = 2.0 if model == "at2" else 8.0 / 3.0
    strain = np.linspace(1e-3, 0.05, 50)
    d = np.linspace(0.0, 1.0, 100001)[:, None]
    psi = 0.5 * (1 - d) ** 2 * E * strain ** 2 + G_c * (d * d if model == "at2" else d) / (c_w * l)
    brute = d[np.argmin(psi, axis=0), 0]  # the minimiser over d at each strain, by search
    assert np.abs(brute - bar_damage(strain, model, E, G_c, l)).max() < 2e-5
    strain = np.linspace(0.0, 0.05, 20001)
    sigma = (1 - bar_damage(strain, model, E, G_c, l)) ** 2 * E * strain
    peak, at = bar_peak(model, E, G_c, l)
    assert sigma.max() == pytest.approx(peak, rel=2e-4)  # AT1 peaks at a corner: the grid step, 2.5e-6, counts
    assert strain[np.argmax(sigma)] == pytest.approx(at, rel=1e-3)


# -- the solver ---------------------------------------------------------------------------------------
def test_poisson_dirichlet_energy_reproduces_the_exact_solution():
    result = train(Poisson(frequency=1.0), width=32, depth=3, n_interior=1024, iterations=500,
                   lbfgs_iterations=500, compile=False)
    assert result.errors()["rel_l2"] < 1e-3  # measured 1.9e-4
    assert result.history[-1]["loss"] == pytest.approx(-0.125, abs=1e-5)  # the minimum, −∫ f u / 2


class Torsion(Problem):
    """−Δu = 1 on the unit disk, u = 0 on its edge: u = (1 − r²)/4, energy ∫ |∇u|²/2 − u = −π/16."""

    name = "torsion-test"
    inputs, outputs = ("x", "y"), ("u",)

    def geometry(self):
        return dde().Disk([0.0, 0.0], 1.0)

    def energy(self, f):
        return 0.5 * (f.d("u", "x") ** 2 + f.d("u", "y") ** 2) - f["u"]

    def constraint(self):
        return HardConstraint(lambda x: torch.zeros_like(x[:, :1]), lambda x: 1 - (x ** 2).sum(1, keepdim=True))

    def reference(self):
        x = np.random.default_rng(1).uniform(-0.7, 0.7, (500, 2))
        return Reference(x, (1 - (x ** 2).sum(1, keepdims=True)) / 4, "exact")


def test_monte_carlo_on_a_disk():
    solver = DeepEnergy(Torsion(), width=16, depth=2, n_interior=1024, iterations=300, resample_every=1,
                        lr=1e-2, schedule="cosine", compile=False, progress=False)
    assert solver.rule == "monte-carlo"
    result = solver.train()
    assert solver.interior.aux["weight"].sum().item() == pytest.approx(math.pi, rel=1e-2)  # the disk's area
    assert result.errors()["rel_l2"] < 3e-2  # measured 1.2e-2


def test_phase_field_1d_at2():
    p = PhaseField1D(model="at2", l=0.015, a=0.06)
    result = train(p, iterations=1000, lbfgs_iterations=500)
    assert result.errors()["rel_l2"] < 1e-2  # measured 7.6e-4
    m = p.metrics(result.predict)
    assert abs(m["gamma"] - math.tanh(0.06 / 0.015)) < 1e-3  # measured 7.3e-6
    assert result.predict(np.zeros((1, 1)))[0, 0] == pytest.approx(1.0, abs=1e-12)


def test_phase_field_1d_at1_keeps_d_non_negative_and_round_trips(tmp_path):
    p = PhaseField1D(model="at1", l=0.015, a=0.06)
    result = train(p, iterations=500, lbfgs_iterations=200)
    assert result.errors()["rel_l2"] < 2e-2  # measured 1.2e-5
    x = np.linspace(-0.06, 0.06, 2001)[:, None]
    d = result.predict(x)[:, 0]
    assert d.min() >= 0.0 and np.all(d[np.abs(x[:, 0]) > 0.035] == 0.0)  # zero outside the support 2 l
    result.save(tmp_path)
    np.testing.assert_array_equal(sciml.load(tmp_path).predict(x), result.predict(x))


@pytest.mark.parametrize("model", ["at2", "at1"])
def test_damaged_bar_peak_stress(model, tmp_path):
    p = DamagedBar(model=model)
    result = train(p, iterations=1000, lbfgs_iterations=500)
    m = p.metrics(result.predict)
    assert abs(m["peak_stress_rel_error"]) < 1e-2  # measured -9e-4 (AT2), -2.4e-3 (AT1)
    assert m["peak_stress_closed_form"] == pytest.approx(bar_peak(model, 210.0, 2.7e-3, 0.015)[0])
    assert m["healing"] == 0.0
    assert [f.name for f in p.figures(result.predict, tmp_path)] == ["stress_strain.png"]


def test_bad_input_is_one_clear_sentence():
    with pytest.raises(ValueError, match="declares no energy"):
        DeepEnergy(registry.problem("burgers")())
    with pytest.raises(ValueError, match="a must be >= 2 l"):
        PhaseField1D(model="at1", l=0.02, a=0.03)
    with pytest.raises(ValueError, match="max_strain must be >= 1.5 x the peak strain"):
        DamagedBar(max_strain=0.01)
    with pytest.raises(ValueError, match="quadrature 'gauss' needs an interval or box"):
        DeepEnergy(Torsion(), quadrature="gauss")
    with pytest.raises(ValueError, match="quadrature must be one of"):
        DeepEnergy(Poisson(), quadrature="simpson")


@pytest.mark.parametrize("make", [
    lambda: DeepEnergy(DamagedBar(model="at1"), width=8, depth=2, n_interior=64, iterations=6, lbfgs_iterations=4,
                       lbfgs_chunk=2, checkpoint_every=2, progress=False),
    lambda: DeepEnergy(Torsion(), width=8, depth=2, n_interior=64, iterations=6, resample_every=2, compile=False,
                       checkpoint_every=2, progress=False),
], ids=["gauss", "monte-carlo"])
def test_resumes_exactly(tmp_path, make, interrupt_after):
    full = make().train(out=tmp_path / "full")
    first = make().train(out=tmp_path / "cut", callbacks=[interrupt_after(4)])
    assert first.interrupted
    resumed = make().train(out=tmp_path / "cut", resume=True)
    assert [(h["phase"], h["step"], h["loss"]) for h in resumed.history] == \
        [(h["phase"], h["step"], h["loss"]) for h in full.history]


def test_the_divergence_guard_takes_a_negative_energy():
    """An energy may be negative; a jump far above the best (negative) loss still stops training."""
    model = torch.nn.Linear(1, 1)
    calls = {"n": 0}

    def loss():
        calls["n"] += 1
        level = -1.0 - 1e-3 * calls["n"] if calls["n"] < 5 else 1e9
        return {"energy": level + 0 * model.weight.sum()}

    trainer = Trainer(model, loss, TrainConfig(iterations=10, checkpoint_every=0, progress=False))
    with pytest.raises(TrainingDiverged, match="raised by"):
        trainer.run()
    assert calls["n"] == 5


# -- sent by deep energy: the load-stepped energy, its sampling and its reaction ----------------------
def _homogeneous(problem, strain: float, damage: float, n: int = 64):
    from sciml.fields import AutogradFields

    x = torch.as_tensor(np.random.default_rng(0).uniform(-0.5, 0.5, (n, 2)))
    model = lambda p: torch.stack([torch.zeros_like(p[:, 0]), strain * (p[:, 1] + 0.5),  # noqa: E731
                                   torch.full_like(p[:, 0], damage)], dim=1)
    return AutogradFields(model, x, problem.inputs, problem.outputs)


@pytest.mark.parametrize("split", ["none", "spectral", "amor"])
def test_sent_energy_gives_the_finite_elements_damage_and_reaction(split):
    from sciml.classical.phasefield_fem import Material, PhaseField, sent_mesh
    from sciml.problems.fracture import Sent

    problem, strain = Sent(split=split), 4e-3
    f = _homogeneous(problem, strain, 0.0)
    fe = PhaseField(sent_mesh(0.05, band=0.1, h_max=0.1), Material(), split)
    u = np.zeros((len(fe.mesh.nodes), 2))
    u[:, 1] = strain * (fe.mesh.nodes[:, 1] + 0.5)
    psi_plus, _ = fe.energies(u.ravel())
    np.testing.assert_allclose(problem.driving_energy(f).detach().numpy(), psi_plus[0], rtol=1e-10)
    # the damage term's minimiser at a uniform history H is the finite elements' uniform d = 2H / (G_c/l + 2H)
    H = float(psi_plus[0])
    levels = np.linspace(0.0, 1.0, 2001)
    fracture = [float(problem.energy(_homogeneous(problem, 0.0, c, 4), torch.full((4,), H, dtype=torch.float64))
                      ["fracture"][0].detach()) for c in levels]
    m = Material()
    assert levels[int(np.argmin(fracture))] == pytest.approx(2 * H / (m.G_c / m.l + 2 * H), abs=1e-3)
    # the load of a homogeneous uniaxial strain: ∫ σ_yy dA = (λ + 2μ) ε over the unit square, degraded by g(d)
    assert float(problem.reaction_density(f).detach().mean()) == pytest.approx((1 + m.k) * (m.lam + 2 * m.mu) * strain,
                                                                               rel=1e-10)
    g = _homogeneous(problem, strain, 0.5)
    assert float(problem.reaction_density(g).detach().mean()) == pytest.approx((0.25 + m.k) * (m.lam + 2 * m.mu) * strain,
                                                                               rel=1e-10)


def test_sent_importance_sampling_is_unbiased_and_the_notch_history_is_borden_s():
    from sciml.problems.fracture import Sent

    problem = Sent()
    l = problem.l
    estimates = []
    for seed in range(20):
        points, weights = problem.sample_quadrature(4000, np.random.default_rng(seed))
        assert points.min() >= -0.5 and points.max() <= 0.5
        estimates.append(float(np.sum(weights * np.exp(-np.abs(points[:, 1]) / l))))
    exact = 2 * l * (1 - math.exp(-0.5 / l))  # ∫∫ exp(-|y|/l) over the unit square
    assert np.mean(estimates) == pytest.approx(exact, rel=5e-3)
    assert np.sum(weights) == pytest.approx(1.0, rel=0.05)
    h0 = problem.initial_history(np.array([[-0.3, 0.0], [-0.3, l / 4], [-0.3, l], [0.3, 0.0], [0.0, 0.0]]))
    peak = 1e3 * problem.G_c / (4 * l)
    np.testing.assert_allclose(h0, [peak, peak / 2, 0.0, 0.0, peak])


def test_sent_load_steps_start_from_the_last_step_s_network(tmp_path):
    """Transfer between load steps: the second step's single Adam step moves each weight by at most the learning
    rate (1e-3), so its network is far from the seed's fresh one only if it started from the first step's 30."""
    from sciml.problems.fracture import Sent

    settings = dict(load_steps=2, iterations=30, step_iterations=1, n_interior=1000, progress=False)
    result = sciml.run("sent", "deep-energy", **settings)
    fresh = DeepEnergy(Sent(load_steps=2), **{k: v for k, v in settings.items() if k != "load_steps"})
    from sciml.training import seed_everything

    seed_everything(0)
    untrained = fresh.build_model().body.state_dict()
    trained = result.model.body.state_dict()
    change = max(float((trained[k] - untrained[k]).abs().max()) for k in trained)
    assert change > 5e-3
    assert len(result.force) == 2 and result.force[1] > result.force[0] > 0
    assert (result.history[-1]["load_step"], result.history[0]["load_step"]) == (1, 0)
