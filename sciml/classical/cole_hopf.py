"""Exact solution of the viscous Burgers equation via the Cole--Hopf transformation.

Problem (dimensionless units throughout)::

    u_t + u u_x = nu u_xx,   x in [-1, 1],  t in [0, 1],
    u(x, 0) = -sin(pi x),    u(-1, t) = u(1, t) = 0.

The Cole--Hopf substitution u = -2 nu (log phi)_x turns Burgers into the heat
equation phi_t = nu phi_xx, whose solution is a Gaussian convolution of the
initial data.  For the sine initial condition this gives (Cole 1951; Hopf 1950;
Basdevant et al. 1986)::

              integral sin(pi (x - eta)) f(x - eta) exp(-eta^2 / (4 nu t)) d eta
    u(x,t) = - ------------------------------------------------------------------ ,
              integral               f(x - eta) exp(-eta^2 / (4 nu t)) d eta

    f(y) = exp(-cos(pi y) / (2 pi nu)).

With eta = sqrt(4 nu t) z both integrals become integral g(z) exp(-z^2) dz and
are evaluated by Gauss--Hermite quadrature.  Because f spans
exp(+-1 / (2 pi nu)) (about exp(+-50) for nu = 0.01/pi), the quadrature sums
are formed in log space: the largest exponent of each (x, t) is subtracted
before exponentiating, so nothing overflows and u is a ratio of O(1) numbers.
Since f and sin are 2-periodic and odd/even about x = +-1, the whole-line
formula satisfies the boundary conditions u(+-1, t) = 0.

Convergence (measured, see data/burgers_cole_hopf.md): for nu = 0.01/pi the
max-abs change of u on the 256 x 100 reference grid between n and 2n nodes is
1.8e-10 (n = 64), 8.2e-14 (n = 80), 2.7e-15 (n = 96), 2.0e-15 (n = 128).  The
default n_nodes = 128 therefore sits at round-off with margin.  The node count
needed grows as nu decreases (the dominant part of the integrand sits near
|z| ~ 1/sqrt(4 nu t)); measured: nu = 0.001 needs about 128, nu = 6.4e-4 about
192.  numpy's ``hermgauss`` overflows above 370 nodes, which bounds the usable
nu from below at roughly 5e-4.

References
----------
J. D. Cole, "On a quasi-linear parabolic equation occurring in aerodynamics",
    Quart. Appl. Math. 9, 225-236 (1951).
E. Hopf, "The partial differential equation u_t + u u_x = mu u_xx",
    Comm. Pure Appl. Math. 3, 201-230 (1950).
C. Basdevant, M. Deville, P. Haldenwang, J. M. Lacroix, J. Ouazzani, R. Peyret,
    P. Orlandi, A. T. Patera, "Spectral and finite difference solutions of the
    Burgers equation", Computers & Fluids 14, 23-41 (1986).

This module depends only on numpy (no torch, nothing else from sciml).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import math
import operator
import os
import sys

import numpy as np
from numpy.polynomial.hermite import hermgauss

__all__ = [
    "DEFAULT_NU",
    "DEFAULT_N_NODES",
    "burgers_cole_hopf",
    "burgers_cole_hopf_dx",
    "reference_grid",
    "main",
]

#: Default viscosity of the classic PINN benchmark (Raissi et al.; Basdevant et al.).
DEFAULT_NU = 0.01 / np.pi
#: Default Gauss--Hermite node count (converged to round-off for nu >= 0.001).
DEFAULT_N_NODES = 128
#: Largest node count for which numpy's hermgauss returns finite nodes/weights.
_MAX_N_NODES = 370
#: Target number of float64 elements per (points x nodes) work array.
_CHUNK_ELEMENTS = 1 << 20


def _check_nu(nu) -> float:
    try:
        val = float(nu)
    except (TypeError, ValueError):
        raise ValueError(f"nu must be a finite positive real number, got nu={nu!r}") from None
    if not math.isfinite(val) or val <= 0.0:
        raise ValueError(f"nu must be a finite positive real number, got nu={nu!r}")
    return val


def _check_n_nodes(n_nodes) -> int:
    try:
        n = operator.index(n_nodes)
    except TypeError:
        raise ValueError(f"n_nodes must be an integer, got n_nodes={n_nodes!r}") from None
    if n < 2:
        raise ValueError(f"n_nodes must be >= 2, got n_nodes={n}")
    if n > _MAX_N_NODES:
        raise ValueError(
            f"n_nodes must be <= {_MAX_N_NODES} (numpy hermgauss overflows beyond), got n_nodes={n}"
        )
    return n


def _check_xt(x, t):
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    try:
        x, t = np.broadcast_arrays(x, t)
    except ValueError:
        raise ValueError(f"x and t are not broadcastable: shapes {x.shape} and {t.shape}") from None
    if x.size and not np.all(np.isfinite(x)):
        bad = x[~np.isfinite(x)].flat[0]
        raise ValueError(f"x must be finite, got x={bad!r}")
    if t.size and not np.all(np.isfinite(t)):
        bad = t[~np.isfinite(t)].flat[0]
        raise ValueError(f"t must be finite, got t={bad!r}")
    if t.size and t.min() < 0.0:
        raise ValueError(f"t must be >= 0, got t={float(t.min())!r}")
    return x, t


@functools.lru_cache(maxsize=16)
def _log_hermgauss(n: int):
    """Gauss--Hermite nodes z and log-weights for weight exp(-z^2)."""
    z, w = hermgauss(n)
    if not (np.all(np.isfinite(z)) and np.all(np.isfinite(w))):  # pragma: no cover
        raise ValueError(f"hermgauss({n}) returned non-finite nodes/weights")
    with np.errstate(divide="ignore"):  # tiny weights may underflow to 0 -> -inf, harmless
        logw = np.log(w)
    z.setflags(write=False)
    logw.setflags(write=False)
    return z, logw


def _quadrature(x, t, nu, n_nodes, want_dx):
    """Evaluate u (and optionally u_x) at flattened points with t > 0."""
    z, logw = _log_hermgauss(n_nodes)
    c = np.sqrt(4.0 * nu * t)
    y = x[:, None] - c[:, None] * z[None, :]  # (points, nodes)
    # log of w_i f(y_i); subtract the row max (log-sum-exp) so exp() <= 1.
    e = logw[None, :] - np.cos(np.pi * y) / (2.0 * np.pi * nu)
    e -= e.max(axis=1, keepdims=True)
    p = np.exp(e)
    p /= p.sum(axis=1, keepdims=True)  # normalised quadrature weights
    s = np.sin(np.pi * y)
    mean_s = np.einsum("ij,ij->i", p, s)
    u = -mean_s
    if not want_dx:
        return u, None
    # f'(y) = f(y) sin(pi y) / (2 nu).  With <.> the p-weighted mean, the
    # quotient rule under the integral gives
    #   u_x = -pi <cos(pi y)> - (<s^2> - <s>^2) / (2 nu),
    # evaluated as a centred variance to avoid cancellation at the front.
    d = s - mean_s[:, None]
    var_s = np.einsum("ij,ij->i", p, d * d)
    mean_c = np.einsum("ij,ij->i", p, np.cos(np.pi * y))
    ux = -np.pi * mean_c - var_s / (2.0 * nu)
    return u, ux


def _evaluate(x, t, nu, n_nodes, want_dx):
    nu = _check_nu(nu)
    n_nodes = _check_n_nodes(n_nodes)
    x, t = _check_xt(x, t)
    shape = x.shape
    xf = x.ravel()
    tf = t.ravel()
    out = np.empty(xf.size, dtype=np.float64)
    # Exact initial condition (and its derivative) at t = 0.
    zero = tf == 0.0
    if want_dx:
        out[zero] = -np.pi * np.cos(np.pi * xf[zero])
    else:
        out[zero] = -np.sin(np.pi * xf[zero])
    idx = np.flatnonzero(~zero)
    chunk = max(1, _CHUNK_ELEMENTS // n_nodes)
    for start in range(0, idx.size, chunk):
        sel = idx[start : start + chunk]
        u, ux = _quadrature(xf[sel], tf[sel], nu, n_nodes, want_dx)
        out[sel] = ux if want_dx else u
    return out.reshape(shape)


def burgers_cole_hopf(x, t, nu=DEFAULT_NU, n_nodes=DEFAULT_N_NODES) -> np.ndarray:
    """Exact solution u(x, t) of viscous Burgers with u(x, 0) = -sin(pi x).

    Solves u_t + u u_x = nu u_xx on x in [-1, 1] with u(+-1, t) = 0 through the
    Cole--Hopf transformation (Cole 1951; Hopf 1950), as in Basdevant et al.
    (1986), "Spectral and finite difference solutions of the Burgers equation",
    Computers & Fluids 14, 23-41::

        u(x, t) = - sum_i w_i sin(pi y_i) f(y_i) / sum_i w_i f(y_i),
        y_i = x - sqrt(4 nu t) z_i,   f(y) = exp(-cos(pi y) / (2 pi nu)),

    where (z_i, w_i) are the ``n_nodes``-point Gauss--Hermite nodes/weights
    (weight exp(-z^2)).  Sums are formed in log space with the per-point
    maximum exponent removed, so no overflow occurs for small nu.  At t = 0 the
    initial condition -sin(pi x) is returned exactly.

    Parameters
    ----------
    x, t : array_like
        Position (dimensionless, intended range [-1, 1]) and time
        (dimensionless, t >= 0; intended range [0, 1]).  Must broadcast
        against each other, e.g. the outputs of ``np.meshgrid``.
    nu : float
        Kinematic viscosity, finite and > 0.  Default 0.01/pi.
    n_nodes : int
        Gauss--Hermite nodes, 2 <= n_nodes <= 370.  The default 128 is
        converged to round-off (~2e-15) for nu = 0.01/pi; smaller nu needs more.

    Returns
    -------
    numpy.ndarray
        float64 array of the broadcast shape of x and t.

    Raises
    ------
    ValueError
        If nu is non-finite or <= 0, n_nodes is not an integer in [2, 370],
        x or t is non-finite, t < 0, or x and t do not broadcast.
    """
    return _evaluate(x, t, nu, n_nodes, want_dx=False)


def burgers_cole_hopf_dx(x, t, nu=DEFAULT_NU, n_nodes=DEFAULT_N_NODES) -> np.ndarray:
    """Exact spatial derivative du/dx of :func:`burgers_cole_hopf`.

    Obtained by differentiating the quadrature formula analytically (quotient
    rule under the integral, using f'(y) = f(y) sin(pi y) / (2 nu))::

        u_x = -pi <cos(pi y)> - (<sin^2(pi y)> - <sin(pi y)>^2) / (2 nu),

    where <g> = sum_i w_i f(y_i) g(y_i) / sum_i w_i f(y_i).  The variance term
    is evaluated in centred form.  At t = 0 returns -pi cos(pi x) exactly.
    Arguments, shapes, units and errors are as for :func:`burgers_cole_hopf`.
    For nu = 0.01/pi, max_t |u_x(0, t)| = 152.00516 at t = 1.6037/pi
    (Basdevant et al. 1986).
    """
    return _evaluate(x, t, nu, n_nodes, want_dx=True)


def reference_grid(nu=DEFAULT_NU, nx=256, nt=100, n_nodes=DEFAULT_N_NODES) -> dict:
    """Cole--Hopf solution on a tensor grid.

    Returns a dict with ``x`` (nx,) = linspace(-1, 1, nx), ``t`` (nt,) =
    linspace(0, 1, nt), ``u`` (nt, nx) with u[j, i] = u(x_i, t_j), and
    ``nu`` (float).
    """
    nx = operator.index(nx)
    nt = operator.index(nt)
    if nx < 2:
        raise ValueError(f"nx must be >= 2, got nx={nx}")
    if nt < 2:
        raise ValueError(f"nt must be >= 2, got nt={nt}")
    nu = _check_nu(nu)
    x = np.linspace(-1.0, 1.0, nx)
    t = np.linspace(0.0, 1.0, nt)
    u = burgers_cole_hopf(x[None, :], t[:, None], nu=nu, n_nodes=n_nodes)
    return {"x": x, "t": t, "u": u, "nu": nu}


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def main(argv=None) -> int:
    """CLI: ``python -m sciml.classical.cole_hopf --out data/burgers_cole_hopf.npz``."""
    parser = argparse.ArgumentParser(
        description="Write the Cole-Hopf reference solution of viscous Burgers to an .npz file."
    )
    parser.add_argument("--nu", type=float, default=DEFAULT_NU, help="viscosity (default 0.01/pi)")
    parser.add_argument("--nx", type=int, default=256, help="number of x points (default 256)")
    parser.add_argument("--nt", type=int, default=100, help="number of t points (default 100)")
    parser.add_argument("--n-nodes", type=int, default=DEFAULT_N_NODES,
                        help=f"Gauss-Hermite nodes (default {DEFAULT_N_NODES})")
    parser.add_argument("--out", default=os.path.join("data", "burgers_cole_hopf.npz"),
                        help="output .npz path (default data/burgers_cole_hopf.npz)")
    args = parser.parse_args(argv)

    ref = reference_grid(nu=args.nu, nx=args.nx, nt=args.nt, n_nodes=args.n_nodes)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    # np.savez (stored, uncompressed) writes fixed zip timestamps, so the bytes
    # depend only on the arrays; an open handle keeps the exact file name.
    with open(args.out, "wb") as fh:
        np.savez(
            fh,
            x=ref["x"],
            t=ref["t"],
            u=ref["u"],
            nu=np.float64(ref["nu"]),
        )
    digest = _sha256(args.out)
    print(f"wrote {args.out}: u shape {ref['u'].shape}, nu={ref['nu']!r}, n_nodes={args.n_nodes}")
    print(f"sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
