"""Traffic density: viscous Lighthill–Whitham–Richards (LWR) flow with the Greenshields fundamental diagram.

    rho_t + Q(rho)_x = eps rho_xx,   Q(rho) = v_f rho (1 - rho / rho_m),

rho the density (vehicles per unit length, 0 <= rho <= rho_m), v_f the free-flow speed, rho_m the jam
density, eps a diffusion coefficient. Two problems:

- ``traffic``: the ring road of Shi, Mo, Di et al. (AAAI 2021; physics-informed deep learning for
  traffic state estimation): x in [0, L) periodic, t in [0, T],
  rho(x, 0) = rho_m (0.05 + 0.9 exp(-100 (x / L - 0.5)^2)); by default L = 1 m, T = 3 s, v_f = 1 m/s,
  rho_m = 1 veh/m, eps = 0.005 m^2/s, which is the dimensionless case. In scaled variables
  x' = x / L, t' = t v_f / L, rho' = rho / rho_m every ring road is the default one with
  eps' = eps / (L v_f) and T' = T v_f / L, so the reference is the bundled Godunov solution
  (``data/traffic_ring_road.npz``) whenever eps' and T' are the default's, and the same solver
  (:func:`sciml.classical.lwr.ring_road_reference`, a few seconds) otherwise. Its usual use is state
  estimation: ``sciml run traffic --sensors 5`` gives the solver the density recorded by 5 loop
  detectors (and not the initial condition), and ``--identify eps,v_f`` learns those parameters too.
- ``traffic-riemann``: a road x in [-1, 1] m with a left and a right state: a shock (rho_L < rho_R,
  speed s = v_f (1 - (rho_L + rho_R) / rho_m)) whose exact viscous solution is the travelling wave
  rho = (rho_L + rho_R)/2 + (rho_R - rho_L)/2 tanh(v_f (rho_R - rho_L)(x - s t) / (2 eps rho_m)), or,
  with eps = 0, the exact inviscid shock or rarefaction fan; a fan with eps > 0 has no closed form and
  is referenced by our Godunov solver.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml import data as bundled
from sciml.classical import lwr
from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.problem import Parameter, Problem, Reference

from .periodic import PeriodicInitialValueProblem

RING = lwr.RING_ROAD


def _positive(doc: str, default: float, unit: str) -> Parameter:
    return Parameter(default, unit=unit, doc=doc, minimum=0.0, exclusive_minimum=True)


class Traffic(PeriodicInitialValueProblem):
    name = "traffic"
    description = ("viscous LWR traffic on a ring road (Greenshields), a density bump that forms a queue "
                   "(Godunov reference); with --sensors N: state estimation from N loop detectors")
    outputs = ("rho",)
    units = {"x": "m", "t": "s", "rho": "veh/m"}
    parameters = {
        "v_f": _positive("free-flow speed", RING["v_f"], "m/s"),
        "rho_m": _positive("jam density", RING["rho_m"], "veh/m"),
        "eps": _positive("diffusion coefficient", RING["eps"], "m^2/s"),
        "length": _positive("length of the ring road", RING["length"], "m"),
        "duration": _positive("time simulated", RING["t_end"], "s"),
        **PeriodicInitialValueProblem.parameters,
    }
    # SSBroyden after a short Adam phase, in float64 on a network small enough for its dense inverse
    # Hessian, with residual-based refinement: on 5 loop detectors it beats 64 x 4 Adam + L-BFGS at every
    # seed of the traffic-5-loops-ssbroyden validation study. ``--optimizer adam-lbfgs`` runs L-BFGS for
    # the same lbfgs_iterations instead.
    solver_defaults = {
        "width": 32, "depth": 4, "dtype": "float64", "n_interior": 8000, "resample_every": 500, "rar_every": 250,
        "rar_points": 200, "iterations": 1000, "lr": 2e-3, "decay_steps": 1000, "optimizer": "ssbroyden",
        "lbfgs_iterations": 3000, "eval_every": 250,
    }
    smoothing = "eps"

    def nominal(self, name: str) -> float:
        """The value of parameter ``name`` that sets the loss's scales: the initial guess of an identified
        parameter (its true value is not for the solver to know), else its value."""
        return float(self.unknowns.get(name, self.params[name]))

    @property
    def residual_scale(self) -> float:
        """L / (rho_m v_f) (m s/veh): turns the residual (veh/m/s) into the scaled ring road's, so that a
        ring road in physical units trains as the dimensionless one does."""
        return self.nominal("length") / (self.nominal("rho_m") * self.nominal("v_f"))

    @property
    def data_weight(self) -> float:
        """10 / rho_m^2 (m^2/veh^2): the detectors' misfit in scaled density weighs 10x a scaled residual
        (at 1x the early bump between detectors stays unfitted)."""
        return 10.0 / self.nominal("rho_m") ** 2

    @property
    def initial_weight(self) -> float:
        """1 / rho_m^2 (m^2/veh^2): the soft initial condition's misfit in scaled density."""
        return 1.0 / self.nominal("rho_m") ** 2

    def geometry(self):
        g = dde()
        return g.GeometryXTime(g.Interval(0.0, self.length), g.TimeDomain(0.0, self.duration))

    def residual(self, f):
        rho = f["rho"]
        flux_slope = self.v_f * (1.0 - 2.0 * rho / self.rho_m)  # Q'(rho)
        pde = f.d("rho", "t") + flux_slope * f.d("rho", "x") - self.eps * f.d("rho", "x", "x")
        return self.residual_scale * pde

    def initial(self, x):
        """rho(x, 0) = rho_m (0.05 + 0.9 exp(-100 (x / L - 0.5)^2)) at points (N, 2) -> (N,)."""
        return self.rho_m * (0.05 + 0.9 * torch.exp(-100.0 * (x[:, 0] / self.length - 0.5) ** 2))

    def distance(self, x):
        """rho_m t / T (veh/m): the network's correction, in scaled density, grows from zero at t = 0 on the
        time scale of the run."""
        return self.nominal("rho_m") * x[:, 1:2] / self.duration

    def constraint(self):
        """rho = rho_0 + rho_m (t / T) N with the initial condition built in; where it is not (``enforce``
        soft, or state estimation without it) rho = rho_m N, the network's output in scaled density."""
        if self.enforce == "hard" and self.applies == "all":
            return super().constraint()
        scale = self.nominal("rho_m")
        return HardConstraint(particular=lambda x: torch.zeros_like(x[:, :1]),
                              distance=lambda x: torch.full_like(x[:, :1], scale), enforces=())

    @property
    def scaled(self) -> tuple[float, float]:
        """(eps', T') of the scaled ring road: eps / (L v_f) and T v_f / L."""
        return self.eps / (self.length * self.v_f), self.duration * self.v_f / self.length

    def reference(self) -> Reference:
        eps, t_end = self.scaled
        if math.isclose(eps, RING["eps"], rel_tol=1e-12) and math.isclose(t_end, RING["t_end"], rel_tol=1e-12):
            grid = bundled.load("traffic_ring_road")
            source = "bundled data/traffic_ring_road.npz (Godunov, Richardson of 2400/4800 cells)"
        else:
            grid = lwr.ring_road_reference(cells=(1200, 2400), nx=600, nt=301, eps=eps, t_end=t_end)
            source = f"Godunov, Richardson of 1200/2400 cells (scaled eps={eps:.6g}, T={t_end:.6g})"
        t = grid["t"] * self.length / self.v_f
        x = grid["x"] * self.length
        return self.grid_reference(t, x, self.rho_m * grid["rho"], source)

    # -- state estimation: the interpolation baseline and the detectors' figure ------------------
    def detectors(self) -> np.ndarray | None:
        """Positions (m) of the detectors of this problem's observations when they form a sensor layout
        (every position observed at the same times), else None."""
        obs = self.observations
        if obs is None or "rho" not in obs.outputs:
            return None
        x, t = np.unique(obs.points[:, 0]), np.unique(obs.points[:, 1])
        return x if len(x) * len(t) == len(obs) and len(x) >= 2 else None

    def interpolated(self, points: np.ndarray) -> np.ndarray:
        """The detectors' baseline estimate at ``points`` (M, 2): at each observed time, linear
        interpolation between the detectors around the ring; between observed times, linear in time."""
        obs = self.observations
        x, t = np.unique(obs.points[:, 0]), np.unique(obs.points[:, 1])
        order = np.lexsort((obs.points[:, 0], obs.points[:, 1]))
        rho = obs.values[order, obs.outputs.index("rho")].reshape(len(t), len(x))
        along = np.stack([np.interp(points[:, 0], x, row, period=self.length) for row in rho])  # (n_t, M)
        k = np.clip(np.searchsorted(t, points[:, 1]) - 1, 0, len(t) - 2)
        w = np.clip((points[:, 1] - t[k]) / (t[k + 1] - t[k]), 0.0, 1.0)
        cols = np.arange(len(points))
        return (1 - w) * along[k, cols] + w * along[k + 1, cols]

    def metrics(self, predict) -> dict[str, float]:
        """With detector observations: ``interpolation_rel_l2``, the relative L2 error over the whole
        reference field of the detectors' linear interpolation (the baseline a PINN must beat)."""
        if self.detectors() is None:
            return {}
        ref = self.reference()
        return {"interpolation_rel_l2": float(np.linalg.norm(self.interpolated(ref.points) - ref.values[:, 0])
                                              / np.linalg.norm(ref.values[:, 0]))}

    def figures(self, predict, out) -> list:
        """With detector observations: ``detectors.png``, the x–t density maps of the reference, the
        estimate and its error, and the interpolation baseline's error, the detectors marked."""
        from sciml.plotting import save_figure, subplots

        sensors = self.detectors()
        if sensors is None:
            return []
        ref = self.reference()
        t, x = ref.grid["t"], ref.grid["x"]
        shape = (len(t), len(x))
        truth = ref.values[:, 0].reshape(shape)
        estimate = predict(ref.points)[:, 0].reshape(shape)
        baseline = self.interpolated(ref.points).reshape(shape)
        err, base_err = np.abs(estimate - truth), np.abs(baseline - truth)
        top = max(err.max(), base_err.max())
        panels = [(truth, "reference", "viridis", 0.0, self.rho_m), (estimate, "estimate", "viridis", 0.0, self.rho_m),
                  (err, "|estimate - reference|", "magma", 0.0, top),
                  (base_err, "|interpolation - reference|", "magma", 0.0, top)]
        fig, axes = subplots(1, 4, figsize=(20, 4.2))
        for ax, (field, title, cmap, lo, hi) in zip(axes, panels):
            mesh = ax.pcolormesh(t, x, field.T, cmap=cmap, vmin=lo, vmax=hi, shading="auto")
            fig.colorbar(mesh, ax=ax, label="density [veh/m]")
            for s in sensors:
                ax.axhline(s, color="w", lw=0.8, ls="--")
            ax.set_xlabel("t [s]")
            ax.set_ylabel("x [m]")
            ax.set_title(title)
        fig.suptitle(f"{len(sensors)} loop detectors (dashed): {self.observations.source}", fontsize=9)
        return [save_figure(fig, out / "detectors.png")]


