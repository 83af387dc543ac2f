"""The Lorenz system (Lorenz 1963), the standard chaotic test of learned dynamics and hypersolvers.

    dx/dt = σ (y − x),   dy/dt = x (ρ − z) − y,   dz/dt = x y − β z,

with σ = 10, ρ = 28, β = 8/3 by default (the chaotic regime). Initial conditions are drawn on the
attractor: uniform in the box [−20, 20]² × [0, 50], then carried 10 time units along the flow.
Everything is dimensionless (Lorenz time units).
"""

from __future__ import annotations

import torch

from sciml.integrate import odeint
from sciml.odeproblem import ODEProblem
from sciml.problem import Parameter


class Lorenz(ODEProblem):
    name = "lorenz"
    description = "Lorenz system (sigma=10, rho=28, beta=8/3), initial conditions on the attractor"
    state = ("x", "y", "z")
    horizon = 1.0
    n_times = 101
    parameters = {
        "sigma": Parameter(10.0, doc="Prandtl number", minimum=0.0, exclusive_minimum=True),
        "rho": Parameter(28.0, doc="Rayleigh number ratio", minimum=0.0, exclusive_minimum=True),
        "beta": Parameter(8.0 / 3.0, doc="geometric factor", minimum=0.0, exclusive_minimum=True),
    }
    solver_defaults = {
        "step_size": 0.01,
        # short windows of irregular observations (chaos forbids long ones)
        "neural-ode": {"n_trajectories": 64, "n_observations": 200, "span": 2.0, "window": 0.2, "iterations": 600,
                       "width": 128, "depth": 3, "rtol": 1e-5, "atol": 1e-6},
        # a g cheap enough to beat dopri5 in wall time (measured: benchmarks/results/hypersolver.json),
        # trained on step sizes up to 0.05
        "hypersolver": {"dt_min": 0.002, "dt_max": 0.05, "width": 32, "depth": 2, "activation": "relu",
                        "precision": "float32"},
    }
    burn_in = 10.0
    """Time units a box sample is carried along the flow to land on the attractor."""

    def rhs(self, t, x, u=None, params=None):
        p = {**self.params, **(params or {})}
        a, b, c = x[..., 0], x[..., 1], x[..., 2]
        return torch.stack([p["sigma"] * (b - a), a * (p["rho"] - c) - b, a * b - p["beta"] * c], dim=-1)

    def sample_states(self, n, generator):
        box = torch.rand(n, 3, generator=generator, dtype=torch.float64)
        x = box * torch.tensor([40.0, 40.0, 50.0], dtype=torch.float64) - torch.tensor([20.0, 20.0, 0.0],
                                                                                      dtype=torch.float64)
        t = torch.tensor([0.0, self.burn_in], dtype=torch.float64)
        return odeint(self.field(), x, t, "dopri5", rtol=1e-8, atol=1e-8)[-1]
