"""Shared shape of the 1-D periodic initial-value problems (convection, Allen–Cahn): u(x, t) on
[lower, upper) × [0, 1], periodic in x (built into the network), the initial condition exact
(``enforce='hard'``: u = u0(x) + d(t) N(x, t)) or penalised (``'soft'``)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from sciml.conditions import DirichletBC
from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.problem import Parameter, Problem, Reference


class PeriodicInitialValueProblem(Problem):
    """Base class: set ``interval`` (lower, upper) and implement ``initial(points) -> (N,)``."""

    inputs = ("x", "t")
    outputs = ("u",)
    time = "t"
    periodic = ("x",)
    interval: ClassVar[tuple[float, float]] = (0.0, 1.0)
    parameters = {
        "enforce": Parameter("hard", doc="initial condition exact ('hard') or penalised ('soft')",
                             choices=("hard", "soft")),
    }

    def geometry(self):
        g = dde()
        return g.GeometryXTime(g.Interval(*self.interval), g.TimeDomain(0.0, 1.0))

    @staticmethod
    def initial(x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """u(x, 0) at points (N, 2) -> (N,)."""
        raise NotImplementedError

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        """d(t) (N, 1) of the hard constraint u = u0 + d N: vanishes at t = 0; t unless overridden."""
        return x[:, 1:2]

    def conditions(self):
        if self.enforce == "hard":
            return []
        return [DirichletBC(self.outputs[0], self.initial, on="initial", name="initial", n_points=512,
                            weight=self.initial_weight)]

    initial_weight: float = 1.0
    """Weight of the soft initial condition's misfit relative to a residual's."""

    def constraint(self):
        if self.enforce == "soft":
            return None
        return HardConstraint(particular=lambda x: self.initial(x)[:, None], distance=self.distance,
                              enforces=("initial",))

    @staticmethod
    def grid_reference(t: np.ndarray, x: np.ndarray, u: np.ndarray, source: str) -> Reference:
        """A reference with values ``u`` (len(t), len(x)) on the (t, x) grid."""
        tt, xx = np.meshgrid(t, x, indexing="ij")
        return Reference(np.stack([xx.ravel(), tt.ravel()], axis=1), u.reshape(-1, 1), source, grid={"t": t, "x": x})
