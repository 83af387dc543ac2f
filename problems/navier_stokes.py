"""Incompressible Navier–Stokes in 2D: data-free PINN problems with hard boundary conditions.

    u·∇u + ∂u/∂t = -∇p/ρ + ν ∇²u,    ∇·u = 0,    outputs (u, v, p).

The user gives physical parameters (lengths in m, velocities in m/s, ν in m²/s, ρ in kg/m³,
p in Pa); each problem nondimensionalises internally by its length scale L and velocity scale U:
the residuals are returned in units of U/L (continuity) and U²/L (momentum), and the hard
constraint scales the network's O(1) outputs by U (velocity) and ρU² (pressure), so one network
and one loss serve any choice of units.

Boundary conditions are exact by approximate distance functions (:mod:`sciml.adf`): velocity
``u = g + (φ/L) U N`` with ``g`` an extension of the boundary data (transfinite blend, or a Coons patch
on boxes) and ``φ`` the composed distance to the boundary pieces where velocity is prescribed. ``enforce="soft"`` penalises the same
conditions instead (the comparison the reference paper makes).

Problems: :class:`Kovasznay`, :class:`LidDrivenCavity`, :class:`TaylorGreen`, :class:`Cylinder`.

Reference for this family: the data-free PINN with hard boundary conditions validated against CFD
(velocity profiles, pressure and drag) is the approach of "Solving Navier-Stokes equations using
data-free physics-informed neural networks with hard boundary conditions" (the issue's reference
paper); the benchmark values are cited where they are used.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml import adf
from sciml.classical.cavity import BUNDLED_RE, GHIA_SUSPECT, LID_PROFILES, bundled, ghia_table, solve_cavity
from sciml.conditions import Condition, DirichletBC, PointSet
from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.problem import Parameter, Problem, Reference

POSITIVE = {"minimum": 0.0, "exclusive_minimum": True}
ENFORCE = Parameter("hard", doc="boundary (and initial) conditions exact ('hard', by distance functions) or "
                                "penalised ('soft')", choices=("hard", "soft"))


def navier_stokes(f, nu: float, rho: float = 1.0, velocity: float = 1.0, length: float = 1.0):
    """Residuals of incompressible Navier–Stokes at the points of ``f`` (outputs u, v, p; inputs x, y
    and optionally t), nondimensionalised: continuity by U/L, momentum by U²/L. Returns
    {"continuity", "momentum_x", "momentum_y"} -> (N,)."""
    u, v = f["u"], f["v"]
    ux, uy, vx, vy = f.d("u", "x"), f.d("u", "y"), f.d("v", "x"), f.d("v", "y")
    mx = u * ux + v * uy + f.d("p", "x") / rho - nu * f.laplacian("u", ("x", "y"))
    my = u * vx + v * vy + f.d("p", "y") / rho - nu * f.laplacian("v", ("x", "y"))
    if "t" in f.inputs:
        mx = mx + f.d("u", "t")
        my = my + f.d("v", "t")
    scale = length / velocity ** 2
    return {"continuity": (ux + vy) * (length / velocity), "momentum_x": mx * scale, "momentum_y": my * scale}


def _column(fn):
    """A value function (N, d) -> (N,) as a column (N, 1)."""
    return lambda x: fn(x)[:, None]


class NavierStokes2D(Problem):
    """Shared parts of the steady/transient 2-D problems: inputs, outputs, units, residual, output scaling.

    Subclasses set ``nu`` and ``velocity_scale`` (properties or attributes), ``length_scale`` where it
    is not their ``length`` parameter, and implement :meth:`velocity_boundary` (distance φ (N,) and
    data (g_u, g_v) (N,) each) and the geometry; the pressure is left free (fixed only up to a
    constant where no condition sets it).
    """

    inputs = ("x", "y")
    outputs = ("u", "v", "p")
    units = {"x": "m", "y": "m", "t": "s", "u": "m/s", "v": "m/s", "p": "Pa"}
    vectors = {"velocity": ("u", "v")}

    @property
    def rho(self) -> float:
        """Density ρ [kg/m³]: the problem's ``density`` parameter where it declares one, else 1."""
        return self.params.get("density", 1.0)

    @property
    def length_scale(self) -> float:
        """Length scale L [m] of the nondimensionalisation: the ``length`` parameter where the problem
        declares one, else 1."""
        return self.params.get("length", 1.0)

    def residual(self, f):
        return navier_stokes(f, self.nu, self.rho, self.velocity_scale, self.length_scale)

    def velocity_boundary(self, x: torch.Tensor):
        """(φ, g_u, g_v) at points (N, d): φ vanishes where velocity is prescribed, g is the data there."""
        raise NotImplementedError

    def pressure_distance(self, x: torch.Tensor) -> torch.Tensor:
        """Distance (N,) multiplying the pressure network (ones: pressure unconstrained)."""
        return torch.ones_like(x[:, 0])

    def pressure_particular(self, x: torch.Tensor) -> torch.Tensor:
        """Known part (N,) of the pressure, in Pa, added to the network's (zeros: none)."""
        return torch.zeros_like(x[:, 0])

    def constraint(self):
        if self.enforce == "soft":
            return None
        U, L, P = self.velocity_scale, self.length_scale, self.rho * self.velocity_scale ** 2

        def particular(x):
            _, gu, gv = self.velocity_boundary(x)
            return torch.stack([gu, gv, self.pressure_particular(x)], dim=1)

        def distance(x):
            phi = self.velocity_boundary(x)[0] * (U / L)
            return torch.stack([phi, phi, P * self.pressure_distance(x)], dim=1)

        return HardConstraint(particular, distance)

    def conditions(self):
        if self.enforce == "hard":
            return []
        return [DirichletBC(name, (lambda x, k=k: self.velocity_boundary(x)[k]), on="boundary",
                            name=f"boundary_{name}", n_points=400, weight=1.0 / self.velocity_scale ** 2,
                            where=self.prescribed_velocity)
                for k, name in ((1, "u"), (2, "v"))]

    def prescribed_velocity(self, points: np.ndarray) -> np.ndarray:
        """Mask (N,) of boundary points where the velocity is prescribed (all, unless overridden)."""
        return np.ones(len(points), bool)


