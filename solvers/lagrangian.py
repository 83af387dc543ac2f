"""Lagrangian PINNs (Mojgani, Balajewicz & Hassanzadeh, "Lagrangian PINNs: a causality-conforming
solution to failure modes of physics-informed neural networks", arXiv:2205.02902, 2022; Comput.
Methods Appl. Mech. Engrg. 404, 115810, 2023).

For a problem in transport form u_t + c(u) u_x = ν u_xx + s(u) (:class:`sciml.characteristics.Transport`),
two branches are learned over (x0, t): the characteristic curve X(x0, t) and the state u(x0, t) on it,
with the residuals written in the Lagrangian frame:

    characteristic:  X_t - c(u) = 0,
    state:           u_t - ν u_xx - s(u) = 0,   u_xx = (u_{x0x0} X_{x0} - u_{x0} X_{x0x0}) / X_{x0}^3,

and the initial condition exact by construction: X = x0 + t c(u0(x0)) + t g(x0) N_X (the curves
leave with their initial speed), u = u0(x0) + t g(x0) N_u, with g = 1 on a periodic domain, else g
vanishing at the walls (where X and u keep their initial values; c(u0) must vanish there).
Predictions at Eulerian points (x, t) are read off the curves at time t by interpolation
(:func:`sciml.characteristics.to_grid`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sciml import geometry, taylor
from sciml.characteristics import to_grid
from sciml.fields import Plan
from sciml.networks import HardConstraint, Network

from .pinn import PINN


class TwoBranch(nn.Module):
    """Two networks side by side over the same inputs, their outputs concatenated: (flow, state)."""

    def __init__(self, flow: nn.Module, state: nn.Module):
        super().__init__()
        self.flow, self.state = flow, state

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.flow(x), self.state(x)], dim=-1)

    def jet(self, jet: taylor.Jet, plan: Plan) -> taylor.Jet:
        return taylor.cat([self.flow.jet(jet, plan), self.state.jet(jet, plan)])


class Characteristics(nn.Module):
    """The Eulerian view of a Lagrangian network: u at points (N, 2) as (x, t) -> (N, 1).

    ``network`` maps (x0, t) to (X, u). For each distinct time in the points, ``n_curves`` curves
    starting on an even grid of x0 over [lower, upper] are followed to that time and u is
    interpolated at the requested x (periodically when ``periodic``).
    """

    def __init__(self, network: Network, lower: float, upper: float, periodic: bool, n_curves: int = 2048):
        super().__init__()
        self.network = network
        self.lower, self.upper, self.periodic, self.n_curves = lower, upper, periodic, n_curves

    def starts(self, like: Tensor) -> Tensor:
        """The x0 grid (n_curves,): [lower, upper) on a periodic domain, [lower, upper] otherwise."""
        n = self.n_curves
        steps = torch.arange(n, dtype=like.dtype, device=like.device) / (n if self.periodic else n - 1)
        return self.lower + (self.upper - self.lower) * steps

    def forward(self, points: Tensor) -> Tensor:
        x0 = self.starts(points)
        times, which = torch.unique(points[:, 1], return_inverse=True)
        out = points.new_empty(points.shape[0], 1)
        for k, t in enumerate(times):
            curves = self.network(torch.stack([x0, t.expand_as(x0)], dim=1))
            mask = which == k
            out[mask, 0] = to_grid(curves[:, 0], curves[:, 1], points[mask, 0], self.lower, self.upper, self.periodic)
        return out


class LagrangianPINN(PINN):
    """Lagrangian PINN (Mojgani et al. 2022/2023) for 1-D problems that declare ``transport()``.

    Settings: those of :class:`PINN` (each branch is an MLP of ``width`` × ``depth``) and
    ``n_curves`` (2048), the characteristics followed per time when predicting. The problem's
    initial condition is built in; problems with penalised conditions (``enforce='soft'``) are refused.
    """

    name = "lagrangian"
    inverse = False  # builds its own networks and conditions: no observations or unknowns yet
    defaults: dict[str, Any] = {**PINN.defaults, "n_curves": 2048}

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        reason = super().unsuitable(problem_cls)
        if reason is not None:
            return reason
        if not hasattr(problem_cls, "transport"):
            return "it is not declared in transport form (a transport() method)"
        spatial = [i for i in problem_cls.inputs if i != problem_cls.time]
        if problem_cls.time is None or len(spatial) != 1 or len(problem_cls.outputs) != 1:
            return (f"this solver handles one space dimension, time and one output, and it has inputs "
                    f"{problem_cls.inputs} and outputs {problem_cls.outputs}")
        return None

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        if problem.conditions():
            raise ValueError(f"the lagrangian solver builds the initial condition in and takes no penalised "
                             f"conditions; {problem.name!r} declares {[c.name for c in problem.conditions()]} "
                             "(use enforce='hard')")
        if int(self.settings["n_curves"]) != self.settings["n_curves"] or self.settings["n_curves"] < 2:
            raise ValueError(f"n_curves must be an integer >= 2, got {self.settings['n_curves']!r}")
        self.transport = problem.transport()
        self.space, self.state = problem.spatial[0], problem.outputs[0]

    @property
    def network(self) -> Network:
        return self.model.network

    @property
    def network_outputs(self) -> tuple[str, ...]:
        return ("X", self.state)

    def build_model(self) -> Characteristics:
        p = self.problem
        lower, upper = (float(b[p.inputs.index(self.space)]) for b in geometry.bounds(p.geometry()))
        ix, it = p.inputs.index(self.space), p.inputs.index(p.time)
        periodic = self.space in p.periodic
        half = (upper - lower) / 2

        def gate(x):  # t g(x0): 0 at t = 0, and at the walls of a bounded domain
            g = x[:, it] if periodic else x[:, it] * (x[:, ix] - lower) * (upper - x[:, ix]) / half ** 2
            return g[:, None].expand(-1, 2)

        def particular(x):  # X = x0 + t c(u0(x0)), u = u0(x0): the curves leave with their initial speed
            u0 = self.transport.initial(x)
            return torch.stack([x[:, ix] + x[:, it] * self.transport.velocity(u0), u0], dim=1)

        constraint = HardConstraint(particular=particular, distance=gate)
        network = Network(TwoBranch(self.mlp(1), self.mlp(1)), constraint)
        return Characteristics(network, lower, upper, periodic, self.settings["n_curves"]).to(self.device, self.dtype)

    def _residuals(self, f) -> dict[str, Tensor]:
        tr, x, t, u_name = self.transport, self.space, self.problem.time, self.state
        u = f[u_name]
        state = f.d(u_name, t)
        if tr.source is not None:
            state = state - tr.source(u)
        if tr.diffusion:
            jac = f.d("X", x)
            u_xx = (f.d(u_name, x, x) * jac - f.d(u_name, x) * f.d("X", x, x)) / jac ** 3
            state = state - tr.diffusion * u_xx
        return {"characteristic": f.d("X", t) - tr.velocity(u), "state": state}
