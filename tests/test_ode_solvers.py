"""ODE problems against independent references (SciPy's DOP853, energy conservation), and the
neural-ode, hypersolver and controller solvers on short budgets: real accuracy gains, parameter
identification, save/load round trips and the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

import sciml
from sciml.cli import main
from sciml.integrate import odeint
from sciml.problems.lorenz import Lorenz
from sciml.problems.pendulum import Pendulum, PendulumControl
from sciml.solvers.controller import Controller
from sciml.solvers.hypersolver import Correction, HyperSolver
from sciml.solvers.neural_ode import NeuralODE
from sciml.training import seed_everything


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_lorenz_trajectories_match_scipy_dop853():
    p = Lorenz()
    x0 = p.held_out(3)
    t = np.linspace(0.0, 1.0, 11)
    ours = p.trajectories(x0, torch.as_tensor(t)).numpy()
    for k in range(3):
        sol = solve_ivp(lambda _, y: [10 * (y[1] - y[0]), y[0] * (28 - y[2]) - y[1], y[0] * y[1] - 8 / 3 * y[2]],
                        (0, 1), x0[k].numpy(), method="DOP853", t_eval=t, rtol=1e-12, atol=1e-12)
        assert np.abs(ours[:, k] - sol.y.T).max() < 1e-6 * np.abs(sol.y).max()


def test_undamped_pendulum_conserves_energy_and_flow_matches_trajectories():
    p = Pendulum(damping=0.0)
    x0 = p.held_out(8)
    t = torch.linspace(0.0, 5.0, 51, dtype=torch.float64)
    ys = p.trajectories(x0, t)
    energy = 0.5 * ys[..., 1] ** 2 - 9.81 * torch.cos(ys[..., 0])
    assert (energy - energy[0]).abs().max() < 1e-8
    dt = torch.full((8,), 0.1, dtype=torch.float64)
    assert torch.allclose(p.flow(x0, dt), ys[1], atol=1e-9)


def test_reference_points_are_time_and_initial_state():
    p = Pendulum()
    ref = p.reference()
    assert ref.points.shape == (64 * 101, 3) and ref.values.shape == (64 * 101, 2)
    assert np.allclose(ref.values[::101], ref.points[::101, 1:])  # x(0) = x0
    control = PendulumControl().reference()
    assert np.all(control.values == 1.0) and control.points[:, 0].min() == pytest.approx(3.0)


def test_hypereuler_beats_euler_after_a_short_fit():
    """500 Adam steps already cut Euler's global error on held-out pendulum trajectories (dt = 0.1 s,
    5 s) several-fold; the validation case trains longer."""
    solver = HyperSolver(Pendulum(), base="euler", iterations=500, n_samples=2048, progress=False)
    result = solver.train()
    metrics = solver.extra_metrics(result)
    assert metrics["error_reduction"] > 3.0, metrics


def test_problem_suggestions_per_solver_reach_only_that_solver():
    """A problem's shared suggestions reach every solver that has the setting; a dict under a solver's
    name reaches that solver only; keywords win; an unknown key there names itself."""

    class Suggesting(Pendulum):
        solver_defaults = {"step_size": 0.02, "neural-ode": {"width": 7, "depth": 1},
                           "hypersolver": {"width": 5, "dt_max": 0.2}}

    ode, hyper = NeuralODE(Suggesting()), HyperSolver(Suggesting(), depth=4)
    assert (ode.settings["width"], ode.settings["depth"], ode.settings["step_size"]) == (7, 1, 0.02)
    assert (hyper.settings["width"], hyper.settings["depth"], hyper.settings["dt_max"], hyper.settings["step_size"]) \
        == (5, 4, 0.2, 0.02)
    # Lorenz suggests 128x3 and 600 steps for the neural ODE; they must not size or budget the hypersolver's g
    assert NeuralODE(Lorenz()).settings["width"] == 128
    lorenz_hyper = HyperSolver(Lorenz()).settings
    assert (lorenz_hyper["width"], lorenz_hyper["iterations"]) != (128, 600), lorenz_hyper
    assert lorenz_hyper["iterations"] == HyperSolver.defaults["iterations"]

    class Misspelt(Pendulum):
        solver_defaults = {"hypersolver": {"widht": 5}}

    with pytest.raises(ValueError, match=r"unknown setting.*'widht'.*Misspelt.solver_defaults\['hypersolver'\]"):
        HyperSolver(Misspelt())
    assert NeuralODE(Misspelt()).settings["width"] == NeuralODE.defaults["width"]


def test_prepared_hypersolver_correction_is_the_plain_one():
    """The fixed-step loop's prepared g (dt, input scaling and dt^(p+1) folded into the weights) gives
    the same trajectories as evaluating g(x, u, dt) as trained; with and without controls."""
    problem = PendulumControl()
    hyper = HyperSolver(problem, base="midpoint", width=8, depth=2).build_model().hyper
    gen = torch.Generator().manual_seed(3)
    x, u = problem.sample_states(256, gen), problem.sample_controls(256, gen)
    hyper.net.fit(hyper.inputs(x, u, torch.rand(256, dtype=torch.float64, generator=gen)), 5 * x)
    x0, t = x[:32], torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    torque = torch.full((32, 1), 2.0, dtype=torch.float64)

    def field(t, x):
        return problem.rhs(t, x, torque)

    def split(x):
        return x, torque

    plain = odeint(field, x0, t, "midpoint", step_size=0.07, correction=lambda t, x, dt: hyper(x, torque, dt))
    prepared = odeint(field, x0, t, "midpoint", step_size=0.07, correction=Correction(hyper, split))
    uncorrected = odeint(field, x0, t, "midpoint", step_size=0.07)
    assert (prepared - plain).abs().max() < 1e-12
    assert (prepared - uncorrected).abs().max() > 1e-3
    # an augmented state: the trailing entry gets no correction
    z0 = torch.cat([x0, torch.zeros(32, 1, dtype=torch.float64)], dim=1)
    g = Correction(hyper, lambda z: (z[:, :2], torque), extra=1).prepare(torch.tensor(0.05, dtype=torch.float64), 1e-3)
    assert torch.allclose(g(None, z0)[:, :2], 1e-3 * hyper(x0, torque, torch.tensor(0.05, dtype=torch.float64)),
                          rtol=1e-12, atol=0) and not g(None, z0)[:, 2].any()


def test_controller_starts_every_method_from_the_same_policy():
    policies = []
    for method in ("dopri5", "hypereuler"):
        seed_everything(0)
        policies.append(Controller(PendulumControl(), method=method).build_model().policy.state_dict())
    assert policies[0].keys() == policies[1].keys()
    assert all(torch.equal(policies[0][k], policies[1][k]) for k in policies[0])


def test_hypersolver_round_trips_through_save_and_load(tmp_path):
    result = sciml.run("pendulum", "hypersolver", base="midpoint", iterations=20, n_samples=256, progress=False,
                       out=tmp_path / "h")
    again = sciml.load(tmp_path / "h")
    points = again.problem.reference().points[:404]
    assert np.array_equal(result.predict(points), again.predict(points))
    metrics = json.loads((tmp_path / "h" / "metrics.json").read_text())
    assert metrics["extra_metrics"]["midpoint_rel_l2"] > 0 and (tmp_path / "h" / "comparison.png").is_file()


def test_hybrid_neural_ode_identifies_damping_and_length():
    """Known pendulum physics (no network: width 0) with damping and length started 3x and 1.5x off;
    fitting irregular observations brings both within 5% of the truth (0.3 N m s/rad, 1 m)."""
    problem = Pendulum().identify(["damping", "length"], {"damping": 0.1, "length": 1.5})
    solver = NeuralODE(problem, hybrid=True, width=0, method="rk4", step_size=0.05,
                       n_trajectories=16, n_observations=50, window=1.0, span=5.0, batch=16, iterations=100,
                       lr=3e-2, progress=False)
    result = solver.train()
    learned = {k: v.item() for k, v in result.model.field.physical.items()}
    assert learned["damping"] == pytest.approx(0.3, rel=0.05) and learned["length"] == pytest.approx(1.0, rel=0.05)


def test_neural_ode_regulariser_and_adjoint_train():
    common = dict(width=16, depth=2, n_trajectories=8, n_observations=40, batch=8, iterations=10, progress=False)
    reg = NeuralODE(Pendulum(), regularise=0.1, **common).train()
    assert reg.history[-1]["local_error"] > 0 and reg.history[-1]["data"] < reg.history[0]["data"]
    adj = NeuralODE(Pendulum(), adjoint=True, **common).train()
    assert adj.history[-1]["data"] < adj.history[0]["data"]


def test_controller_cost_by_euler_converges_to_dopri5():
    """The time-averaged cost integrated with the state: Euler (first order) approaches dopri5's value."""
    solver = Controller(PendulumControl(), method="euler", progress=False)
    model = solver.build_model()
    x0 = PendulumControl().held_out(16)
    with torch.no_grad():
        exact = model.cost(x0, 4.0).mean().item()
        errors = [abs(model.cost(x0, 4.0, method="euler", step_size=h).mean().item() - exact) for h in (0.02, 0.01)]
    assert 1.6 < errors[0] / errors[1] < 2.4 and errors[1] < 0.05 * exact