# -- Kovasznay ---------------------------------------------------------------------------------------
class Kovasznay(NavierStokes2D):
    """Kovasznay (1948) flow behind a grid: an exact steady solution, on [-0.5, 1] × [-0.5, 1.5].

    u = 1 - e^{λx} cos 2πy, v = λ/(2π) e^{λx} sin 2πy, p = (1 - e^{2λx})/2 with
    λ = Re/2 - sqrt(Re²/4 + 4π²), ν = 1/Re (dimensionless, U = L = ρ = 1). The velocity on the four
    sides is the exact trace; inside, only the equations are used.

    Reference: L. I. G. Kovasznay, "Laminar flow behind a two-dimensional grid", Proc. Cambridge
    Philos. Soc. 44, 58-62 (1948).
    """

    name = "kovasznay"
    description = "Kovasznay flow (steady 2-D Navier-Stokes, exact solution), velocity BCs exact"
    units = {"x": "1", "y": "1", "u": "1", "v": "1", "p": "1"}
    parameters = {"re": Parameter(20.0, doc="Reynolds number U L / nu", **POSITIVE), "enforce": ENFORCE}
    # The PINN's default (issue 17): a 30 x 3 float64 network, 1,000 Adam steps and then 8,000 SSBroyden
    # steps (self-scaled Broyden, dense inverse Hessian) on points redrawn every 500 steps, checked against
    # the 50 x 4 float32 Adam + L-BFGS default it replaced by the kovasznay-default validation study.
    # ``--optimizer adam-lbfgs`` runs L-BFGS for the same lbfgs_iterations instead.
    solver_defaults = {"width": 50, "depth": 4, "n_interior": 2000, "iterations": 2000, "lbfgs_iterations": 3000,
                       "eval_every": 250,
                       "pinn": {"width": 30, "depth": 3, "dtype": "float64", "resample_every": 500, "iterations": 1000,
                                "optimizer": "ssbroyden", "lbfgs_iterations": 8000}}
    LOWER, UPPER = (-0.5, -0.5), (1.0, 1.5)
    velocity_scale = 1.0

    @property
    def nu(self) -> float:
        return 1.0 / self.re

    @property
    def lam(self) -> float:
        return self.re / 2 - math.sqrt(self.re ** 2 / 4 + 4 * math.pi ** 2)

    def exact(self, x, y, lib=torch):
        """Exact (u, v, p) at coordinates x, y (arrays of one shape, torch or numpy via ``lib``)."""
        e = lib.exp(self.lam * x)
        return (1 - e * lib.cos(2 * math.pi * y), self.lam / (2 * math.pi) * e * lib.sin(2 * math.pi * y),
                (1 - lib.exp(2 * self.lam * x)) / 2)

    def geometry(self):
        return dde().Rectangle(list(self.LOWER), list(self.UPPER))

    def velocity_boundary(self, x):
        # Coons patch of the exact velocity on the four sides, times a smooth distance: both smooth at
        # the corners, so the network's part of the solution is smooth too.
        lo, hi = self.LOWER, self.UPPER
        return (adf.box(x, lo, hi), adf.coons(x, lo, hi, lambda z: self.exact(z[:, 0], z[:, 1])[0]),
                adf.coons(x, lo, hi, lambda z: self.exact(z[:, 0], z[:, 1])[1]))

    def reference(self) -> Reference:
        xs = np.linspace(self.LOWER[0], self.UPPER[0], 151)
        ys = np.linspace(self.LOWER[1], self.UPPER[1], 201)
        xx, yy = np.meshgrid(xs, ys, indexing="ij")
        u, v, _ = self.exact(xx, yy, lib=np)
        points = np.stack([xx.ravel(), yy.ravel()], axis=1)
        return Reference(points, np.stack([u.ravel(), v.ravel()], axis=1),
                         f"Kovasznay (1948) exact solution, Re = {self.re:g}, 151 x 201 grid (velocity)",
                         grid={"x": xs, "y": ys}, outputs=("u", "v"))


