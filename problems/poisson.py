"""2D Poisson equation on the unit square with a manufactured solution of tunable frequency.

    -(u_xx + u_yy) = 2 (k pi)^2 sin(k pi x) sin(k pi y),   (x, y) in [0, 1]^2,   u = 0 on the boundary,

(the residual is this equation divided by 2 (k pi)^2), whose exact solution is u = sin(k pi x) sin(k pi y) for any k > 0 (for non-integer k the boundary
value on x = 1 and y = 1 is sin(k pi) sin(k pi y), imposed exactly by the hard constraint). The source
frequency k is the parameter the interface-condition bandit varies (:mod:`sciml.solvers.interface_selection`).
The multi-domain solver's default split cuts it into 2 x 2 subdomains at x = 0.5 and y = 0.5.
Its Dirichlet energy (:meth:`Poisson.energy`) lets the deep-energy solver minimise it instead.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.problem import Parameter, Problem, Reference


class Poisson(Problem):
    name = "poisson"
    description = "2D Poisson on the unit square, u = sin(k pi x) sin(k pi y) (analytic reference)"
    inputs = ("x", "y")
    outputs = ("u",)
    parameters = {
        "frequency": Parameter(2.0, unit="1", doc="source frequency k (half-waves per unit length)",
                               minimum=0.0, exclusive_minimum=True, maximum=8.0),
    }
    # Shared by every solver: a 32 x 3 network, 2,000 fixed points, 2,000 Adam then 1,000 L-BFGS steps.
    # The PINN's own default (issue 17) keeps the network and points in float64 and runs 1,000 Adam steps
    # and then 2,000 SSBroyden steps (self-scaled Broyden, dense inverse Hessian), checked against the
    # Adam + L-BFGS default it replaced by the poisson-default validation study. ``--optimizer
    # adam-lbfgs`` runs L-BFGS for the same lbfgs_iterations instead.
    solver_defaults = {
        "width": 32, "depth": 3, "n_interior": 2000, "iterations": 2000, "lbfgs_iterations": 1000,
        "pinn": {"dtype": "float64", "optimizer": "ssbroyden", "iterations": 1000, "lbfgs_iterations": 2000},
    }

    def geometry(self):
        return dde().Rectangle([0.0, 0.0], [1.0, 1.0])

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        """u at points (N, 2) -> (N,)."""
        w = self.frequency * math.pi
        return torch.sin(w * x[:, 0]) * torch.sin(w * x[:, 1])

    def residual(self, f):
        # Divided by the source amplitude 2 (k pi)^2, so the residual is O(1) for every frequency and
        # the balance between residual and interface/boundary terms does not change with k.
        w = self.frequency * math.pi
        return -f.laplacian("u") / (2 * w * w) - torch.sin(w * f["x"]) * torch.sin(w * f["y"])

    def energy(self, f):
        # The Dirichlet energy whose Euler–Lagrange equation is the residual's equation (for the
        # deep-energy solver): Π[u] = ∫ |∇u|² / (4 (k pi)²) − sin(k pi x) sin(k pi y) u dx dy, minimal
        # (−1/8 for integer k) at the exact solution among functions with its boundary values.
        w = self.frequency * math.pi
        grad2 = f.d("u", "x") ** 2 + f.d("u", "y") ** 2
        return grad2 / (4 * w * w) - torch.sin(w * f["x"]) * torch.sin(w * f["y"]) * f["u"]

    def constraint(self):
        # u = g(x, y) + x (1 - x) y (1 - y) N: g is the exact solution's bilinear boundary blend, which
        # matches u on all four sides (it is 0 there for integer k).
        def particular(x):
            s = math.sin(self.frequency * math.pi)
            w = self.frequency * math.pi
            return (x[:, 0] * s * torch.sin(w * x[:, 1]) + x[:, 1] * s * torch.sin(w * x[:, 0])
                    - x[:, 0] * x[:, 1] * s * s)[:, None]
        return HardConstraint(particular, lambda x: (x[:, 0] * (1 - x[:, 0]) * x[:, 1] * (1 - x[:, 1]))[:, None])

    def reference(self) -> Reference:
        x = np.linspace(0.0, 1.0, 101)
        y = np.linspace(0.0, 1.0, 101)
        xx, yy = np.meshgrid(x, y, indexing="ij")
        points = np.stack([xx.ravel(), yy.ravel()], axis=1)
        u = self.exact(torch.as_tensor(points)).numpy()
        return Reference(points, u.reshape(-1, 1), f"analytic u = sin({self.frequency:g} pi x) sin({self.frequency:g} pi y)",
                         grid={"x": x, "y": y})
