"""Linear convection (and convection–diffusion) on a periodic interval: the failure mode of
Krishnapriyan et al. (2021), "Characterizing possible failure modes in physics-informed neural
networks", NeurIPS 2021, where a plain PINN fails for large β.

    u_t + β u_x = ν u_xx,   x in [0, 2π) periodic,  t in [0, 1],  u(x, 0) = sin x,

with ν = 0 for ``convection``. Exact solution: u = exp(-ν t) sin(x - β t).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.characteristics import Transport
from sciml.conditions import DirichletBC
from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.problem import Parameter, Problem, Reference


class Convection(Problem):
    name = "convection"
    description = "1D linear convection u_t + beta u_x = 0, periodic, u(x,0) = sin x (exact reference)"
    inputs = ("x", "t")
    outputs = ("u",)
    time = "t"
    periodic = ("x",)
    parameters = {
        "beta": Parameter(30.0, unit="1", doc="convection speed (dimensionless)", minimum=0.0, exclusive_minimum=True),
        "enforce": Parameter("hard", doc="initial condition exact ('hard') or penalised ('soft')",
                             choices=("hard", "soft")),
    }
    solver_defaults = {
        "width": 64, "depth": 4, "n_interior": 4000, "iterations": 6000, "lr": 2e-3, "decay_steps": 600,
        "eval_every": 250,
    }

    def geometry(self):
        g = dde()
        return g.GeometryXTime(g.Interval(0.0, 2 * math.pi), g.TimeDomain(0.0, 1.0))

    @property
    def nu(self) -> float:
        """Diffusivity ν (0 for pure convection)."""
        return 0.0

    def residual(self, f):
        r = f.d("u", "t") + self.beta * f.d("u", "x")
        return r - self.nu * f.d("u", "x", "x") if self.nu else r

    @staticmethod
    def initial(x):
        """u(x, 0) = sin x at points (N, 2) -> (N,)."""
        return torch.sin(x[:, 0])

    def conditions(self):
        if self.enforce == "hard":
            return []
        return [DirichletBC("u", self.initial, on="initial", name="initial", n_points=256)]

    def constraint(self):
        if self.enforce == "soft":
            return None
        # u = sin x + tanh(β t) N(x, t): exact at t = 0, and N stays O(1) (u_t = β N there, where u_t = -β cos x);
        # the network's periodic embedding makes u periodic in x.
        return HardConstraint(particular=lambda x: self.initial(x)[:, None],
                              distance=lambda x: torch.tanh(self.beta * x[:, 1:2]))

    def transport(self) -> Transport:
        return Transport(velocity=lambda u: torch.full_like(u, self.beta), initial=self.initial, diffusion=self.nu)

    def exact(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """u(x, t) = exp(-ν t) sin(x - β t)."""
        return np.exp(-self.nu * t) * np.sin(x - self.beta * t)

    def reference(self) -> Reference:
        t = np.linspace(0.0, 1.0, 101)
        x = 2 * np.pi * np.arange(256) / 256
        tt, xx = np.meshgrid(t, x, indexing="ij")
        points = np.stack([xx.ravel(), tt.ravel()], axis=1)
        return Reference(points, self.exact(xx, tt).reshape(-1, 1),
                         f"exact solution exp(-nu t) sin(x - beta t), beta={self.beta:g}, nu={self.nu:g}",
                         grid={"t": t, "x": x})


class ConvectionDiffusion(Convection):
    name = "convection-diffusion"
    description = "1D convection-diffusion u_t + beta u_x = nu u_xx, periodic, u(x,0) = sin x (exact reference)"
    parameters = {
        **Convection.parameters,
        "viscosity": Parameter(0.5, unit="1", doc="diffusivity nu (dimensionless)", minimum=0.0),
    }

    @property
    def nu(self) -> float:
        return self.viscosity