# -- lid-driven cavity -----------------------------------------------------------------------------
# Stokes flow in a right-angled corner between a wall sliding at unit speed along itself and a fixed
# wall (G. I. Taylor's "scraper"): stream function ψ = r f(θ), f = A sin θ + C θ sin θ + D θ cos θ, θ
# measured from the sliding wall; f(0) = 0, f'(0) = 1, f(π/2) = f'(π/2) = 0 give these coefficients.
_STOKES_D = 4.0 / (4.0 - math.pi ** 2)
_STOKES_C = _STOKES_D * math.pi / 2
_STOKES_A = -_STOKES_D * math.pi ** 2 / 4


def stokes_corner(s: torch.Tensor, t: torch.Tensor):
    """Stokes flow in the quarter plane s, t >= 0 whose wall t = 0 slides at unit speed along +s while
    the wall s = 0 is at rest (dimensionless, unit viscosity): velocity (u_s, u_t) (N,) each, a function
    of the angle θ = atan2(t, s) only, and pressure (N,), 2 (C sin θ + D cos θ) / r.

    The leading term of the flow near a uniform lid's corner at any Reynolds number (inertia enters at
    the next order in r): G. I. Taylor, "Similarity solutions of hydrodynamic problems", in Aeronautics
    and Astronautics, Pergamon (1960) 21-28; H. K. Moffatt, "Viscous and resistive eddies near a sharp
    corner", J. Fluid Mech. 18, 1-18 (1964). At r = 0 (the corner point itself) the velocity is taken
    as the fixed wall's, 0, and the pressure as 0.
    """
    A, C, D = _STOKES_A, _STOKES_C, _STOKES_D
    r = torch.sqrt(s ** 2 + t ** 2)
    corner = r == 0
    theta = torch.atan2(t, s)
    sin, cos = torch.sin(theta), torch.cos(theta)
    f = A * sin + C * theta * sin + D * theta * cos
    df = A * cos + C * (sin + theta * cos) + D * (cos - theta * sin)
    u_s = torch.where(corner, torch.zeros_like(r), df * cos + f * sin)
    u_t = torch.where(corner, torch.zeros_like(r), df * sin - f * cos)
    p = torch.where(corner, torch.zeros_like(r), 2 * (C * sin + D * cos) / torch.where(corner, torch.ones_like(r), r))
    return u_s, u_t, p


