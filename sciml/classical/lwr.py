"""Viscous LWR traffic flow with the Greenshields fundamental diagram: Godunov reference solver.

Problem (dimensionless or any consistent units)::

    rho_t + Q(rho)_x = eps rho_xx,   Q(rho) = v_f rho (1 - rho / rho_m),
    Q'(rho) = v_f (1 - 2 rho / rho_m),

rho the density (vehicles per unit length, 0 <= rho <= rho_m), v_f the free-flow speed, rho_m the
jam density, eps >= 0 a diffusion coefficient (length^2 / time). Q is concave with its maximum
Q(rho_c) = v_f rho_m / 4 at the critical density rho_c = rho_m / 2.

Method. Finite volumes on a uniform grid of cell averages. The convective flux through a face is the
Godunov flux of the concave Greenshields flux, which is the cell-transmission model's
demand/supply form (Daganzo 1995; Lebacque 1996)::

    F_{i+1/2} = min(D(rho_i), S(rho_{i+1})),  D(rho) = Q(min(rho, rho_c)),  S(rho) = Q(max(rho, rho_c)),

and the diffusive flux is the central difference -eps (rho_{i+1} - rho_i) / dx. Time stepping is
forward Euler with

    dt <= cfl / (a / dx + 2 eps / dx^2),   a = max |Q'| over the range of the data,  0 < cfl <= 1,

under which the scheme is monotone (each new value is a non-decreasing function of the old ones, as
only one of D'(rho_i) and -S'(rho_i) is non-zero): it keeps the density inside the range of its
initial and boundary values, so a computed once stays a bound. The scheme is first order in dx
(numerical diffusion |Q'| dx / 2); since dt is proportional to dx^2 where diffusion dominates, the
time error is of second order in dx. Boundaries are periodic, or open with a constant ghost-cell
state on each side (the upstream demand and downstream supply of the cell-transmission model).

Exact solutions for checking it (``riemann``, ``travelling_wave``): the inviscid Riemann problem
(a shock of speed s = v_f (1 - (rho_L + rho_R) / rho_m) when rho_L < rho_R, a rarefaction fan when
rho_L > rho_R) and the viscous travelling wave of the shock. The latter follows from
rho = phi(z), z = x - s t: integrating -s phi' + Q(phi)' = eps phi'' once with phi -> rho_L, rho_R at
z -> -inf, +inf gives eps phi' = (v_f / rho_m) (phi - rho_L) (rho_R - phi), whose solution is

    phi = (rho_L + rho_R) / 2 + (rho_R - rho_L) / 2 tanh(k z),   k = v_f (rho_R - rho_L) / (2 eps rho_m).

With v_f = rho_m = 1, u = Q'(rho) = 1 - 2 rho turns the equation into viscous Burgers
u_t + u u_x = eps u_xx, which the tests use to check this solver against the Cole-Hopf solution
(:mod:`sciml.classical.cole_hopf`).

The ring road (``RING_ROAD``, ``ring_road_initial``) is the case of Shi, Mo, Di et al.
(physics-informed deep learning for traffic state estimation): x in [0, 1) periodic, t in [0, 3],
v_f = rho_m = 1, eps = 0.005, rho(x, 0) = 0.05 + 0.9 exp(-100 (x - 0.5)^2). Its bundled reference
(``data/traffic_ring_road.npz``) is the Richardson extrapolation 2 rho_4800 - rho_2400 of two grids,
first order each, sampled at the points x = k / 600; ``ring_road_self_convergence`` measures its
error by repeating the extrapolation on coarser pairs (numbers in data/traffic_ring_road.md).

CLI::

    python -m sciml.classical.lwr ring-road [--out data/traffic_ring_road.npz]
    python -m sciml.classical.lwr ring-road-check

References
----------
M. J. Lighthill, G. B. Whitham, "On kinematic waves II", Proc. R. Soc. A 229, 317-345 (1955);
P. I. Richards, "Shock waves on the highway", Oper. Res. 4, 42-51 (1956).
C. F. Daganzo, "The cell transmission model, part II: network traffic", Transp. Res. B 29,
    79-93 (1995); J.-P. Lebacque, "The Godunov scheme and what it means for first order traffic flow
    models", ISTTT 13 (1996).
R. Shi, Z. Mo, X. Di, "Physics-informed deep learning for traffic state estimation: a hybrid
    paradigm informed by second-order traffic models", AAAI (2021).

This module depends only on numpy (and :mod:`sciml.data` for the bundled file).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import operator
import os
import sys
from types import MappingProxyType

import numpy as np

__all__ = [
    "RING_ROAD",
    "greenshields",
    "cell_centres",
    "cell_averages",
    "godunov",
    "riemann",
    "travelling_wave",
    "ring_road_initial",
    "ring_road_solve",
    "ring_road_reference",
    "ring_road_self_convergence",
    "main",
]

RING_ROAD = MappingProxyType({
    "length": 1.0,   # road length L: x in [0, L) periodic
    "t_end": 3.0,    # final time
    "v_f": 1.0,      # free-flow speed
    "rho_m": 1.0,    # jam density
    "eps": 0.005,    # diffusion coefficient
})
"""Parameters of the ring road of Shi, Mo, Di et al. (dimensionless; read-only mapping)."""

RING_ROAD_CELLS = (2400, 4800)
"""Grids (cells) whose Richardson extrapolation is the bundled ring-road reference."""
RING_ROAD_NX = 600
"""Sample points x = k / 600 (k = 0..599) of the bundled reference; every grid used is a multiple."""
RING_ROAD_NT = 301
"""Sample times t = linspace(0, 3, 301) of the bundled reference (every 0.01)."""


# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------
def _positive(name, value) -> float:
    try:
        val = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite positive number, got {name}={value!r}") from None
    if not (math.isfinite(val) and val > 0):
        raise ValueError(f"{name} must be a finite positive number, got {name}={value!r}")
    return val


def _non_negative(name, value) -> float:
    try:
        val = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number >= 0, got {name}={value!r}") from None
    if not (math.isfinite(val) and val >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {name}={value!r}")
    return val


def _n_cells(n_cells, minimum=2) -> int:
    try:
        n = operator.index(n_cells)
    except TypeError:
        raise ValueError(f"n_cells must be an integer >= {minimum}, got n_cells={n_cells!r}") from None
    if n < minimum:
        raise ValueError(f"n_cells must be an integer >= {minimum}, got n_cells={n}")
    return n


def _interval(x_min, x_max) -> tuple[float, float]:
    try:
        a, b = float(x_min), float(x_max)
    except (TypeError, ValueError):
        a = b = math.nan
    if not (math.isfinite(a) and math.isfinite(b) and b > a):
        raise ValueError(f"need finite x_min < x_max, got x_min={x_min!r}, x_max={x_max!r}")
    return a, b


def _density(name, value, rho_m) -> float:
    try:
        val = float(value)
    except (TypeError, ValueError):
        val = math.nan
    if not (math.isfinite(val) and 0.0 <= val <= rho_m):
        raise ValueError(f"{name} must be a density in [0, rho_m] = [0, {rho_m:g}], got {name}={value!r}")
    return val


# ---------------------------------------------------------------------------------------------
# the fundamental diagram and the grid
# ---------------------------------------------------------------------------------------------
def greenshields(rho, v_f=1.0, rho_m=1.0) -> tuple[np.ndarray, np.ndarray]:
    """Greenshields flux Q = v_f rho (1 - rho/rho_m) and characteristic speed Q' = v_f (1 - 2 rho/rho_m).

    ``rho`` (any shape, vehicles per unit length), ``v_f`` (length / time) and ``rho_m`` (vehicles
    per unit length) > 0. Returns ``(Q, dQ)``, each of the shape of ``rho`` (Q in vehicles / time,
    dQ in length / time).
    """
    v_f, rho_m = _positive("v_f", v_f), _positive("rho_m", rho_m)
    rho = np.asarray(rho, dtype=np.float64)
    return v_f * rho * (1.0 - rho / rho_m), v_f * (1.0 - 2.0 * rho / rho_m)


def cell_centres(n_cells, x_min=0.0, x_max=1.0) -> np.ndarray:
    """Centres x_i = x_min + (i + 1/2) dx, dx = (x_max - x_min) / n_cells, of a uniform grid: (n_cells,)."""
    n = _n_cells(n_cells, minimum=1)
    a, b = _interval(x_min, x_max)
    return a + (np.arange(n) + 0.5) * ((b - a) / n)


def cell_averages(func, n_cells, x_min=0.0, x_max=1.0, breaks=(), nodes=4) -> np.ndarray:
    """Averages of ``func`` over the cells of a uniform grid: (n_cells,).

    Each cell is cut at the points of ``breaks`` that fall inside it (e.g. the positions of jumps
    and kinks of ``func``), and each piece is integrated by ``nodes``-point Gauss-Legendre
    quadrature, so the averages are exact for functions that are polynomials of degree
    < 2 ``nodes`` between breaks (the exact Riemann solutions: constant or linear). ``func`` takes
    an array of positions and returns values of the same shape.
    """
    n = _n_cells(n_cells, minimum=1)
    a, b = _interval(x_min, x_max)
    nodes = operator.index(nodes)
    if nodes < 1:
        raise ValueError(f"nodes must be an integer >= 1, got nodes={nodes}")
    edges = np.linspace(a, b, n + 1)
    inner = np.asarray(breaks, dtype=np.float64).ravel()
    inner = inner[(inner > a) & (inner < b)]
    points = np.union1d(edges, inner)  # sorted, the edges among them
    start = np.searchsorted(points, edges[:-1])  # first piece of each cell
    z, w = np.polynomial.legendre.leggauss(nodes)
    left, width = points[:-1], np.diff(points)
    x = left[:, None] + 0.5 * width[:, None] * (z + 1.0)
    pieces = 0.5 * width * (np.asarray(func(x), dtype=np.float64) @ w)
    return np.add.reduceat(pieces, start) / np.diff(edges)


# ---------------------------------------------------------------------------------------------
# the solver
# ---------------------------------------------------------------------------------------------
def godunov(rho0, times, x_min=0.0, x_max=1.0, v_f=1.0, rho_m=1.0, eps=0.0, periodic=True,
            left=None, right=None, cfl=0.9) -> np.ndarray:
    """Godunov (cell-transmission) finite volumes for viscous Greenshields LWR; cell averages at ``times``.

    Parameters
    ----------
    rho0 : array (n_cells,)
        Cell averages of the density at t = 0 on the uniform grid of [x_min, x_max]
        (e.g. from :func:`cell_averages`); each in [0, rho_m].
    times : array (n_times,)
        Output times, >= 0 and strictly increasing; a time 0 returns ``rho0``. Each output interval
        is split into equal steps no longer than the stable step.
    x_min, x_max : float
        The road (length units).
    v_f, rho_m, eps : float
        Free-flow speed (length / time) > 0, jam density > 0, diffusion (length^2 / time) >= 0.
    periodic : bool
        A ring road (the default). Otherwise give ``periodic=False`` and both ``left`` and
        ``right``, the constant densities of the ghost cells beyond each end (open road).
    cfl : float
        Fraction of the stable step, in (0, 1].

    Returns
    -------
    numpy.ndarray (n_times, n_cells)
        Cell averages; row j at ``times[j]``.
    """
    v_f, rho_m, eps = _positive("v_f", v_f), _positive("rho_m", rho_m), _non_negative("eps", eps)
    try:
        cfl = float(cfl)
    except (TypeError, ValueError):
        raise ValueError(f"cfl must be a number in (0, 1], got cfl={cfl!r}") from None
    if not (0.0 < cfl <= 1.0):
        raise ValueError(f"cfl must be in (0, 1] (the scheme is unstable beyond 1), got cfl={cfl!r}")
    rho0 = np.array(rho0, dtype=np.float64)
    if rho0.ndim != 1:
        raise ValueError(f"rho0 must be one-dimensional (n_cells,), got shape {rho0.shape}")
    n = _n_cells(rho0.size, minimum=2)
    a_, b_ = _interval(x_min, x_max)
    dx = (b_ - a_) / n
    if not np.all(np.isfinite(rho0)) or rho0.min() < 0.0 or rho0.max() > rho_m:
        bad = rho0[~(np.isfinite(rho0) & (rho0 >= 0.0) & (rho0 <= rho_m))][0]
        raise ValueError(f"rho0 must hold densities in [0, rho_m] = [0, {rho_m:g}], got a value {float(bad)!r}")
    if periodic:
        if left is not None or right is not None:
            raise ValueError(f"a periodic road has no boundary states: got left={left!r}, right={right!r} "
                             "with periodic=True (pass periodic=False for an open road)")
        ghosts = ()
    else:
        if left is None or right is None:
            raise ValueError(f"an open road (periodic=False) needs both boundary states, got left={left!r}, "
                             f"right={right!r}")
        ghosts = (_density("left", left, rho_m), _density("right", right, rho_m))
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size < 1 or not np.all(np.isfinite(times)):
        raise ValueError(f"times must be a non-empty 1-d array of finite times, got {times!r}")
    if times[0] < 0.0:
        raise ValueError(f"times must be >= 0, got a first time {float(times[0])!r}")
    if np.any(np.diff(times) <= 0.0):
        k = int(np.flatnonzero(np.diff(times) <= 0.0)[0])
        raise ValueError(f"times must be strictly increasing, got {float(times[k])!r} followed by "
                         f"{float(times[k + 1])!r}")

    # Largest characteristic speed over the range of the data: |Q'| is V-shaped, so its maximum
    # over an interval is at an end. The monotone scheme keeps rho inside that range.
    lo, hi = min((rho0.min(), *ghosts)), max((rho0.max(), *ghosts))
    speed = max(abs(v_f * (1.0 - 2.0 * lo / rho_m)), abs(v_f * (1.0 - 2.0 * hi / rho_m)))
    rate = speed / dx + 2.0 * eps / dx ** 2  # 1 / (the stable step at cfl = 1)
    rho_c = 0.5 * rho_m

    ext = np.empty(n + 2)  # ghost, the n cells, ghost
    rho = ext[1:-1]
    rho[:] = rho0
    if ghosts:
        ext[0], ext[-1] = ghosts
    demand, supply = np.empty(n + 1), np.empty(n + 1)
    flux, diff = np.empty(n + 1), np.empty(n + 1)

    out = np.empty((times.size, n))
    t = 0.0
    for j, t_next in enumerate(times):
        span = t_next - t
        steps = max(1, math.ceil(span * rate / cfl)) if span > 0 else 0
        dt = span / steps if steps else 0.0
        lam, mu = dt / dx, eps * dt / dx ** 2
        # Flux times lam, with Q(r) = r (v_f - (v_f / rho_m) r).
        qa, qb = lam * v_f, lam * v_f / rho_m
        for _ in range(steps):
            if not ghosts:
                ext[0], ext[-1] = rho[-1], rho[0]
            np.minimum(ext[:-1], rho_c, out=demand)          # D(rho_i) = Q(min(rho_i, rho_c))
            np.multiply(demand, -qb, out=diff)
            diff += qa
            demand *= diff
            np.maximum(ext[1:], rho_c, out=supply)           # S(rho_{i+1}) = Q(max(rho_{i+1}, rho_c))
            np.multiply(supply, -qb, out=diff)
            diff += qa
            supply *= diff
            np.minimum(demand, supply, out=flux)
            np.subtract(ext[1:], ext[:-1], out=diff)         # viscous flux -eps (rho_{i+1} - rho_i) / dx
            diff *= mu
            flux -= diff
            rho -= flux[1:]
            rho += flux[:-1]
        t = t_next
        out[j] = rho
    return out


# ---------------------------------------------------------------------------------------------
# exact solutions
# ---------------------------------------------------------------------------------------------
def riemann(x, t, rho_l, rho_r, x0=0.0, v_f=1.0, rho_m=1.0) -> np.ndarray:
    """Exact entropy solution of the inviscid Riemann problem rho(x, 0) = rho_l (x < x0), rho_r (x > x0).

    rho_l < rho_r: a shock of speed s = v_f (1 - (rho_l + rho_r) / rho_m) (the Rankine-Hugoniot
    speed). rho_l > rho_r: a rarefaction fan, rho = (rho_m / 2) (1 - (x - x0) / (v_f t)) between the
    characteristics x - x0 = Q'(rho_l) t and Q'(rho_r) t. ``x`` and ``t`` (t >= 0) broadcast; at
    t = 0 the initial step is returned (rho_r at x = x0). Densities in [0, rho_m].
    """
    v_f, rho_m = _positive("v_f", v_f), _positive("rho_m", rho_m)
    rho_l, rho_r = _density("rho_l", rho_l, rho_m), _density("rho_r", rho_r, rho_m)
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    if t.size and (not np.all(np.isfinite(t)) or t.min() < 0.0):
        raise ValueError(f"t must be finite and >= 0, got t={float(t.min())!r}")
    xi = x - x0
    if rho_l <= rho_r:
        s = v_f * (1.0 - (rho_l + rho_r) / rho_m)
        return np.where(xi < s * t, rho_l, rho_r)
    with np.errstate(divide="ignore", invalid="ignore"):
        fan = 0.5 * rho_m * (1.0 - xi / (v_f * t))
    fan = np.where(t > 0, np.clip(fan, rho_r, rho_l), np.where(xi < 0, rho_l, rho_r))
    return fan


def travelling_wave(x, t, rho_l, rho_r, eps, x0=0.0, v_f=1.0, rho_m=1.0) -> np.ndarray:
    """Exact viscous travelling wave joining rho_l < rho_r (the viscous shock profile)::

        rho = (rho_l + rho_r)/2 + (rho_r - rho_l)/2 tanh(v_f (rho_r - rho_l) (x - x0 - s t) / (2 eps rho_m)),
        s = v_f (1 - (rho_l + rho_r) / rho_m).

    ``x`` and ``t`` broadcast; ``eps`` > 0 (length^2 / time); densities in [0, rho_m].
    """
    v_f, rho_m, eps = _positive("v_f", v_f), _positive("rho_m", rho_m), _positive("eps", eps)
    rho_l, rho_r = _density("rho_l", rho_l, rho_m), _density("rho_r", rho_r, rho_m)
    if not rho_l < rho_r:
        raise ValueError(f"a travelling wave needs rho_l < rho_r (a shock), got rho_l={rho_l!r}, rho_r={rho_r!r}")
    s = v_f * (1.0 - (rho_l + rho_r) / rho_m)
    k = v_f * (rho_r - rho_l) / (2.0 * eps * rho_m)
    z = np.asarray(x, dtype=np.float64) - x0 - s * np.asarray(t, dtype=np.float64)
    return 0.5 * (rho_l + rho_r) + 0.5 * (rho_r - rho_l) * np.tanh(k * z)


# ---------------------------------------------------------------------------------------------
# the ring road
# ---------------------------------------------------------------------------------------------
def ring_road_initial(x) -> np.ndarray:
    """rho(x, 0) = 0.05 + 0.9 exp(-100 (x - 0.5)^2) on [0, 1) (its jump across x = 0 is 1e-11)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.05 + 0.9 * np.exp(-100.0 * (x - 0.5) ** 2)


