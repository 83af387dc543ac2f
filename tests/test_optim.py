"""Second-order optimisers (sciml.optim): each reaches a known optimum that gradient descent with the
same line search and the same number of steps does not; the line search's claims hold; the trainer
runs them as the phase after Adam, resumes them exactly and stops on NaN."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.optim import METHODS, NaturalGradient, QuasiNewton, point_jacobian, strong_wolfe
from sciml.training import TrainConfig, Trainer, TrainingDiverged

pytestmark = pytest.mark.usefixtures("float64_default")


def _quadratic(n=20, condition=1e4, seed=0):
    """f(x) = ½ (x - x*)ᵀ A (x - x*), A with eigenvalues from 1 to ``condition``."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    A = q @ torch.diag(torch.logspace(0, math.log10(condition), n, dtype=torch.float64)) @ q.T
    x_star = torch.randn(n, generator=gen, dtype=torch.float64)

    def evaluate(x):
        e = x - x_star
        return float(0.5 * e @ A @ e), A @ e
    return evaluate, x_star


def _rosenbrock_residuals(x):
    """Extended Rosenbrock as least squares: r = [10 (x₂ᵢ₊₁ - x₂ᵢ²), 1 - x₂ᵢ], optimum x = 1, Σ r² = 0."""
    return torch.cat([10 * (x[1::2] - x[::2] ** 2), 1 - x[::2]])


def _rosenbrock(x):
    x = x.detach().requires_grad_(True)
    r = _rosenbrock_residuals(x)
    f = (r ** 2).sum()
    (g,) = torch.autograd.grad(f, x)
    return float(f.detach()), g


ROSENBROCK_START = torch.tensor([-1.2, 1.0] * 4, dtype=torch.float64)


class _GradientSteps(QuasiNewton):
    """The same driver and line search with H never updated: steepest descent."""

    def _update(self, s, y, g, alpha):
        self.scaled = True


def _minimise(optimizer, evaluate, x, steps):
    for _ in range(steps):
        x = optimizer.step(x, evaluate)
    return x


@pytest.mark.parametrize("method", METHODS)
def test_quasi_newton_solves_an_ill_conditioned_quadratic_where_gradient_descent_cannot(method):
    evaluate, x_star = _quadratic()
    x0 = torch.zeros_like(x_star)
    x = _minimise(QuasiNewton(x0.numel(), method), evaluate, x0, 150)
    assert torch.linalg.norm(x - x_star) < 1e-8 * torch.linalg.norm(x_star)
    x_gd = _minimise(_GradientSteps(x0.numel(), method), evaluate, x0, 150)
    assert torch.linalg.norm(x_gd - x_star) > 1e-2 * torch.linalg.norm(x_star)


@pytest.mark.parametrize("method", METHODS)
def test_quasi_newton_finds_the_rosenbrock_minimum(method):
    x = _minimise(QuasiNewton(8, method), _rosenbrock, ROSENBROCK_START.clone(), 150)
    assert torch.allclose(x, torch.ones(8, dtype=torch.float64), atol=1e-7, rtol=0)
    x_gd = _minimise(_GradientSteps(8, method), _rosenbrock, ROSENBROCK_START.clone(), 150)
    assert (x_gd - 1).abs().max() > 1e-2


def _natural_gradient_run(gauss_newton: bool, steps: int) -> torch.Tensor:
    opt = NaturalGradient()
    x = ROSENBROCK_START.clone()
    for _ in range(steps):
        r = _rosenbrock_residuals(x)
        J = torch.autograd.functional.jacobian(_rosenbrock_residuals, x)
        if not gauss_newton:  # the same step-size grid along the gradient direction Jᵀr
            opt.direction = lambda r, J: J.T @ r
        x = opt.step(x, r, J, lambda z: float((_rosenbrock_residuals(z) ** 2).sum()))
    return x


def test_natural_gradient_solves_least_squares_where_the_gradient_direction_cannot():
    assert torch.allclose(_natural_gradient_run(True, 30), torch.ones(8, dtype=torch.float64), atol=1e-10, rtol=0)
    assert (_natural_gradient_run(False, 30) - 1).abs().max() > 1e-3


def test_natural_gradient_solves_a_linear_least_squares_problem_in_one_step():
    gen = torch.Generator().manual_seed(1)
    A = torch.randn(30, 6, generator=gen, dtype=torch.float64) @ torch.diag(torch.logspace(0, 3, 6, dtype=torch.float64))
    b = torch.randn(30, generator=gen, dtype=torch.float64)
    x_star = torch.linalg.lstsq(A, b).solution
    x = NaturalGradient(damping=0.0, adaptive=False, min_damping=0.0).step(torch.zeros(6, dtype=torch.float64), -b, A,
                                         lambda z: float(((A @ z - b) ** 2).sum()))
    assert torch.allclose(x, x_star, atol=1e-10, rtol=0)


@pytest.mark.parametrize("alpha", [1e-4, 1.0, 50.0])
@pytest.mark.parametrize("seed", range(4))
def test_line_search_steps_satisfy_the_strong_wolfe_conditions_they_claim(alpha, seed):
    # Along the negative gradient from points of the Rosenbrock valley, with first trial steps far
    # too short (extrapolation), reasonable, and far too long (zoom).
    gen = torch.Generator().manual_seed(seed)
    x = ROSENBROCK_START + 0.5 * torch.randn(8, generator=gen, dtype=torch.float64)
    f0, g0 = _rosenbrock(x)
    d = -g0
    c1, c2 = 1e-4, 0.9
    result = strong_wolfe(_rosenbrock, x, f0, g0, d, alpha, c1, c2)
    assert result.wolfe and result.alpha > 0
    f, g = _rosenbrock(x + result.alpha * d)
    assert f == pytest.approx(result.f, rel=1e-12) and torch.allclose(g, result.g)
    assert f <= f0 + c1 * result.alpha * float(g0 @ d)
    assert abs(float(g @ d)) <= c2 * abs(float(g0 @ d))


