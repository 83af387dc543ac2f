"""The integrators against analytic solutions: convergence orders, exact landing on irregular
output times, function-evaluation counts, the hypersolver correction, dopri5 and its adjoint, and
the solver-heuristic regulariser."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.integrate import local_error, odeint

A = torch.tensor([[0.0, 1.0], [-4.0, -0.2]], dtype=torch.float64)
"""A lightly damped oscillator x'' = -4x - 0.2x': x(t) = expm(A t) x0."""


def linear(t, x):
    return x @ A.T


def exact(x0, t):
    return torch.stack([x0 @ torch.linalg.matrix_exp(A * ti).T for ti in t])


@pytest.fixture
def x0():
    return torch.tensor([[1.0, 0.0], [0.3, -2.0], [-1.5, 0.7]], dtype=torch.float64)


@pytest.mark.parametrize("method,order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_methods_converge_at_their_order(method, order, x0):
    t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64)
    ref = exact(x0, t)
    errors = [(odeint(linear, x0, t, method, step_size=h) - ref).abs().max().item() for h in (0.02, 0.01, 0.005)]
    observed = [math.log2(a / b) for a, b in zip(errors[:-1], errors[1:])]
    assert all(abs(o - order) < 0.1 for o in observed), (method, errors, observed)


def test_irregular_output_times_are_hit_exactly_and_evaluations_counted(x0):
    t = torch.tensor([0.0, 0.013, 0.5, 0.52, 1.7], dtype=torch.float64)
    stats = {}
    ys = odeint(linear, x0, t, "rk4", step_size=0.01, stats=stats)
    assert ys.shape == (5, 3, 2)
    assert torch.equal(ys[0], x0)
    # ceil(span / 0.01) steps per interval: 2 + 49 + 2 + 118 = 171 steps, 4 evaluations each
    assert stats["steps"] == 171 and stats["nfe"] == 4 * 171
    assert (ys - exact(x0, t)).abs().max() < 1e-8


def test_dopri5_at_tight_tolerance_matches_the_matrix_exponential(x0):
    t = torch.linspace(0.0, 3.0, 7, dtype=torch.float64)
    stats = {}
    ys = odeint(linear, x0, t, "dopri5", rtol=1e-11, atol=1e-13, stats=stats)
    assert (ys - exact(x0, t)).abs().max() < 1e-9
    assert stats["nfe"] >= 6 * stats["steps"] and stats["steps"] > 10


def test_hyper_euler_with_the_exact_residual_is_exact(x0):
    """For dx/dt = A x, Euler's local error is (expm(A h) − I − A h) x; as g = that / h² the
    HyperEuler step is the exact flow, so the result matches the analytic solution to round-off."""
    def g(t, x, dt):
        m = (torch.linalg.matrix_exp(A * dt) - torch.eye(2, dtype=torch.float64) - A * dt) / dt ** 2
        return x @ m.T

    t = torch.linspace(0.0, 2.0, 3, dtype=torch.float64)
    stats = {}
    ys = odeint(linear, x0, t, "euler", step_size=0.1, correction=g, stats=stats)
    plain = odeint(linear, x0, t, "euler", step_size=0.1)
    assert (ys - exact(x0, t)).abs().max() < 1e-12
    assert (plain - exact(x0, t)).abs().max() > 0.1
    assert stats["correction_evals"] == stats["steps"] == 20


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)).double()

    def forward(self, t, x):
        return self.net(x)


def test_adjoint_gradient_equals_backpropagation_through_dopri5(x0):
    f = Net()
    t = torch.linspace(0.0, 1.0, 4, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        f.zero_grad()
        odeint(f, x0, t, "dopri5", rtol=1e-10, atol=1e-12, adjoint=adjoint).pow(2).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in f.parameters()]))
    assert torch.allclose(grads[0], grads[1], rtol=1e-6, atol=1e-9)


def test_local_error_regulariser_is_zero_for_polynomial_flows_and_differentiable_otherwise(x0):
    """dopri5's embedded error vanishes on a constant field (both solutions are exact, to round-off); for a
    network it is positive, and its gradient reaches the network's weights."""
    const = lambda t, x: torch.ones_like(x)  # noqa: E731
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    stats = {}
    odeint(const, x0, t, "dopri5", rtol=1e-6, atol=1e-8, stats=stats, record_steps=True)
    assert local_error(const, stats["accepted"], 1e-6, 1e-8).abs().item() < 1e-9  # round-off / atol
    f = Net()
    stats = {}
    odeint(f, x0 * 3, t, "dopri5", rtol=1e-6, atol=1e-8, stats=stats, record_steps=True)
    r = local_error(f, stats["accepted"], 1e-6, 1e-8)
    r.backward()
    assert 0 < r.item() < 1.0 + 1e-9  # accepted steps have scaled error <= 1, and Σ|h| = 1
    assert f.net[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs,message", [
    ({"method": "rk45"}, "method must be one of"),
    ({"method": "rk4"}, "needs step_size > 0"),
    ({"method": "dopri5", "correction": lambda t, x, dt: x}, "needs a fixed-step base method"),
    ({"method": "euler", "step_size": 0.1, "adjoint": True}, "adjoint=True needs an adaptive method"),
])
def test_bad_arguments_are_one_clear_sentence(kwargs, message, x0):
    with pytest.raises(ValueError, match=message):
        odeint(linear, x0, torch.tensor([0.0, 1.0], dtype=torch.float64), **kwargs)


def test_times_must_increase(x0):
    with pytest.raises(ValueError, match="strictly increasing"):
        odeint(linear, x0, torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64), "rk4", step_size=0.1)