def ring_road_solve(n_cells, nt=RING_ROAD_NT, cfl=0.9, eps=RING_ROAD["eps"],
                    t_end=RING_ROAD["t_end"]) -> dict[str, np.ndarray]:
    """The ring road on ``n_cells`` cells: ``x`` (n_cells,) centres, ``t`` (nt,) = linspace(0, t_end, nt),
    ``rho`` (nt, n_cells) cell averages, ``rho[j, i]`` at (x[i], t[j]). ``eps`` and ``t_end`` default
    to the case's (0.005, 3); v_f = rho_m = L = 1, so any other ring road is this one in scaled form."""
    n = _n_cells(n_cells)
    nt = operator.index(nt)
    if nt < 2:
        raise ValueError(f"nt must be an integer >= 2, got nt={nt}")
    p = RING_ROAD
    t = np.linspace(0.0, _positive("t_end", t_end), nt)
    rho0 = cell_averages(ring_road_initial, n, 0.0, p["length"])
    rho = godunov(rho0, t, 0.0, p["length"], v_f=p["v_f"], rho_m=p["rho_m"], eps=eps, cfl=cfl)
    return {"x": cell_centres(n, 0.0, p["length"]), "t": t, "rho": rho}


def _at_faces(rho, nx):
    """Point values at x = k L / nx (k = 0..nx-1) from periodic cell averages ``rho`` (..., n), n a
    multiple of nx: the fourth-order face formula (-r_{i-1} + 7 r_i + 7 r_{i+1} - r_{i+2}) / 12."""
    n = rho.shape[-1]
    if n % nx:
        raise ValueError(f"the grid's {n} cells are not a multiple of the {nx} sample points")
    stride = n // nx
    i = (np.arange(nx) * stride - 1) % n  # the cell left of the face at x = k L / nx
    take = lambda shift: rho[..., (i + shift) % n]  # noqa: E731 - one-line helper
    return (-take(-1) + 7.0 * take(0) + 7.0 * take(1) - take(2)) / 12.0


