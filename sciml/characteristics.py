"""Transport form of a 1-D scalar PDE, for solvers that follow its characteristics.

A problem that can be written as ::

    u_t + c(u) u_x = nu u_xx + s(u),      u(x, 0) = u0(x),

declares it with ``transport()`` returning a :class:`Transport`. Along the characteristic curves
x(t; x0) with x_t = c(u) the state obeys u_t = nu u_xx + s(u) (Mojgani, Balajewicz & Hassanzadeh,
"Lagrangian PINNs: a causality-conforming solution to failure modes of physics-informed neural
networks"). :func:`to_grid` maps values known on the curves at one time back to fixed points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


@dataclass(frozen=True)
class Transport:
    """u_t + velocity(u) u_x = diffusion u_xx + source(u) with u(x, 0) = initial(points).

    ``velocity`` and ``source`` map u (N,) to (N,) (``source`` None: no source); ``initial`` maps
    points (N, 2) as (x, t) to u (N,); ``diffusion`` is nu in the problem's units of x²/t.
    """

    velocity: Callable[[Tensor], Tensor]
    initial: Callable[[Tensor], Tensor]
    diffusion: float = 0.0
    source: Callable[[Tensor], Tensor] | None = None


def to_grid(positions: Tensor, values: Tensor, x: Tensor, lower: float, upper: float, periodic: bool) -> Tensor:
    """Values (M,) known at curve ``positions`` (M,) at one time, linearly interpolated at ``x`` (N,).

    Positions need not be sorted. With ``periodic`` the positions are wrapped into [lower, upper)
    and the interpolation wraps around; otherwise points outside the positions' range take the
    value at the nearest end.
    """
    if positions.ndim != 1 or positions.shape != values.shape:
        raise ValueError(f"positions and values must be two (M,) arrays, got {tuple(positions.shape)} "
                         f"and {tuple(values.shape)}")
    period = upper - lower
    if periodic:
        positions = torch.remainder(positions - lower, period) + lower
        x = torch.remainder(x - lower, period) + lower
    order = torch.argsort(positions)
    p, v = positions[order], values[order]
    if periodic:  # one copy of each end on the other side closes the circle
        p = torch.cat([p[-1:] - period, p, p[:1] + period])
        v = torch.cat([v[-1:], v, v[:1]])
    right = torch.searchsorted(p, x.contiguous()).clamp(1, len(p) - 1)
    left = right - 1
    gap = (p[right] - p[left]).clamp_min(torch.finfo(p.dtype).tiny)
    w = ((x - p[left]) / gap).clamp(0, 1)
    return v[left] + w * (v[right] - v[left])