class LidDrivenCavity(NavierStokes2D):
    """Steady flow in a square cavity of side L driven by its lid (y = L) moving at speed U.

    ν = U L / Re; no slip on the other walls. The lid profile is ``uniform`` (speed U everywhere,
    discontinuous at the top corners, as in Ghia et al. 1982) or ``regularised`` (U 16 ξ² (1 - ξ)²,
    ξ = x/L, vanishing at the corners). The reference is our finite-difference solution
    (:mod:`sciml.classical.cavity`): bundled for the uniform lid at Re 100, 400, 1000, computed on the
    fly (161² grid, a few seconds) otherwise.

    The uniform lid makes the top corners singular: at a distance r from a corner the velocity
    depends on the direction only, vorticity and pressure grow like 1/r and ∇²u like 1/r². The
    leading term is the Stokes flow of a wall sliding into or out of a right-angled corner
    (:func:`stokes_corner`), and with ``corner_flow="stokes"`` (default, uniform lid) the hard
    constraint contains it: velocity ``g = η ((1 - ξ) S_left + ξ S_right)`` (ξ = x/L, η = y/L; it
    equals the lid and wall data on the whole boundary and each corner's Stokes flow at that corner)
    and pressure ``ρU²/Re (P_left + P_right)``, so the network adds only the smoother rest — the
    singularity subtraction used for spectral cavity solutions (O. Botella, R. Peyret, "Benchmark
    spectral results on the lid-driven cavity flow", Comput. Fluids 27, 421-433 (1998)). At the two
    corner points themselves the velocity is that of the walls at rest, 0, as in the finite-difference
    reference. Measured (Re 100, defaults): rel. L2 vs our CFD 8.8e-3 with the Stokes corner flow,
    8.9e-2 with ``corner_flow="blend"`` (transfinite interpolation of lid and wall data, whose fixed
    angular profile at the corners the network cannot correct since its part vanishes there).

    What remains singular (inertia, ~1/r in the momentum residual) still dominates the loss at
    collocation points next to a corner, so the residuals are weighted by min(1, (r/δ)²) around the
    two top corners, δ = ``corner_radius`` × L (uniform lid only; 0 turns it off) — the analogue of a
    grid that does not resolve the corner singularity either. Measured (Re 100, defaults, Stokes
    corner flow): rel. L2 8.8e-3 with δ = 0.05 L, 5.3e-2 unweighted.
    """

    name = "lid-driven-cavity"
    description = "lid-driven square cavity (steady 2-D Navier-Stokes), validated against our CFD and Ghia et al."
    parameters = {
        "re": Parameter(100.0, doc="Reynolds number U L / nu", **POSITIVE),
        "lid": Parameter("uniform", doc="lid profile: 'uniform' (Ghia et al.) or 'regularised' (16 x^2 (1-x)^2)",
                         choices=("uniform", "regularised")),
        "length": Parameter(1.0, unit="m", doc="side length L", **POSITIVE),
        "lid_velocity": Parameter(1.0, unit="m/s", doc="lid speed U", **POSITIVE),
        "density": Parameter(1.0, unit="kg/m^3", doc="density rho", **POSITIVE),
        "corner_flow": Parameter("stokes", doc="velocity and pressure given near the uniform lid's corners: 'stokes' (the "
                                 "leading Stokes corner flow, exact at the corners) or 'blend' (lid and wall data "
                                 "interpolated)", choices=("stokes", "blend")),
        "corner_radius": Parameter(0.05, doc="radius (in units of L) around the top corners within which the "
                                   "residual is weighted down by (r/radius)^2 (uniform lid; 0: off)", minimum=0.0),
        "enforce": ENFORCE,
    }
    solver_defaults = {"width": 50, "depth": 4, "n_interior": 3000, "iterations": 4000, "lbfgs_iterations": 2000,
                       "resample_every": 100, "eval_every": 250}

    @property
    def nu(self) -> float:
        return self.lid_velocity * self.length / self.re

    @property
    def velocity_scale(self) -> float:
        return self.lid_velocity

    def geometry(self):
        return dde().Rectangle([0.0, 0.0], [self.length, self.length])

    def residual(self, f):
        r = super().residual(f)
        if self.lid != "uniform" or self.corner_radius == 0:
            return r
        L, x, y = self.length, f["x"], f["y"]
        r2 = torch.minimum(x ** 2, (L - x) ** 2) + (L - y) ** 2
        weight = torch.clamp(r2 / (self.corner_radius * L) ** 2, max=1.0)
        return {k: v * weight for k, v in r.items()}

    def velocity_boundary(self, x):
        L = self.length
        walls = adf.rectangle(x, (0.0, 0.0), (L, L), "lrb")
        lid = L - x[:, 1]
        phi = adf.union(lid, walls)
        if self.singular_corners:
            (ul, vl, _), (ur, vr, _) = self._corner_flows(x)
            xi, eta = x[:, 0] / L, x[:, 1] / L
            U = self.lid_velocity
            return phi, U * eta * ((1 - xi) * ul + xi * ur), U * eta * ((1 - xi) * vl + xi * vr)
        speed = self.lid_velocity * LID_PROFILES[self.lid](x[:, 0] / L)
        gu = adf.blend([lid, walls], [speed, torch.zeros_like(speed)])
        return phi, gu, torch.zeros_like(gu)

    @property
    def singular_corners(self) -> bool:
        return self.lid == "uniform" and self.corner_flow == "stokes"

    def _corner_flows(self, x):
        """Stokes corner flows (u, v, p) / (U, U, ρU²/Re) of the top-left and top-right corners (N,) each."""
        L = self.length
        s, t = x[:, 0] / L, (L - x[:, 1]) / L
        us, ut, p = stokes_corner(s, t)
        left = us, -ut, p
        us, ut, p = stokes_corner(1 - s, t)
        return left, (us, ut, -p)

    def pressure_particular(self, x):
        if not self.singular_corners:
            return super().pressure_particular(x)
        (_, _, pl), (_, _, pr) = self._corner_flows(x)
        return self.rho * self.lid_velocity ** 2 / self.re * (pl + pr)

    def cfd(self):
        """Our finite-difference solution (dimensionless, :class:`sciml.classical.cavity.CavityFlow`)."""
        if self.lid == "uniform" and self.re in BUNDLED_RE:
            return bundled(self.re)
        return solve_cavity(self.re, n=161, lid=self.lid)

    def reference(self) -> Reference:
        flow = self.cfd()
        xs = flow.x * self.length
        xx, yy = np.meshgrid(xs, xs, indexing="ij")
        values = np.stack([flow.u.ravel(), flow.v.ravel()], axis=1) * self.lid_velocity
        how = "bundled data/lid_driven_cavity_re{:g}.vtu".format(self.re) if flow.newton_iterations is None else \
            "computed now"
        return Reference(np.stack([xx.ravel(), yy.ravel()], axis=1), values,
                         f"our finite-difference solution (sciml.classical.cavity, {flow.x.size}^2 grid, {how}), "
                         f"Re = {self.re:g}, {self.lid} lid (velocity)", grid={"x": xs, "y": xs}, outputs=("u", "v"))

    def _centrelines(self, predict, table):
        L, U = self.length, self.lid_velocity
        along_y = np.stack([np.full_like(table["y"], 0.5 * L), table["y"] * L], axis=1)
        along_x = np.stack([table["x"] * L, np.full_like(table["x"], 0.5 * L)], axis=1)
        return predict(along_y)[:, 0] / U, predict(along_x)[:, 1] / U

    def metrics(self, predict) -> dict:
        """Max deviation (in lid-speed units) of the centreline velocities from Ghia et al.'s tables, for
        the uniform lid at Re 100, 400 or 1000 (Table II's suspect entry v(0.9063) at Re 400 left out)."""
        if self.lid != "uniform" or self.re not in BUNDLED_RE:
            return {}
        table = ghia_table()
        k = int(np.flatnonzero(table["re"] == self.re)[0])
        u, v = self._centrelines(predict, table)
        keep = np.array([(self.re, "v", round(c, 4)) not in GHIA_SUSPECT for c in table["x"]])
        dev_u = float(np.max(np.abs(u - table["u"][:, k])))
        dev_v = float(np.max(np.abs(v - table["v"][:, k])[keep]))
        return {"ghia_max_deviation": max(dev_u, dev_v), "ghia_max_deviation_u": dev_u, "ghia_max_deviation_v": dev_v}

    def figures(self, predict, out) -> list:
        """``centreline.png``: u(x = L/2, y) and v(x, y = L/2) of the PINN, our CFD and Ghia's points."""
        from sciml.plotting import save_figure, subplots

        L, U = self.length, self.lid_velocity
        flow = self.cfd()
        s = np.linspace(0.0, 1.0, 201)
        cfd_u, cfd_v = flow.centreline_u(s), flow.centreline_v(s)
        pinn_u, pinn_v = self._centrelines(predict, {"y": s, "x": s})
        fig, axes = subplots(1, 2, figsize=(11, 4.5))
        axes[0].plot(cfd_u * U, s * L, "k-", lw=2, alpha=0.5, label="our CFD (finite differences)")
        axes[0].plot(pinn_u * U, s * L, "C0--", lw=1.5, label="PINN")
        axes[1].plot(s * L, cfd_v * U, "k-", lw=2, alpha=0.5, label="our CFD (finite differences)")
        axes[1].plot(s * L, pinn_v * U, "C0--", lw=1.5, label="PINN")
        if self.lid == "uniform" and self.re in BUNDLED_RE:
            table = ghia_table()
            k = int(np.flatnonzero(table["re"] == self.re)[0])
            axes[0].plot(table["u"][:, k] * U, table["y"] * L, "C3o", ms=5, mfc="none", label="Ghia et al. (1982)")
            axes[1].plot(table["x"] * L, table["v"][:, k] * U, "C3o", ms=5, mfc="none", label="Ghia et al. (1982)")
        axes[0].set(xlabel="u(x = L/2, y) [m/s]", ylabel="y [m]", title="vertical centreline")
        axes[1].set(xlabel="x [m]", ylabel="v(x, y = L/2) [m/s]", title="horizontal centreline")
        for ax in axes:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"lid-driven cavity, Re = {self.re:g}, {self.lid} lid")
        path = out / "centreline.png"
        save_figure(fig, path)
        return [path]