def _richardson(coarse, fine):
    """First-order extrapolation 2 fine - coarse (the leading O(dx) error cancels)."""
    return 2.0 * fine - coarse


def ring_road_reference(cells=RING_ROAD_CELLS, nx=RING_ROAD_NX, nt=RING_ROAD_NT, eps=RING_ROAD["eps"],
                        t_end=RING_ROAD["t_end"]) -> dict[str, np.ndarray]:
    """The bundled ring-road reference: Richardson extrapolation of the grids ``cells`` = (N, 2N);
    with other ``eps`` and ``t_end`` (scaled units, see :func:`ring_road_solve`) the same method for
    that ring road.

    Returns ``x`` (nx,) = k / nx, ``t`` (nt,) = linspace(0, t_end, nt) and ``rho`` (nt, nx), point
    values with ``rho[j, i]`` at (x[i], t[j]). Row t = 0 is the initial condition exactly.
    """
    coarse, fine = (_n_cells(c) for c in cells)
    if fine != 2 * coarse:
        raise ValueError(f"cells must be (N, 2N) for the extrapolation, got cells={tuple(cells)!r}")
    runs = [ring_road_solve(c, nt, eps=eps, t_end=t_end) for c in (coarse, fine)]
    rho = _richardson(*(_at_faces(r["rho"], nx) for r in runs))
    x = np.arange(nx) * (RING_ROAD["length"] / nx)
    rho[0] = ring_road_initial(x)
    return {"x": x, "t": runs[0]["t"], "rho": rho}


