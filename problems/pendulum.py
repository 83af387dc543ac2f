"""The damped pendulum, free and with a torque (swing-up and stabilisation by a learned controller).

    m L² θ'' = −m g L sin θ − c θ' + τ,

θ the angle from the hanging position [rad] (θ = π upright), ω = θ' [rad/s], τ the torque [N m]
(``pendulum-control`` only, |τ| ≤ ``max_torque``), c the viscous damping [N m s/rad].
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.odeproblem import ODEProblem, trajectory_points
from sciml.problem import Parameter, Reference

PARAMETERS = {
    "gravity": Parameter(9.81, unit="m/s^2", doc="gravitational acceleration", minimum=0.0, exclusive_minimum=True),
    "length": Parameter(1.0, unit="m", doc="pendulum length", minimum=0.0, exclusive_minimum=True),
    "mass": Parameter(1.0, unit="kg", doc="bob mass", minimum=0.0, exclusive_minimum=True),
}


class Pendulum(ODEProblem):
    name = "pendulum"
    description = "damped pendulum, theta'' = -(g/L) sin(theta) - c/(m L^2) theta'"
    state = ("theta", "omega")
    units = {"t": "s", "theta": "rad", "omega": "rad/s", "theta0": "rad", "omega0": "rad/s"}
    horizon = 5.0
    n_times = 101
    parameters = {**PARAMETERS,
                  "damping": Parameter(0.3, unit="N m s/rad", doc="viscous damping coefficient", minimum=0.0)}
    solver_defaults = {
        "step_size": 0.05,
        "neural-ode": {"n_trajectories": 64, "n_observations": 100, "span": 5.0, "window": 1.0, "iterations": 1500,
                       "width": 64, "depth": 2, "rtol": 1e-5, "atol": 1e-6},
        # a g cheap enough to beat dopri5 in wall time, trained on step sizes up to 0.25 s
        "hypersolver": {"dt_min": 0.01, "dt_max": 0.25, "width": 16, "depth": 1, "activation": "silu",
                        "precision": "float32"},
    }

    def rhs(self, t, x, u=None, params=None):
        p = {**self.params, **(params or {})}
        theta, omega = x[..., 0], x[..., 1]
        inertia = p["mass"] * p["length"] ** 2
        accel = -p["gravity"] / p["length"] * torch.sin(theta) - p["damping"] / inertia * omega
        if u is not None:
            accel = accel + u[..., 0] / inertia
        return torch.stack([omega, accel], dim=-1)

    def sample_states(self, n, generator):
        """θ uniform in [−π, π] rad, ω uniform in [−3, 3] rad/s."""
        r = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        return (r * 2 - 1) * torch.tensor([math.pi, 3.0], dtype=torch.float64)

    def features(self, x):
        """(cos θ, sin θ, ω): periodic in θ, for networks that see the state."""
        return torch.stack([torch.cos(x[..., 0]), torch.sin(x[..., 0]), x[..., 1]], dim=-1)


class PendulumControl(Pendulum):
    name = "pendulum-control"
    description = "damped pendulum with bounded torque: swing up from any state and hold upright"
    controls = ("torque",)
    outputs = ("height",)
    units = {**Pendulum.units, "torque": "N m", "height": "m/m"}
    horizon = 4.0
    default_solver = "controller"
    parameters = {**PARAMETERS,
                  "damping": Parameter(0.1, unit="N m s/rad", doc="viscous damping coefficient", minimum=0.0),
                  "max_torque": Parameter(8.0, unit="N m", doc="torque bound |tau| <= max_torque",
                                          minimum=0.0, exclusive_minimum=True)}
    solver_defaults = {"dt_min": 0.01, "dt_max": 0.1, "step_size": 0.05}
    settle = 1.0
    """The reference compares the last ``settle`` seconds of the horizon with the upright state."""
    weights = {"angle": 1.0, "rate": 0.01, "torque": 0.01}
    """Running cost q = angle·(1 + cos θ) + rate·ω² [rad²/s²] + torque·τ² [N² m²] (dimensionless weights)."""

    def observe(self, x):
        """The bob's height above the pivot in pendulum lengths, −cos θ (N, 1): 1 upright, −1 hanging."""
        return -torch.cos(x[..., :1])

    def running_cost(self, x, u):
        """q(x, τ) at states (N, 2) and torques (N, 1): (N,); zero upright at rest with no torque."""
        w = self.weights
        return w["angle"] * (1 + torch.cos(x[..., 0])) + w["rate"] * x[..., 1] ** 2 + w["torque"] * u[..., 0] ** 2

    def sample_controls(self, n, generator):
        """Torques (n, 1) uniform in [−max_torque, max_torque]."""
        return (torch.rand(n, 1, generator=generator, dtype=torch.float64) * 2 - 1) * self.max_torque

    def reference(self):
        x0 = self.held_out().numpy()
        t = np.linspace(self.horizon - self.settle, self.horizon, 21)
        points = trajectory_points(x0, t)
        return Reference(points, np.ones((len(points), 1)), f"the upright position (height −cos θ = 1) over the last "
                         f"{self.settle:g} s of the {self.horizon:g} s horizon, from {len(x0)} held-out initial states",
                         measure="upright_distance")
