"""Networks for learned dynamics: an MLP whose input and output scales are fitted to data, so one
set of defaults serves states of size 1 and of size 50, derivatives of size 0.1 and of size 1000."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .networks import MLP


class ScaledMLP(nn.Module):
    """``y = scale · MLP((x − center) / half_width)``, in float64.

    :meth:`fit` sets ``center``/``half_width`` to the mean ± 2 standard deviations of sample inputs
    (N, in_dim) and ``scale`` to the standard deviation of sample outputs (N, out_dim), so the
    network sees inputs of order 1 and produces outputs of order 1. The scales are buffers: they are
    saved with the weights and restored by ``load_state_dict``.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 64, depth: int = 3, activation: str = "tanh"):
        super().__init__()
        self.mlp = MLP(in_dim, out_dim, width=width, depth=depth, activation=activation).double()
        self.register_buffer("scale", torch.ones(out_dim, dtype=torch.float64))

    @torch.no_grad()
    def fit(self, x: Tensor, y: Tensor | None = None) -> None:
        mean, std = x.mean(0), x.std(0).clamp_min(1e-12)
        self.mlp.center.copy_(mean)
        self.mlp.half_width.copy_(2 * std)
        if y is not None:
            self.scale.copy_(y.std(0).clamp_min(1e-12))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * self.mlp(x)