# -- Taylor-Green vortex -----------------------------------------------------------------------------
class TaylorGreen(NavierStokes2D):
    """Decaying Taylor–Green vortex on [0, 2πL]² over t in [0, T]: an exact transient solution,

        u = -U cos(x/L) sin(y/L) F,  v = U sin(x/L) cos(y/L) F,  p = -ρU²/4 (cos(2x/L) + cos(2y/L)) F²,

    F = exp(-2 ν t / L²). The initial condition is exact by construction (``u = ĝ + (t/T) φ N``, with
    ĝ equal to the initial field at t = 0 and to the boundary trace on the sides at every t); the
    boundary velocity is the exact trace, the interior is left to the equations.

    Reference: G. I. Taylor, A. E. Green, "Mechanism of the production of small eddies from large
    ones", Proc. R. Soc. Lond. A 158, 499-521 (1937).
    """

    name = "taylor-green"
    description = "decaying Taylor-Green vortex (transient 2-D Navier-Stokes, exact solution), hard initial condition"
    inputs = ("x", "y", "t")
    time = "t"
    parameters = {
        "nu": Parameter(0.1, unit="m^2/s", doc="kinematic viscosity nu", **POSITIVE),
        "velocity": Parameter(1.0, unit="m/s", doc="velocity amplitude U", **POSITIVE),
        "length": Parameter(1.0, unit="m", doc="length scale L (the domain is [0, 2 pi L]^2)", **POSITIVE),
        "duration": Parameter(1.0, unit="s", doc="time window T", **POSITIVE),
        "density": Parameter(1.0, unit="kg/m^3", doc="density rho", **POSITIVE),
        "enforce": ENFORCE,
    }
    # The PINN's default (issue 17): a 30 x 3 float64 network, 1,000 Adam steps and then 4,000 SSBroyden
    # steps (self-scaled Broyden, dense inverse Hessian) on points redrawn every 500 steps, checked against
    # the 50 x 4 float32 Adam + L-BFGS default it replaced by the taylor-green-default validation study.
    # ``--optimizer adam-lbfgs`` runs L-BFGS for the same lbfgs_iterations instead.
    solver_defaults = {"width": 50, "depth": 4, "n_interior": 4000, "iterations": 2000, "lbfgs_iterations": 500,
                       "eval_every": 250,
                       "pinn": {"width": 30, "depth": 3, "dtype": "float64", "resample_every": 500, "iterations": 1000,
                                "optimizer": "ssbroyden", "lbfgs_iterations": 4000}}

    @property
    def velocity_scale(self) -> float:
        return self.velocity

    def exact(self, x, y, t, lib=torch):
        """Exact (u, v, p) at coordinates x, y, t (arrays of one shape; torch or numpy via ``lib``)."""
        L, U = self.length, self.velocity
        decay = lib.exp(-2 * self.nu * t / L ** 2)
        u = -U * lib.cos(x / L) * lib.sin(y / L) * decay
        v = U * lib.sin(x / L) * lib.cos(y / L) * decay
        p = -self.rho * U ** 2 / 4 * (lib.cos(2 * x / L) + lib.cos(2 * y / L)) * decay ** 2
        return u, v, p

    def geometry(self):
        g = dde()
        side = 2 * math.pi * self.length
        return g.GeometryXTime(g.Rectangle([0.0, 0.0], [side, side]), g.TimeDomain(0.0, self.duration))

    def velocity_boundary(self, x):
        # ĝ = initial field + Coons patch of (boundary trace at t - boundary trace at t = 0).
        lo, hi = (0.0, 0.0), (2 * math.pi * self.length,) * 2
        start = torch.cat([x[:, :2], torch.zeros_like(x[:, 2:])], dim=1)
        data = [self.exact(*start.unbind(1))[k] + adf.coons(
                    x, lo, hi, lambda z, k=k: self.exact(*z.unbind(1))[k] - self.exact(z[:, 0], z[:, 1], 0 * z[:, 2])[k])
                for k in range(2)]
        return adf.box(x, lo, hi) * x[:, 2] / self.duration, data[0], data[1]

    def conditions(self):
        if self.enforce == "hard":
            return []
        return super().conditions() + [
            DirichletBC(name, (lambda x, k=k: self.velocity_boundary(x)[k]), on="initial", name=f"initial_{name}",
                        n_points=400, weight=1.0 / self.velocity ** 2)
            for k, name in ((1, "u"), (2, "v"))]

    def reference(self) -> Reference:
        side = 2 * math.pi * self.length
        ts = np.linspace(0.0, self.duration, 11)
        xs = np.linspace(0.0, side, 65)
        tt, xx, yy = np.meshgrid(ts, xs, xs, indexing="ij")
        u, v, _ = self.exact(xx, yy, tt, lib=np)
        points = np.stack([xx.ravel(), yy.ravel(), tt.ravel()], axis=1)
        return Reference(points, np.stack([u.ravel(), v.ravel()], axis=1),
                         f"Taylor-Green exact solution, nu = {self.nu:g} m^2/s, 11 times x 65 x 65 grid (velocity)",
                         grid={"t": ts, "x": xs, "y": xs}, outputs=("u", "v"))