@pytest.mark.parametrize("settings,message", [
    ({"regularise": 0.1, "method": "rk4", "step_size": 0.01}, "reads dopri5's error estimates"),
])
def test_neural_ode_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        NeuralODE(Pendulum(), **settings)


def test_the_hybrid_neural_ode_learns_identified_parameters_through_sciml_run(tmp_path):
    """`initial_guess` is the inverse-problem keyword of sciml.run for every solver: a hybrid neural ODE takes
    the identified parameters from it (it raised "initial guess given ... which is not identified" while the
    solver had a setting of the same name), records them, and its saved result loads with them trainable."""
    result = sciml.run("pendulum", "neural-ode", hybrid=True, width=0, identify=["damping", "length"],
                       initial_guess={"damping": 0.1, "length": 1.5}, method="rk4", step_size=0.05, n_trajectories=4,
                       n_observations=20, window=1.0, span=5.0, batch=4, iterations=3, lr=3e-2, progress=False,
                       out=tmp_path / "hybrid")
    learned = {k: v.item() for k, v in result.model.field.physical.items()}
    assert set(learned) == {"damping", "length"} and learned["damping"] != 0.1 and learned["length"] != 1.5
    again = sciml.load(tmp_path / "hybrid")
    assert {k: v.item() for k, v in again.model.field.physical.items()} == learned
    with pytest.raises(ValueError, match="hybrid model only: set hybrid=True"):
        sciml.run("pendulum", "neural-ode", identify=["damping"], iterations=1, progress=False)
    with pytest.raises(ValueError, match="takes no observations or conditions"):
        sciml.run("pendulum", "neural-ode", conditions="boundary", iterations=1, progress=False)


def test_cli_runs_ode_problems_with_their_default_solver(tmp_path, capsys):
    out = tmp_path / "node"
    assert main(["run", "pendulum", "--iterations", "3", "--no-progress", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["solver"] == "neural-ode" and math.isfinite(metrics["extra_metrics"]["rollout_nfe"])
    assert "pendulum/neural-ode" in capsys.readouterr().out


def test_controller_trains_through_euler_and_reloads(tmp_path):
    result = sciml.run("pendulum-control", "controller", method="euler", iterations=3, n_initial=64, batch=16,
                       progress=False, out=tmp_path / "c")
    again = sciml.load(tmp_path / "c")
    points = again.problem.reference().points[:42]
    assert np.array_equal(result.predict(points), again.predict(points))
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert 0 < metrics["extra_metrics"]["control_cost_dopri5"] < 3
    # the comparison with the upright state is a distance to a target, reported under its own name
    ref = again.problem.reference()
    height = again.predict(ref.points)
    assert metrics["rel_l2"] is None and "upright_distance" in metrics["problem_metrics"]
    assert metrics["upright_distance"] == pytest.approx(np.linalg.norm(height - 1) / np.linalg.norm(ref.values), rel=1e-9)
