"""Viscous Burgers equation in 1D, the canonical PINN benchmark (Raissi et al. 2019).

    u_t + u u_x = nu u_xx,   x in [-1, 1], t in [0, 1],
    u(x, 0) = -sin(pi x),    u(-1, t) = u(1, t) = 0.

The default nu = 0.01/pi forms a steep front at x = 0 near t = 0.5. The reference is the exact
solution by the Cole–Hopf transformation (:mod:`sciml.classical.cole_hopf`), bundled for the default
viscosity and computed on the fly for any other.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml import data as bundled
from sciml.characteristics import Transport
from sciml.classical.cole_hopf import reference_grid
from sciml.conditions import DirichletBC
from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.problem import Parameter, Problem, Reference

DEFAULT_NU = 0.01 / math.pi


class Burgers(Problem):
    name = "burgers"
    description = "1D viscous Burgers, u(x,0) = -sin(pi x), Dirichlet walls (exact Cole-Hopf reference)"
    inputs = ("x", "t")
    outputs = ("u",)
    time = "t"
    smoothing = "nu"
    parameters = {
        "nu": Parameter(DEFAULT_NU, unit="1", doc="kinematic viscosity (dimensionless)", minimum=0.0,
                        exclusive_minimum=True),
        "enforce": Parameter("hard", doc="initial/boundary conditions exact ('hard') or penalised ('soft')",
                                choices=("hard", "soft")),
    }
    # Shared by every solver: a 32 x 4 network, 8,000 fixed points, 3,000 Adam then 4,000 L-BFGS steps.
    # The PINN's own default (issue 17) is a 20 x 4 float64 network, 1,000 Adam steps and then 4,000
    # SSBroyden steps (self-scaled Broyden, dense inverse Hessian) on points redrawn every 500 steps:
    # its step count read off the burgers-ssbroyden validation study, whose histories record the error
    # through the SSBroyden phase at three seeds, and checked against the 32 x 4 Adam + L-BFGS default it
    # replaced by the burgers-default study. ``--optimizer adam-lbfgs`` runs L-BFGS for the same
    # lbfgs_iterations instead.
    solver_defaults = {
        "width": 32, "depth": 4, "n_interior": 8000, "iterations": 3000, "lbfgs_iterations": 4000,
        "resample_every": 0, "eval_every": 250,
        # multidomain: keep the cuts off the front at x = 0 (an interface on it fails, rel. L2 ~0.3)
        "splits": {"x": [-0.5], "t": [0.25]},
        "pinn": {"width": 20, "dtype": "float64", "resample_every": 500, "iterations": 1000,
                 "optimizer": "ssbroyden"},
    }

    def geometry(self):
        g = dde()
        return g.GeometryXTime(g.Interval(-1.0, 1.0), g.TimeDomain(0.0, 1.0))

    def residual(self, f):
        u = f["u"]
        return f.d("u", "t") + u * f.d("u", "x") - self.nu * f.d("u", "x", "x")

    @staticmethod
    def initial(x):
        """u(x, 0) = -sin(pi x) at points (N, 2) -> (N,)."""
        return -torch.sin(math.pi * x[:, 0])

    def conditions(self):
        if self.enforce == "hard":
            return []
        return [
            DirichletBC("u", self.initial, on="initial", name="initial", n_points=200),
            DirichletBC("u", lambda x: torch.zeros_like(x[:, 0]), on="boundary", name="boundary", n_points=200),
        ]

    def constraint(self):
        if self.enforce == "soft":
            return None
        # u = -sin(pi x) + t (1 - x^2) N(x, t): exact at t = 0 and x = ±1.
        return HardConstraint(
            particular=lambda x: self.initial(x)[:, None],
            distance=lambda x: (x[:, 1] * (1 - x[:, 0] ** 2))[:, None],
        )

    def reference(self) -> Reference:
        if self.nu == DEFAULT_NU:
            grid = bundled.load("burgers_cole_hopf")
            source = "bundled data/burgers_cole_hopf.npz (Cole-Hopf, Gauss-Hermite quadrature)"
        else:
            grid = reference_grid(nu=self.nu)
            source = f"Cole-Hopf solution for nu={self.nu:g} (Gauss-Hermite quadrature)"
        t, x = grid["t"], grid["x"]
        tt, xx = np.meshgrid(t, x, indexing="ij")
        points = np.stack([xx.ravel(), tt.ravel()], axis=1)
        return Reference(points, grid["u"].reshape(-1, 1), source, grid={"t": t, "x": x})

    def transport(self) -> Transport:
        """Transport form u_t + u u_x = nu u_xx, for solvers that follow the characteristics."""
        return Transport(velocity=lambda u: u, initial=self.initial, diffusion=self.nu)