# -- flow around a cylinder (DFG 2D-1) ---------------------------------------------------------------
SCHAEFER_TUREK_2D1 = {"drag_coefficient": 5.57953523384, "lift_coefficient": 0.010618948146,
                      "pressure_difference": 0.11752016697}
"""DFG 2D-1 reference values (Δp in Pa for ρ = 1 kg/m³): M. Schäfer, S. Turek, "Benchmark computations
of laminar flow around a cylinder", Notes on Numerical Fluid Mechanics 52, 547-566 (1996), with the
FEATFLOW fine-grid values quoted for the benchmark (published bounds C_D in [5.57, 5.59], C_L in
[0.0104, 0.0110], Δp in [0.1172, 0.1176])."""
class _Refined:
    """A DeepXDE geometry whose interior samples put a ``fraction`` of the points in the sub-region
    ``near`` (e.g. around an obstacle); everything else is the wrapped geometry's."""

    def __init__(self, geom, near, fraction: float):
        self.geom, self.near, self.fraction = geom, near, fraction

    def __getattr__(self, name):
        return getattr(self.geom, name)

    def random_points(self, n, random="pseudo"):
        k = int(round(n * self.fraction))
        return np.concatenate([self.near.random_points(k, random), self.geom.random_points(n - k, random)])


class Outflow(Condition):
    """Do-nothing outflow ``ν ∂u/∂x - p/ρ = 0``, ``∂v/∂x = 0`` on the side x = ``x_out``, 0 < y < ``height``
    (the DFG benchmark's outlet condition), residuals scaled by U² and U/L; ``n_points`` uniform
    random points on the side."""

    name = "outflow"

    def __init__(self, problem, x_out: float, height: float, n_points: int | None = None):
        self.problem, self.x_out, self.height, self.n_points = problem, x_out, height, n_points

    def sample(self, geom, n):
        y = np.random.uniform(0.0, self.height, n)
        return PointSet(torch.as_tensor(np.stack([np.full(n, self.x_out), y], axis=1)))

    def residual(self, f, aux):
        p = self.problem
        U, L = p.velocity_scale, p.length_scale
        return torch.cat([(p.nu * f.d("u", "x") - f["p"] / p.rho) / U ** 2, f.d("v", "x") * (L / U)])


