"""Forward (Taylor-mode) propagation of values, first and second derivatives.

A *jet* is a list of K tensors of shape (N, w) for N points and w features: slot 0 holds the
values, the next ``len(plan.first)`` slots the first derivatives by the plan's inputs, the rest the second
derivatives for the plan's index pairs (see :class:`sciml.fields.Plan`). Every layer maps a jet to a
jet with ordinary tensor operations — one matrix product per slot and linear layer, pointwise chain
rules for activations — so the whole computation is a single forward graph: no nested backward
passes, and it compiles with ``torch.compile``. (Stacking the slots into one matrix product was
measured slower on the CPU, eager and compiled: the concatenation costs more than it saves.)
:mod:`sciml.native` computes the same chain rules for tanh MLPs on the CPU in C++.

Chain rules used (z the pre-activation, s = σ(z), subscripts are derivatives by inputs i, j)::

    linear:      z_i = W h_i,                 z_ij = W h_ij            (bias on the value only)
    elementwise: s_i = σ'(z) z_i,             s_ij = σ''(z) z_i z_j + σ'(z) z_ij
    product:     (ab)_i = a_i b + a b_i,      (ab)_ij = a_ij b + a_i b_j + a_j b_i + a b_ij
"""

from __future__ import annotations

import torch
from torch import Tensor

from .fields import Plan


Jet = list[Tensor]
"""A jet as a list of plan.size tensors, each (N, w) — or (1, w) for a slot that is the same at every
point, such as the input coordinates' own derivatives, which then broadcasts. Slot tensors are never
slices of one big tensor, so the backward pass never scatters into zero-filled buffers."""


def pair_positions(plan: Plan) -> list[tuple[int, int]]:
    """Positions, within the first-derivative slots, of each second-order pair's two indices."""
    return [(plan.first.index(i), plan.first.index(j)) for i, j in plan.second]


def input_jet(x: Tensor, plan: Plan) -> Jet:
    """Jet of the input coordinates themselves: value x (N, d); dx/dx_i = e_i and the second
    derivatives 0 as (1, d) rows, the same at every point. Kept as rows, the first layer's derivative
    slots cost a (1, d) @ (d, w) product instead of an (N, d) one, and their weight gradient a sum
    over points instead of a matrix product with a stride-0 operand (measured: 0.2 ms each)."""
    d = x.shape[1]
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    zeros = x.new_zeros(1, d)
    return [x] + [eye[i : i + 1] for i in plan.first] + [zeros] * len(plan.second)


def full(jet: Jet) -> Jet:
    """The jet with every slot as (N, w): rows that broadcast are expanded (a view, no copy)."""
    n = jet[0].shape[0]
    return [slot.expand(n, -1) for slot in jet]


NARROW = 4
"""Layers with at most this many outputs (a PINN's output layer) are products and sums, not matrix
products: the backward of an (N, w) @ (w, 1) product is an (N, 1) @ (1, w) outer product, which took
longer than a full (N, w) @ (w, w) product in a profile of the compiled training step on the CPU; as
element-wise work Inductor fuses it into the neighbouring kernels."""


def linear(jet: Jet, weight: Tensor, bias: Tensor | None) -> Jet:
    """Jet of ``h @ weight.T + bias``; the bias enters the value slot only."""
    if weight.shape[0] <= NARROW:
        out = [(h.unsqueeze(-2) * weight).sum(-1) for h in jet]
        if bias is not None:
            out[0] = out[0] + bias
        return out
    wt = weight.T
    first = torch.addmm(bias, jet[0], wt) if bias is not None else jet[0] @ wt
    return [first] + [h @ wt for h in jet[1:]]


def elementwise(jet: Jet, plan: Plan, s1: Tensor, s2: Tensor, s0: Tensor) -> Jet:
    """Jet of σ(z) given σ(z0) = s0, σ'(z0) = s1, σ''(z0) = s2 (all shaped like the value slot)."""
    n1 = len(plan.first)
    first = jet[1 : 1 + n1]
    out = [s0] + [s1 * z for z in first]
    for (a, b), z2 in zip(pair_positions(plan), jet[1 + n1 :]):
        out.append(s2 * first[a] * first[b] + s1 * z2)
    return out


def product(a: Jet, b: Jet, plan: Plan) -> Jet:
    """Jet of the pointwise product a * b (slots of equal or broadcastable shape)."""
    n1 = len(plan.first)
    a1, b1 = a[1 : 1 + n1], b[1 : 1 + n1]
    out = [a[0] * b[0]] + [ai * b[0] + a[0] * bi for ai, bi in zip(a1, b1)]
    for (i, j), a2, b2 in zip(pair_positions(plan), a[1 + n1 :], b[1 + n1 :]):
        out.append(a2 * b[0] + a1[i] * b1[j] + a1[j] * b1[i] + a[0] * b2)
    return out


def add(a: Jet, b: Jet) -> Jet:
    """Jet of a + b."""
    return [x + y for x, y in zip(a, b)]


def cat(jets: list[Jet]) -> Jet:
    """Jets side by side along the feature dimension."""
    return [torch.cat(slots, dim=-1) for slots in zip(*(full(jet) for jet in jets))]
