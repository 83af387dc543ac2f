"""Causal training: the weights sum the EARLIER chunks only, under stop-gradient; the loss is the
weighted chunk mean; the ε schedule; time-marching windows join continuously."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.problems.convection import Convection
from sciml.solvers.causal import CausalPINN, causal_weights, chunk_losses


def test_weights_sum_earlier_chunks_only():
    losses = torch.tensor([1.0, 2.0, 3.0, 4.0])
    w = causal_weights(losses, epsilon=0.5)
    expected = torch.exp(-0.5 * torch.tensor([0.0, 1.0, 3.0, 6.0]))  # w_i = exp(-ε Σ_{k<i} L_k)
    assert torch.allclose(w, expected)
    assert w[0] == 1.0  # the first chunk is always fully weighted
    # w_i must not see L_i itself (the known wrong variant sums k <= i): change L_2, w_2 stays
    changed = losses.clone()
    changed[2] = 100.0
    assert torch.allclose(causal_weights(changed, 0.5)[:3], w[:3])
    assert not torch.allclose(causal_weights(changed, 0.5)[3], w[3])
    with_ic = causal_weights(losses, 0.5, initial=torch.tensor(0.2))
    assert torch.allclose(with_ic, expected * math.exp(-0.1))


def test_weights_are_under_stop_gradient():
    losses = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = causal_weights(losses, 1.0)
    assert not w.requires_grad
    (w * losses).sum().backward()
    assert torch.allclose(losses.grad, w)  # d/dL_i of Σ w_k L_k is w_i only


def test_chunk_losses_are_means_per_chunk():
    sq = torch.tensor([1.0, 3.0, 5.0, 10.0, 7.0])
    chunk = torch.tensor([0, 0, 2, 2, 2])
    assert torch.allclose(chunk_losses(sq, chunk, 3), torch.tensor([2.0, 0.0, 22.0 / 3]))


def _solver(**kw):
    torch.set_num_threads(1)
    kw = {"windows": 1, "compile": "auto", **kw}  # one window: not Convection's time-marching causal defaults
    solver = CausalPINN(Convection(beta=5.0, enforce="soft"), width=16, depth=2, n_interior=400, iterations=10,
                        chunks=8, dtype="float64", progress=False, **kw)
    solver.setup()
    return solver


def test_loss_is_causally_weighted_chunk_mean():
    solver = _solver(epsilon=3.0)
    terms = solver.loss()
    x = solver.interior.x
    r2 = solver.residuals(x)["residual"] ** 2
    t = x[:, 1].numpy()
    chunk = np.minimum((t * 8).astype(int), 7)
    L = torch.tensor([r2[chunk == k].mean().item() for k in range(8)], dtype=torch.float64)
    # the initial-condition loss enters every weight (causal_initial=True)
    ic = terms["initial"].item()
    w = torch.exp(-3.0 * (ic + torch.cumsum(L, 0) - L))
    assert torch.allclose(solver.weights_now, w, rtol=1e-10)
    assert abs(terms["residual"].item() - (w * L).mean().item()) < 1e-10 * terms["residual"].item()
    without = _solver(epsilon=3.0, causal_initial=False)
    without.loss()
    assert torch.allclose(without.weights_now, w * math.exp(3.0 * ic), rtol=1e-10)


def test_epsilon_schedule_advances_once_min_weight_exceeds_delta():
    solver = _solver(epsilon=[0.1, 1.0, 10.0], delta=0.9)

    class FakeTrainer:
        status = {}

    record = {"phase": "adam", "step": 1}
    solver.weights_now = torch.full((8,), 0.8)
    solver._track(FakeTrainer, record)
    assert solver.epsilon == 0.1 and record["causal"]["min_w"] == pytest.approx(0.8)
    solver.weights_now = torch.full((8,), 0.95)
    solver._track(FakeTrainer, record)
    solver._track(FakeTrainer, record)
    solver._track(FakeTrainer, record)
    assert solver.epsilon == 10.0  # advanced twice, then stays at the last
    assert FakeTrainer.status["min_w"] == pytest.approx(0.95)


def test_windows_start_from_the_previous_window():
    solver = CausalPINN(Convection(beta=5.0), width=16, depth=2, windows=4, dtype="float64", progress=False)
    model = solver.build_model()
    x = torch.linspace(0, 2 * math.pi, 9, dtype=torch.float64)
    for k, t in enumerate(solver.edges[1:-1], 1):
        at = torch.stack([x, torch.full_like(x, t)], 1)
        before = model.parts[k - 1](at)  # the earlier window at its end
        assert torch.allclose(model(at), before, atol=1e-12)   # the later window takes over continuously
        assert torch.allclose(model.parts[k](at), before, atol=1e-12)
    start = torch.stack([x, torch.zeros_like(x)], 1)
    assert torch.allclose(model(start)[:, 0], torch.sin(x), atol=1e-12)  # the problem's exact IC in window 0


def test_causal_training_with_windows_learns_convection():
    torch.set_num_threads(1)
    solver = CausalPINN(Convection(beta=5.0), width=32, depth=3, n_interior=512, iterations=300, windows=2,
                        chunks=8, lr=3e-3, progress=False, compile=False)
    result = solver.train()
    assert result.errors()["rel_l2"] < 5e-2
    assert {r["causal"]["window"] for r in result.history} == {0, 1}
    assert "w" in result.history[99]["causal"] and len(result.history[99]["causal"]["w"]) == 8


def test_bad_settings():
    with pytest.raises(ValueError, match="windows must be a positive integer"):
        CausalPINN(Convection(), windows=0)
    with pytest.raises(ValueError, match="epsilon must be"):
        CausalPINN(Convection(), epsilon=[])
