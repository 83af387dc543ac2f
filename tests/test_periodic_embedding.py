"""The hard periodic embedding of MLP inputs: exactly periodic, and both engines agree with autograd."""

from __future__ import annotations

import math

import torch

from sciml.fields import AutogradFields, Plan, TaylorFields
from sciml.networks import MLP, Network

KEYS = [(), (0,), (1,), (0, 0), (0, 1), (1, 1)]


def _net(fourier):
    torch.manual_seed(4)
    return Network(MLP(2, 1, width=10, depth=2, lower=[0.0, 0.0], upper=[2 * math.pi, 1.0], periodic=[0],
                       fourier_features=fourier, fourier_scale=0.5)).double()


def test_network_is_exactly_periodic_in_the_embedded_input():
    for fourier in (0, 5):
        net = _net(fourier)
        t = torch.rand(20, dtype=torch.float64)
        left = net(torch.stack([torch.zeros_like(t), t], 1))
        right = net(torch.stack([torch.full_like(t, 2 * math.pi), t], 1))
        assert torch.allclose(left, right, atol=1e-13)
        inside = net(torch.stack([torch.full_like(t, 1.0), t], 1))
        assert (inside - left).abs().max() > 1e-3  # not periodic by being constant


def test_periodic_embedding_jets_match_autograd():
    x = torch.rand(30, 2, dtype=torch.float64) * torch.tensor([2 * math.pi, 1.0], dtype=torch.float64)
    plan = Plan.from_keys(KEYS)
    for fourier in (0, 5):
        net = _net(fourier)
        taylor = TaylorFields(net.jet(x, plan), plan, x, ("x", "t"), ("u",))
        auto = AutogradFields(net, x, ("x", "t"), ("u",))
        for key in KEYS[1:]:
            names = ["x" if i == 0 else "t" for i in key]
            a, b = taylor.d("u", *names), auto.d("u", *names)
            assert ((a - b).abs().max() / b.abs().max()).item() < 1e-10, key