class Cylinder(NavierStokes2D):
    """Steady flow around a cylinder in a channel: the Schäfer & Turek (1996) DFG benchmark 2D-1.

    Channel [0, 2.2] × [0, 0.41] m, cylinder of diameter D = 0.1 m centred at (0.2, 0.2) m, parabolic
    inflow u(0, y) = 4 U_m y (H - y) / H², no slip on the walls and the cylinder, do-nothing outflow
    (penalised: it is a Neumann-type condition). Scales: L = D, U = Ū = 2 U_m / 3, Re = Ū D / ν = 20
    by default. There is no reference field; the benchmark's quantities are computed from the trained
    network (:meth:`metrics`): drag and lift coefficients C_D = 2 F_D / (ρ Ū² D), C_L = 2 F_L / (ρ Ū² D)
    of the force of the stress σ = -p I + ρν(∇u + ∇uᵀ) on the cylinder, by the volume (weak) form of
    the momentum balance (:meth:`volume_forces`; :meth:`surface_forces` integrates σ n over the surface
    instead), and Δp = p(0.15, 0.2) - p(0.25, 0.2).

    Reference values: :data:`SCHAEFER_TUREK_2D1`.
    """

    name = "cylinder"
    description = "Schaefer-Turek DFG 2D-1 flow around a cylinder (steady, Re 20): drag, lift, pressure difference"
    parameters = {
        "max_inflow": Parameter(0.3, unit="m/s", doc="peak inflow velocity U_m", **POSITIVE),
        "nu": Parameter(1e-3, unit="m^2/s", doc="kinematic viscosity nu", **POSITIVE),
        "density": Parameter(1.0, unit="kg/m^3", doc="density rho", **POSITIVE),
        "enforce": ENFORCE,
    }
    solver_defaults = {"width": 50, "depth": 4, "n_interior": 4000, "iterations": 2000, "lbfgs_iterations": 1000,
                       "resample_every": 100, "eval_every": 0, "weights": {"continuity": 10.0}}
    LENGTH, HEIGHT, CENTRE, RADIUS = 2.2, 0.41, (0.2, 0.2), 0.05

    @property
    def velocity_scale(self) -> float:
        return 2 * self.max_inflow / 3

    @property
    def length_scale(self) -> float:
        return 2 * self.RADIUS

    @property
    def re(self) -> float:
        return self.velocity_scale * self.length_scale / self.nu

    def geometry(self):
        g = dde()
        disk = g.Disk(list(self.CENTRE), self.RADIUS)
        channel = g.Rectangle([0.0, 0.0], [self.LENGTH, self.HEIGHT]) - disk
        near = g.Rectangle([0.0, 0.0], [0.6, self.HEIGHT]) - disk  # the inlet and the cylinder's surroundings
        return _Refined(channel, near, 0.5)

    def inflow(self, y):
        return 4 * self.max_inflow * y * (self.HEIGHT - y) / self.HEIGHT ** 2

    def velocity_boundary(self, x):
        px, py = x[:, 0], x[:, 1]
        circle = adf.circle(x, self.CENTRE, self.RADIUS)
        phi = adf.union(px, py, self.HEIGHT - py, circle)
        # The inflow profile carried downstream and blended to zero on the cylinder: the inlet's distance
        # saturates at R (its R-equivalence with the constant R), so away from the cylinder the data are
        # close to the Poiseuille flow (nearly divergence-free) instead of fading out with x.
        inlet = adf.union(px, torch.full_like(px, self.RADIUS))
        gu = adf.blend([inlet, circle], [self.inflow(py), torch.zeros_like(py)])  # inflow vanishes on the walls
        return phi, gu, torch.zeros_like(gu)

    def prescribed_velocity(self, points):
        return ~np.isclose(points[:, 0], self.LENGTH)

    def conditions(self):
        return super().conditions() + [Outflow(self, self.LENGTH, self.HEIGHT)]

    def reference(self):
        return None

    def forces(self, predict, method: str = "volume", **options):
        """Force per unit depth (F_x, F_y) [N/m] of the fluid on the cylinder, by ``method``
        "volume" (:meth:`volume_forces`, the default: what the metrics report) or "surface"
        (:meth:`surface_forces`); ``options`` go to that method."""
        methods = {"volume": self.volume_forces, "surface": self.surface_forces}
        if method not in methods:
            raise ValueError(f"method must be one of {sorted(methods)}, got {method!r}")
        return methods[method](predict, **options)

    def surface_forces(self, predict, n: int = 720, offset: float = 1e-3):
        """Force per unit depth (F_x, F_y) [N/m] of the fluid on the cylinder: ∮ σ n ds with n the
        normal out of the cylinder, by the trapezoidal rule on ``n`` points (spectral for a periodic
        integrand). On the no-slip surface ∇u = (∂u/∂n) nᵀ, and ∂u/∂n is taken by a one-sided
        second-order difference over ``offset`` × R along the normal."""
        theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
        normal = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        surface = np.asarray(self.CENTRE) + self.RADIUS * normal
        h = offset * self.RADIUS
        y0, y1, y2 = (predict(surface + k * h * normal) for k in range(3))
        dudn = (-3 * y0[:, :2] + 4 * y1[:, :2] - y2[:, :2]) / (2 * h)
        # (∇u + ∇uᵀ) n = ∂u/∂n + n (n · ∂u/∂n)
        viscous = dudn + normal * np.sum(normal * dudn, axis=1, keepdims=True)
        traction = -y0[:, 2:3] * normal + self.rho * self.nu * viscous
        return traction.sum(axis=0) * (2 * np.pi * self.RADIUS / n)

    def volume_forces(self, predict, outer: float = 3.0, n_radial: int = 48, n_angular: int = 360,
                      step: float = 2e-4):
        """Force per unit depth (F_x, F_y) [N/m] of the fluid on the cylinder by the volume (weak)
        form of the momentum balance, the form finite-element benchmark values are computed with
        (V. John, "Reference values for drag and lift of a two-dimensional time-dependent flow around a
        cylinder", Int. J. Numer. Meth. Fluids 44, 777-788 (2004)). With a weight w = e φ(r) equal to
        the unit vector e on the cylinder and 0 from r = ``outer`` × R on (inside the channel),

            F·e = -∫ [ρ (u·∇u)·w - p ∇·w + ρν (∇u + ∇uᵀ) : ∇w] dx.

        For a field that solves the equations this is the surface integral ∮ σ n ds; for an
        approximate one the two differ by the momentum residual weighted with w, and this one averages
        over a region instead of reading the stress at the wall, where a PINN's derivatives are least
        accurate. φ = 1 - 3s² + 2s³ with s = (r - R) / ((outer - 1) R); Gauss-Legendre on ``n_radial``
        radii, the trapezoidal rule on ``n_angular`` angles; ∇u by central differences over ``step`` [m]."""
        room = min(self.CENTRE[0], self.CENTRE[1], self.HEIGHT - self.CENTRE[1]) / self.RADIUS
        if not 1.0 < outer <= room:
            raise ValueError(f"outer must keep the weight's support between the cylinder and the channel's "
                             f"walls (1 < outer <= {room:g} radii), got {outer!r}")
        R, width = self.RADIUS, (outer - 1.0) * self.RADIUS
        nodes, weights = np.polynomial.legendre.leggauss(n_radial)
        r = R + width * (nodes + 1) / 2
        theta = np.linspace(0.0, 2 * np.pi, n_angular, endpoint=False)
        rr, tt = (a.ravel() for a in np.meshgrid(r, theta, indexing="ij"))
        area = np.repeat(weights * width / 2 * r, n_angular) * (2 * np.pi / n_angular)
        radial = np.stack([np.cos(tt), np.sin(tt)], axis=1)
        points = np.asarray(self.CENTRE) + rr[:, None] * radial
        s = (rr - R) / width
        phi = 1 - 3 * s ** 2 + 2 * s ** 3
        grad_phi = ((6 * s ** 2 - 6 * s) / width)[:, None] * radial
        values = predict(points)
        velocity, pressure = values[:, :2], values[:, 2]
        # grad[:, i, j] = ∂u_i/∂x_j
        grad = np.stack([(predict(points + step * e)[:, :2] - predict(points - step * e)[:, :2]) / (2 * step)
                         for e in np.eye(2)], axis=2)
        convection = np.einsum("nij,nj->ni", grad, velocity)
        strain = grad + grad.transpose(0, 2, 1)
        # w = e_k φ: (u·∇u)·w = (u·∇u)_k φ, ∇·w = ∂_k φ, (∇u + ∇uᵀ):∇w = Σ_j (∂_j u_k + ∂_k u_j) ∂_j φ
        integrand = (self.rho * convection * phi[:, None] - pressure[:, None] * grad_phi
                     + self.rho * self.nu * np.einsum("nkj,nj->nk", strain, grad_phi))
        return -(integrand * area[:, None]).sum(axis=0)

    def metrics(self, predict) -> dict:
        fx, fy = self.forces(predict)
        scale = 2 / (self.rho * self.velocity_scale ** 2 * self.length_scale)
        probes = predict(np.array([[0.15, 0.2], [0.25, 0.2]]))
        return {"drag_coefficient": float(fx * scale), "lift_coefficient": float(fy * scale),
                "pressure_difference": float(probes[0, 2] - probes[1, 2])}

    def figures(self, predict, out) -> list:
        """``fields.png``: u, v, p of the PINN in the channel, and p and the wall vorticity on the cylinder."""
        from sciml.plotting import save_figure, subplots

        xs, ys = np.linspace(0.0, self.LENGTH, 441), np.linspace(0.0, self.HEIGHT, 83)
        xx, yy = np.meshgrid(xs, ys, indexing="ij")
        pts = np.stack([xx.ravel(), yy.ravel()], axis=1)
        values = predict(pts).reshape(len(xs), len(ys), 3)
        inside = (xx - self.CENTRE[0]) ** 2 + (yy - self.CENTRE[1]) ** 2 < self.RADIUS ** 2
        fig, axes = subplots(3, 1, figsize=(12, 8))
        for ax, k, label in zip(axes, range(3), ("u [m/s]", "v [m/s]", "p [Pa]")):
            field = np.ma.masked_where(inside, values[..., k])
            mesh = ax.pcolormesh(xs, ys, field.T, cmap="RdBu_r", shading="auto")
            ax.contour(xs, ys, field.T, levels=12, colors="k", linewidths=0.4)
            fig.colorbar(mesh, ax=ax, label=label)
            ax.set_aspect("equal")
            ax.set(xlabel="x [m]", ylabel="y [m]", title=f"PINN {label.split()[0]}")
        m = self.metrics(predict)
        ref = SCHAEFER_TUREK_2D1
        fig.suptitle(f"DFG 2D-1 (Re = {self.re:g}): C_D = {m['drag_coefficient']:.4f}, "
                     f"C_L = {m['lift_coefficient']:.4f}, Δp = {m['pressure_difference']:.4f} Pa (Schäfer & Turek: "
                     f"{ref['drag_coefficient']:.4f}, {ref['lift_coefficient']:.4f}, {ref['pressure_difference']:.4f})")
        path = out / "fields.png"
        save_figure(fig, path, dpi=110)
        return [path]
