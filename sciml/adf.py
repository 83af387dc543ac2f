"""Approximate distance functions (ADFs) and their composition, for exact (hard) boundary conditions.

An ADF φ of a boundary piece vanishes on it, is positive inside the domain and behaves like the
distance near it (∂φ/∂n = 1 there: "normalised to first order"). A field satisfying u = g on the
boundary is then written ``u = g + φ N`` with ``N`` the network (Sukumar & Srivastava 2022).

Every function maps points ``x`` (N, 2) (torch, any float dtype; columns x, y) to ``(N,)`` and is
built from differentiable torch operations, so derivatives come from autograd
(:meth:`sciml.networks.HardConstraint.jets`). Pieces are joined by the R-equivalence
``φ = (φ_1^-m + φ_2^-m)^(-1/m)`` (:func:`union`), which vanishes where either piece does and keeps
first-order normalisation; boundary data on several pieces are blended by transfinite
interpolation (:func:`blend`).

Reference: N. Sukumar, A. Srivastava, "Exact imposition of boundary conditions with distance
functions in physics-informed deep neural networks", Comput. Methods Appl. Mech. Engrg. 389,
114333 (2022), Sec. 3 (R-equivalence, line segments, transfinite interpolation).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

TINY = 1e-30
"""Floor of denominators, so that corners (where two pieces vanish) give 0 rather than 0/0."""


def _xy(x: Tensor) -> tuple[Tensor, Tensor]:
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"points must have shape (N, 2) or wider (x, y first), got {tuple(x.shape)}")
    return x[:, 0], x[:, 1]


def line(x: Tensor, a: Sequence[float], b: Sequence[float]) -> Tensor:
    """Signed distance (N,) to the infinite line through ``a`` and ``b``, positive to the left of a → b."""
    px, py = _xy(x)
    (ax, ay), (bx, by) = a, b
    length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
    if length == 0:
        raise ValueError(f"a line needs two distinct points, got a = b = {tuple(a)}")
    return ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) / length


def segment(x: Tensor, a: Sequence[float], b: Sequence[float]) -> Tensor:
    """ADF (N,) of the segment from ``a`` to ``b``: zero on the segment only, not on the rest of its line.

    Sukumar & Srivastava (2022), eq. (3.10): with f the distance to the line and
    t = ((L/2)² - |x - centre|²)/L the trimming function, φ = sqrt(f² + ((sqrt(t² + f⁴) - t)/2)²).
    """
    px, py = _xy(x)
    (ax, ay), (bx, by) = a, b
    length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5
    f = line(x, a, b)
    cx, cy = (ax + bx) / 2, (ay + by) / 2
    t = ((length / 2) ** 2 - (px - cx) ** 2 - (py - cy) ** 2) / length
    varphi = torch.sqrt(t ** 2 + f ** 4)
    return torch.sqrt(f ** 2 + ((varphi - t) / 2) ** 2)


def circle(x: Tensor, centre: Sequence[float], radius: float) -> Tensor:
    """ADF (N,) of a circle for a domain outside it: (|x - c|² - r²) / (2 r), smooth, > 0 outside."""
    if not radius > 0:
        raise ValueError(f"circle radius must be > 0, got {radius!r}")
    px, py = _xy(x)
    return ((px - centre[0]) ** 2 + (py - centre[1]) ** 2 - radius ** 2) / (2 * radius)


def union(*phis: Tensor, m: float = 1.0) -> Tensor:
    """R-equivalence of ADFs (N,): zero on the union of their zero sets, ``(Σ φ_i^-m)^(-1/m)``.

    Computed pairwise as φ_1 φ_2 / (φ_1^m + φ_2^m)^(1/m), which is finite where pieces vanish.
    """
    if not phis:
        raise ValueError("union needs at least one distance function")
    if not m > 0:
        raise ValueError(f"the R-equivalence exponent m must be > 0, got {m!r}")
    out = phis[0]
    for phi in phis[1:]:
        out = out * phi / (out ** m + phi ** m).clamp_min(TINY) ** (1 / m)
    return out


def rectangle(x: Tensor, lower: Sequence[float], upper: Sequence[float], sides: str = "lrbt",
              m: float = 1.0) -> Tensor:
    """ADF (N,) of the chosen sides of the box [lower, upper]: ``sides`` from "l" (x = x0), "r" (x = x1),
    "b" (y = y0), "t" (y = y1). For points inside the box."""
    px, py = _xy(x)
    pieces = {"l": px - lower[0], "r": upper[0] - px, "b": py - lower[1], "t": upper[1] - py}
    unknown = set(sides) - set(pieces)
    if not sides or unknown:
        raise ValueError(f"sides must be letters from 'lrbt', got {sides!r}")
    return union(*(pieces[s] for s in sides), m=m)


def blend(phis: Sequence[Tensor], values: Sequence[Tensor]) -> Tensor:
    """Transfinite interpolation (N,) of boundary data: equals ``values[i]`` where ``phis[i]`` vanishes.

    g = Σ_i g_i Π_{j≠i} φ_j / Σ_i Π_{j≠i} φ_j (Sukumar & Srivastava 2022, eq. (3.14) with μ = 1).
    Where pieces meet (a corner) the formula is 0/0; there the blend returns the average of the
    meeting pieces' values (their common value when the data are continuous; the mean across a jump
    such as a uniform lid's corner).
    """
    if len(phis) != len(values) or len(phis) < 2:
        raise ValueError(f"blend needs as many values as distance functions (at least two), got "
                         f"{len(phis)} and {len(values)}")
    weights = []
    for i in range(len(phis)):
        w = torch.ones_like(phis[0])
        for j, phi in enumerate(phis):
            if j != i:
                w = w * phi
        weights.append(w)
    total = sum(weights)
    corner = total.abs() < TINY
    total = torch.where(corner, torch.ones_like(total), total)
    on = [(phi.abs() < TINY).to(total.dtype) for phi in phis]  # pieces meeting at a corner point
    count = sum(on).clamp_min(1)
    mean = sum(m * g for m, g in zip(on, values)) / count
    return torch.where(corner, mean, sum(w * g for w, g in zip(weights, values)) / total)


def box(x: Tensor, lower: Sequence[float], upper: Sequence[float]) -> Tensor:
    """Smooth distance-like function (N,) of the whole boundary of the box [lower, upper] (2-D):
    Π_k (x_k - lower_k)(upper_k - x_k) / (upper_k - lower_k). Unlike :func:`rectangle` (R-equivalence,
    exactly normalised but with kinks at the corners) it is a polynomial: smooth at the corners, so a
    smooth solution minus smooth boundary data divided by it stays smooth."""
    px, py = _xy(x)
    (x0, y0), (x1, y1) = lower, upper
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box needs upper > lower, got lower={tuple(lower)}, upper={tuple(upper)}")
    return (px - x0) * (x1 - px) / (x1 - x0) * (py - y0) * (y1 - py) / (y1 - y0)


def coons(x: Tensor, lower: Sequence[float], upper: Sequence[float], trace) -> Tensor:
    """Coons-patch (bilinearly blended transfinite) interpolation (N,) of boundary data on the box
    [lower, upper]: equals ``trace`` on all four sides and is as smooth as the data.

    ``trace(points)`` gives the data (M,) at points (M, 2 or more) on the boundary; it is called with
    the projections of ``x`` on each side (other columns, e.g. time, unchanged) and at the corners.
    The data must be continuous at the corners (use :func:`blend` for a jump such as a uniform lid).
    W. J. Gordon, C. A. Hall, "Construction of curvilinear co-ordinate systems and applications to
    mesh generation", Int. J. Numer. Meth. Eng. 7, 461-477 (1973).
    """
    px, py = _xy(x)
    (x0, y0), (x1, y1) = lower, upper
    s, t = (px - x0) / (x1 - x0), (py - y0) / (y1 - y0)

    def at(cx=None, cy=None):
        z = x.clone()
        if cx is not None:
            z[:, 0] = cx
        if cy is not None:
            z[:, 1] = cy
        return trace(z)

    sides = (1 - s) * at(cx=x0) + s * at(cx=x1) + (1 - t) * at(cy=y0) + t * at(cy=y1)
    corners = ((1 - s) * (1 - t) * at(x0, y0) + s * (1 - t) * at(x1, y0)
               + (1 - s) * t * at(x0, y1) + s * t * at(x1, y1))
    return sides - corners