def test_line_search_claims_no_wolfe_step_when_it_has_none():
    # f = -x on [0, ∞) has no point of zero slope: the curvature condition never holds.
    def evaluate(x):
        return float(-x.sum()), -torch.ones_like(x)
    result = strong_wolfe(evaluate, torch.zeros(1), 0.0, -torch.ones(1), torch.ones(1), 1.0, max_evaluations=6)
    assert not result.wolfe and result.alpha > 1.0


def test_point_jacobian_matches_autograd_rows():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    x = torch.randn(7, 2)
    r, J = point_jacobian(net, lambda z: net(z), x)
    out = net(x).reshape(-1)
    assert torch.allclose(r, out.detach())
    for i in (0, 5, 13):
        row = torch.cat([g.reshape(-1) for g in torch.autograd.grad(out[i], list(net.parameters()), retain_graph=True)])
        assert torch.allclose(J[i], row, atol=1e-14)


# -- the trainer's second-order phases ---------------------------------------------------------------

def _pinn(optimizer, **extra):
    from sciml.problems import Burgers, Poisson
    from sciml.solvers import PINN

    if optimizer == "engd":
        return PINN(Poisson(frequency=1.0), width=8, depth=1, n_interior=60, iterations=3, optimizer="engd",
                    second_order_iterations=12, lbfgs_chunk=3, dtype="float64", progress=False, device="cpu", **extra)
    return PINN(Burgers(), width=8, depth=2, n_interior=200, n_boundary=30, iterations=6, optimizer=optimizer,
                second_order_iterations=16, lbfgs_chunk=3, resample_every=4, dtype="float64", compile=False,
                progress=False, device="cpu", **extra)


@pytest.mark.parametrize("optimizer", ["ssbroyden", "engd"])
def test_second_order_phase_resumes_exactly(tmp_path, optimizer):
    import os
    import signal

    full = _pinn(optimizer).train(out=tmp_path / "full")
    phases = [h["phase"] for h in full.history]
    assert phases[0] == "adam" and phases[-1] == optimizer
    assert full.history[-1]["loss"] < 0.5 * full.history[len([p for p in phases if p == "adam"]) - 1]["loss"]

    def interrupt(trainer, record):
        if record["phase"] == optimizer and record["step"] == 6:
            os.kill(os.getpid(), signal.SIGINT)
    cut = _pinn(optimizer).train(out=tmp_path / "cut", callbacks=[interrupt])
    assert cut.interrupted and len(cut.history) < len(full.history)
    resumed = _pinn(optimizer).train(out=tmp_path / "cut", resume=True)
    assert [(h["phase"], h["step"], h["loss"]) for h in resumed.history] == \
        [(h["phase"], h["step"], h["loss"]) for h in full.history]


def test_a_nan_in_the_quasi_newton_phase_stops_training_and_restores_the_last_good_state(tmp_path):
    model = torch.nn.Linear(3, 1)
    calls = {"n": 0}

    def loss_fn():
        calls["n"] += 1
        loss = ((model(torch.eye(3)) - 1) ** 2).sum()
        return {"fit": loss * (math.nan if calls["n"] > 10 else 1.0)}

    config = TrainConfig(iterations=2, optimizer="ssbfgs", second_order_iterations=50, lbfgs_chunk=2,
                         checkpoint_every=2, progress=False)
    trainer = Trainer(model, loss_fn, config, checkpoint=tmp_path / "ck.pt")
    with pytest.raises(TrainingDiverged, match="not finite at ssbfgs step"):
        trainer.run()
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_second_order_settings_are_checked():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="newton")
    with pytest.raises(ValueError, match="with optimizer='adam-lbfgs' give lbfgs_iterations"):
        TrainConfig(second_order_iterations=10)
    with pytest.raises(ValueError, match="'engd' needs the residual Jacobian"):
        Trainer(torch.nn.Linear(2, 1), lambda: {}, TrainConfig(optimizer="engd", progress=False))


def test_the_optimizer_flag_reaches_the_solver_settings_in_float64():
    from sciml.cli import parse_run

    _, _, settings = parse_run(["burgers", "--optimizer", "ssbroyden", "--second-order-iterations", "300",
                                "--width", "20", "--resample-every", "500"])
    assert settings["optimizer"] == "ssbroyden" and settings["dtype"] == "float64"
    assert settings["second_order_iterations"] == 300 and settings["width"] == 20 and settings["resample_every"] == 500
    _, _, settings = parse_run(["burgers", "--optimizer", "engd", "--dtype", "float32"])
    assert settings["dtype"] == "float32"
    _, _, settings = parse_run(["burgers"])
    assert "optimizer" not in settings and "dtype" not in settings


@pytest.mark.parametrize("enforce", ["hard", "soft"])
def test_pinn_residual_jacobian_matches_the_loss_and_its_gradient(enforce):
    # Σ r² is the loss (every term, conditions included, with its weight), and Jᵀ(2r) its gradient.
    from sciml.problems import Burgers
    from sciml.solvers import PINN

    solver = PINN(Burgers(enforce=enforce), width=6, depth=2, n_interior=40, n_boundary=10, dtype="float64",
                  compile=False, progress=False, device="cpu", weights={"residual": 3.0})
    solver.setup()
    r, J = solver.residual_jacobian()
    loss = sum(solver.loss().values())
    grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(solver.model.parameters()))])
    assert float(r @ r) == pytest.approx(float(loss.detach()), rel=1e-12)
    assert torch.allclose(J.T @ (2 * r), grad, rtol=1e-10, atol=1e-13)