def _rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def ring_road_self_convergence(cells=(600, 1200, 2400, 4800), nx=RING_ROAD_NX, nt=RING_ROAD_NT) -> dict:
    """Self-convergence of the ring-road solver and of its Richardson extrapolation.

    ``cells`` is a sequence of grids, each twice the one before (at least three). Each grid's
    solution is taken at the sample points x = k / nx; R_k = 2 rho_{k+1} - rho_k are the
    extrapolations of consecutive pairs. Returns

    - ``cells`` and ``rho`` (the extrapolation of the last pair, (nt, nx)), ``x``, ``t``;
    - ``change`` : relative L2 of rho_{k+1} - rho_k over the whole (x, t) field, per pair;
    - ``order`` : log2 of successive ratios of ``change`` (the scheme's order, about 1);
    - ``richardson_change`` : relative L2 of R_{k+1} - R_k;
    - ``richardson_order`` : log2 of successive ratios of ``richardson_change`` (about 2);
    - ``error`` : the estimated relative L2 error of the last extrapolation,
      richardson_change[-1] / (2^p - 1) with p = 2 (its nominal order).
    """
    cells = [_n_cells(c) for c in cells]
    if len(cells) < 3 or any(b != 2 * a for a, b in zip(cells, cells[1:])):
        raise ValueError(f"cells must be at least three grids, each twice the one before, got {cells!r}")
    sampled = [_at_faces(ring_road_solve(c, nt)["rho"], nx) for c in cells]
    change = [_rel_l2(b, a) for a, b in zip(sampled, sampled[1:])]
    extrap = [_richardson(a, b) for a, b in zip(sampled, sampled[1:])]
    r_change = [_rel_l2(b, a) for a, b in zip(extrap, extrap[1:])]
    log2 = lambda v: [float(np.log2(p / q)) for p, q in zip(v, v[1:])]  # noqa: E731 - one-line helper
    rho = extrap[-1]
    x = np.arange(nx) * (RING_ROAD["length"] / nx)
    rho[0] = ring_road_initial(x)
    return {"cells": cells, "x": x, "t": np.linspace(0.0, RING_ROAD["t_end"], nt), "rho": rho,
            "change": change, "order": log2(change), "richardson_change": r_change,
            "richardson_order": log2(r_change), "error": r_change[-1] / 3.0}


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def _write(path, ref):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    p = RING_ROAD
    with open(path, "wb") as fh:  # np.savez writes fixed zip timestamps: the bytes depend on the arrays only
        np.savez(fh, x=ref["x"], t=ref["t"], rho=ref["rho"], v_f=np.float64(p["v_f"]),
                 rho_m=np.float64(p["rho_m"]), eps=np.float64(p["eps"]),
                 cells=np.asarray(RING_ROAD_CELLS, dtype=np.int64))
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def main(argv=None) -> int:
    """CLI: ``python -m sciml.classical.lwr ring-road`` writes the bundled reference;
    ``ring-road-check`` measures its self-convergence and compares it with the bundled file."""
    parser = argparse.ArgumentParser(description="Godunov reference solutions of viscous Greenshields LWR.")
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("ring-road", help="write the ring-road reference (Richardson of 2400/4800 cells)")
    write.add_argument("--out", default=os.path.join("data", "traffic_ring_road.npz"), help="output .npz path")
    sub.add_parser("ring-road-check", help="self-convergence on 600..4800 cells, and the bundled file against it")
    args = parser.parse_args(argv)
    if args.command == "ring-road":
        ref = ring_road_reference()
        digest = _write(args.out, ref)
        print(f"wrote {args.out}: rho shape {ref['rho'].shape}, Richardson of {RING_ROAD_CELLS} cells")
        print(f"sha256 {digest}")
        return 0
    from sciml import data as bundled

    conv = ring_road_self_convergence()
    print(f"cells {conv['cells']}")
    print("relative L2 change between consecutive grids: " + ", ".join(f"{c:.3e}" for c in conv["change"]))
    print("observed order: " + ", ".join(f"{o:.3f}" for o in conv["order"]))
    print("Richardson change: " + ", ".join(f"{c:.3e}" for c in conv["richardson_change"]))
    print("Richardson order: " + ", ".join(f"{o:.3f}" for o in conv["richardson_order"]))
    print(f"estimated relative L2 error of the reference: {conv['error']:.2e}")
    stored = bundled.load("traffic_ring_road")["rho"]
    print(f"bundled file vs this run: max abs difference {np.abs(stored - conv['rho']).max():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