class TrafficRiemann(Problem):
    name = "traffic-riemann"
    description = "viscous LWR Riemann problem on x in [-1, 1]: a shock (exact travelling wave) or a rarefaction fan"
    inputs = ("x", "t")
    outputs = ("rho",)
    time = "t"
    units = {"x": "m", "t": "s", "rho": "veh/m"}
    parameters = {
        "rho_l": Parameter(0.2, unit="veh/m", doc="density left of x = 0", minimum=0.0),
        "rho_r": Parameter(0.7, unit="veh/m", doc="density right of x = 0", minimum=0.0),
        "v_f": _positive("free-flow speed", 1.0, "m/s"),
        "rho_m": _positive("jam density", 1.0, "veh/m"),
        "eps": Parameter(0.005, unit="m^2/s", doc="diffusion coefficient (0: inviscid)", minimum=0.0),
        "duration": _positive("time simulated", 1.0, "s"),
    }
    # SSBroyden after Adam on a small float64 network, its points redrawn every 500 steps (validation study
    # traffic-riemann-default compares it with the Adam + L-BFGS default it replaced)
    solver_defaults = {"width": 30, "depth": 3, "dtype": "float64", "n_interior": 8000, "resample_every": 500,
                       "iterations": 1000, "optimizer": "ssbroyden", "lbfgs_iterations": 4000, "eval_every": 500}
    FAN_CELLS = 4000
    """Cells of the Godunov reference of a viscous fan (first order: error about |Q'| dx / 2 diffusion)."""

    def __init__(self, **params):
        super().__init__(**params)
        for key in ("rho_l", "rho_r"):
            if self.params[key] > self.rho_m:
                raise ValueError(f"{key} must be <= rho_m = {self.rho_m:g} veh/m, got {self.params[key]!r}")
        if self.rho_l == self.rho_r:
            raise ValueError(f"rho_l and rho_r must differ (a shock or a fan), both are {self.rho_l!r}")
        if self.shock:  # the characteristics run into the shock, which moves at the Rankine-Hugoniot speed
            speeds = [self.v_f * (1 - (self.rho_l + self.rho_r) / self.rho_m)]
        else:  # the fan spreads between the characteristic speeds of its two states
            speeds = [self.v_f * (1 - 2 * r / self.rho_m) for r in (self.rho_l, self.rho_r)]
        reach = max(abs(s) for s in speeds) * self.duration
        if reach >= 0.9:
            raise ValueError(f"the waves would travel {reach:.3g} m in duration={self.duration:g} s and reach the "
                             "road's ends at x = ±1 m, where the states are held: shorten the duration")

    @property
    def shock(self) -> bool:
        return self.rho_l < self.rho_r

    def geometry(self):
        g = dde()
        return g.GeometryXTime(g.Interval(-1.0, 1.0), g.TimeDomain(0.0, self.duration))

    def residual(self, f):
        rho = f["rho"]
        r = f.d("rho", "t") + self.v_f * (1.0 - 2.0 * rho / self.rho_m) * f.d("rho", "x")
        return r - self.eps * f.d("rho", "x", "x") if self.eps else r

    def initial(self, x):
        """rho(x, 0) at points (N, 2) -> (N,): the travelling wave's profile for a viscous shock, else the step."""
        if self.shock and self.eps:
            k = self.v_f * (self.rho_r - self.rho_l) / (2 * self.eps * self.rho_m)
            return 0.5 * (self.rho_l + self.rho_r) + 0.5 * (self.rho_r - self.rho_l) * torch.tanh(k * x[:, 0])
        return torch.where(x[:, 0] < 0, self.rho_l, self.rho_r).to(x.dtype)

    def constraint(self):
        # rho = rho_0(x) + t (1 - x^2) N: the initial state exact, and the end states held at x = ±1
        # (the travelling wave's deviation from them there is below exp(-2 k (1 - |s| T))).
        return HardConstraint(particular=lambda x: self.initial(x)[:, None],
                              distance=lambda x: (x[:, 1:2] / self.duration) * (1 - x[:, 0:1] ** 2))

    def reference(self) -> Reference:
        t = np.linspace(0.0, self.duration, 101)
        x = np.linspace(-1.0, 1.0, 401)
        tt, xx = np.meshgrid(t, x, indexing="ij")
        args = dict(v_f=self.v_f, rho_m=self.rho_m)
        if self.shock and self.eps:
            rho = lwr.travelling_wave(xx, tt, self.rho_l, self.rho_r, self.eps, **args)
            source = "exact viscous travelling wave"
        elif not self.eps:
            rho = lwr.riemann(xx, tt, self.rho_l, self.rho_r, **args)
            source = f"exact inviscid {'shock' if self.shock else 'rarefaction fan'}"
        else:
            n = self.FAN_CELLS
            rho0 = lwr.cell_averages(lambda z: np.where(z < 0, self.rho_l, self.rho_r), n, -1.0, 1.0, breaks=(0.0,))
            cells = lwr.godunov(rho0, t, -1.0, 1.0, eps=self.eps, periodic=False, left=self.rho_l,
                                right=self.rho_r, **args)
            rho = np.stack([np.interp(x, lwr.cell_centres(n, -1.0, 1.0), row) for row in cells])
            source = f"Godunov finite volumes, {n} cells (first order)"
        points = np.stack([xx.ravel(), tt.ravel()], axis=1)
        return Reference(points, rho.reshape(-1, 1), source, grid={"t": t, "x": x})
