"""Networks for learned dynamics: an MLP whose input and output scales are fitted to data, so one
set of defaults serves states of size 1 and of size 50, derivatives of size 0.1 and of size 1000."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from .networks import MLP


class ScaledMLP(nn.Module):
    """``y = scale · MLP((x − center) / half_width)``, in ``dtype`` (float64 unless told).

    :meth:`fit` sets ``center``/``half_width`` to the mean ± 2 standard deviations of sample inputs
    (N, in_dim) and ``scale`` to the standard deviation of sample outputs (N, out_dim), so the
    network sees inputs of order 1 and produces outputs of order 1. The scales are buffers: they are
    saved with the weights and restored by ``load_state_dict``.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 64, depth: int = 3, activation: str = "tanh",
                 dtype: torch.dtype = torch.float64):
        super().__init__()
        self.mlp = MLP(in_dim, out_dim, width=width, depth=depth, activation=activation).to(dtype)
        self.register_buffer("scale", torch.ones(out_dim, dtype=dtype))

    @torch.no_grad()
    def fit(self, x: Tensor, y: Tensor | None = None) -> None:
        mean, std = x.mean(0), x.std(0).clamp_min(1e-12)
        self.mlp.center.copy_(mean)
        self.mlp.half_width.copy_(2 * std)
        if y is not None:
            self.scale.copy_(y.std(0).clamp_min(1e-12))

    def forward(self, x: Tensor) -> Tensor:
        return self.scale * self.mlp(x)

    def folded(self, fixed: Tensor | None = None, factor: float = 1.0) -> Callable[[Tensor], Tensor]:
        """The same function, ``factor · self(cat(x, fixed))``, as a bare chain of ``addmm`` and
        activations: the input normalisation and the trailing inputs ``fixed`` (k,) (held constant,
        e.g. a step size) are folded into the first layer, ``factor · scale`` into the last. For
        evaluating many times at the same ``fixed``: about half the operations per call. Takes x
        (N, in_dim − k) in this network's type; the weights are taken as they are now (differentiable
        in them, but later updates to them are not seen)."""
        layers = [(layer.weight, layer.bias) for layer in self.mlp.linears]
        w, b = layers[0]
        w = w / self.mlp.half_width
        b = b - w @ self.mlp.center
        if fixed is not None:
            k = fixed.shape[-1]
            b = b + w[:, w.shape[1] - k:] @ fixed.to(w.dtype)
            w = w[:, :w.shape[1] - k]
        layers[0] = (w, b)
        w, b = layers[-1]
        s = factor * self.scale
        layers[-1] = (w * s[:, None], b * s)
        chain = [(b, w.T.contiguous()) for w, b in layers]
        activation = self.mlp.activation

        def run(x: Tensor) -> Tensor:
            for b, wt in chain[:-1]:
                x = activation(torch.addmm(b, x, wt))
            return torch.addmm(chain[-1][0], x, chain[-1][1])

        return run
