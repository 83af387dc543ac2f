"""Initial, boundary and data conditions, enforced as penalty terms (soft constraints).

A condition samples its own points and turns the fields there into a residual of shape (N,); the
solver adds ``weight * mean(residual²)`` to the loss. Conditions satisfied exactly by a problem's
hard constraint are simply not declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from . import geometry
from .fields import Fields

ValueFn = Callable[[Tensor], Tensor]
"""Maps points (N, d) to target values (N,)."""


@dataclass
class PointSet:
    """Points (N, d) for one loss term, with any per-point data the term needs (e.g. normals)."""

    x: Tensor
    aux: dict[str, Tensor] = field(default_factory=dict)

    def to(self, device, dtype) -> "PointSet":
        return PointSet(self.x.to(device, dtype), {k: v.to(device, dtype) for k, v in self.aux.items()})


class Condition:
    """Base class: ``sample`` points, then ``residual(f, aux)`` at them."""

    name: str = "condition"
    n_points: int | None = None
    """Points to sample; None: the solver's setting (``n_boundary`` of the PINN solvers)."""
    weight: float = 1.0
    kind: str = "boundary"
    """"initial", "boundary" or "data": which conditions an inverse problem leaves out when its
    initial (or every) condition is unknown (:meth:`sciml.Problem.observe`)."""

    def sample(self, geom, n: int) -> PointSet:  # pragma: no cover - abstract
        raise NotImplementedError

    def residual(self, f: Fields, aux: dict[str, Tensor]) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def _as_tensor(a: np.ndarray) -> Tensor:
    return torch.as_tensor(a, dtype=torch.float64)


class DirichletBC(Condition):
    """``output = value(x)`` on the boundary (``on="boundary"``) or at the initial time (``"initial"``).

    ``where`` optionally restricts the sampled points: a function of points (N, d) -> bool mask (N,).
    """

    def __init__(self, output: str, value: ValueFn, on: str = "boundary", name: str | None = None,
                 n_points: int | None = None, weight: float = 1.0, where: Callable[[np.ndarray], np.ndarray] | None = None):
        self.output, self.value, self.on, self.where = output, value, on, where
        self.kind = "initial" if on == "initial" else "boundary"
        self.name = name or f"{on}_{output}"
        self.n_points, self.weight = n_points, weight

    def sample(self, geom, n: int) -> PointSet:
        pts = geometry.sample(geom, n, self.on)
        if self.where is not None:
            pts = pts[self.where(pts)]
            if len(pts) == 0:
                raise ValueError(f"condition {self.name!r}: no sampled point satisfies its 'where' filter")
        return PointSet(_as_tensor(pts))

    def residual(self, f: Fields, aux: dict[str, Tensor]) -> Tensor:
        return f[self.output] - self.value(f.x)


class NeumannBC(DirichletBC):
    """Normal derivative ``n · ∇ output = value(x)`` on the boundary, with DeepXDE's outward normals."""

    def __init__(self, output: str, value: ValueFn, spatial: tuple[str, ...], name: str | None = None,
                 n_points: int | None = None, weight: float = 1.0, where=None):
        super().__init__(output, value, "boundary", name or f"neumann_{output}", n_points, weight, where)
        self.spatial = spatial

    def sample(self, geom, n: int) -> PointSet:
        points = super().sample(geom, n)
        normals = geom.boundary_normal(points.x.numpy())
        return PointSet(points.x, {"normal": _as_tensor(np.asarray(normals))[:, : len(self.spatial)]})

    def residual(self, f: Fields, aux: dict[str, Tensor]) -> Tensor:
        normal = aux["normal"]
        flux = sum(normal[:, k] * f.d(self.output, s) for k, s in enumerate(self.spatial))
        return flux - self.value(f.x)


class PeriodicBC(Condition):
    """``output`` (or its ``derivative_order``-th derivative by ``input``) equal at both ends of ``input``.

    Points come in pairs: the first half on the lower end of ``input``, the second half the same
    points moved to the upper end.
    """

    def __init__(self, output: str, input_index: int, input_name: str, derivative_order: int = 0,
                 n_points: int | None = None, weight: float = 1.0):
        if derivative_order not in (0, 1):
            raise ValueError(f"periodic derivative_order must be 0 or 1, got {derivative_order}")
        self.output, self.index, self.input, self.order = output, input_index, input_name, derivative_order
        self.name = f"periodic_{output}" + ("_" + input_name if derivative_order else "")
        self.n_points, self.weight = n_points, weight

    def sample(self, geom, n: int) -> PointSet:
        lo, hi = geometry.bounds(geom)
        pts = geometry.sample(geom, n, "interior")
        low, high = pts.copy(), pts.copy()
        low[:, self.index], high[:, self.index] = lo[self.index], hi[self.index]
        return PointSet(_as_tensor(np.concatenate([low, high])))

    def residual(self, f: Fields, aux: dict[str, Tensor]) -> Tensor:
        v = f[self.output] if self.order == 0 else f.d(self.output, self.input)
        half = v.shape[0] // 2
        return v[:half] - v[half:]


class PointData(Condition):
    """Measured values of one or more outputs at fixed points: ``points`` (N, d) and ``values`` (N,)
    for one ``output`` (a name) or (N, k) for k outputs (a sequence of names). The residual is every
    prediction minus its value, flattened to (N·k,), so the loss term is their mean square over all
    observed values."""

    kind = "data"

    def __init__(self, output: str | Sequence[str], points: np.ndarray, values: np.ndarray, name: str | None = None,
                 weight: float = 1.0):
        outputs = (output,) if isinstance(output, str) else tuple(output)
        points, values = np.asarray(points, float), np.asarray(values, float)
        if values.ndim == 1 and len(outputs) == 1:
            values = values[:, None]
        if points.ndim != 2 or values.shape != (points.shape[0], len(outputs)):
            raise ValueError(f"point data of {list(outputs)} needs points (N, d) and values (N, {len(outputs)}), "
                             f"got {points.shape} and {values.shape}")
        self.outputs, self.points, self.values = outputs, points, values
        self.name = name or f"data_{'_'.join(outputs)}"
        self.n_points, self.weight = len(points), weight

    def sample(self, geom, n: int) -> PointSet:
        return PointSet(_as_tensor(self.points), {"values": _as_tensor(self.values)})

    def residual(self, f: Fields, aux: dict[str, Tensor]) -> Tensor:
        predicted = torch.stack([f[o] for o in self.outputs], dim=1)
        return (predicted - aux["values"]).reshape(-1)
