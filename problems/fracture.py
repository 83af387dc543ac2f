"""Phase-field fracture problems (plane strain, units kN and mm).

- ``sent``: the single-edge-notched tension test of Miehe, Hofacker & Welschinger (2010, "A phase
  field model for rate-independent crack propagation: robust algorithmic implementation based on
  operator splits", Comput. Methods Appl. Mech. Engrg. 199, 2765–2778, doi
  10.1016/j.cma.2010.04.011): the square [-0.5, 0.5]² mm with a slit along y = 0 from the left
  edge to the centre, bottom edge fixed, top edge pulled up (u_x = 0, u_y = δ) to
  ``max_displacement`` in ``load_steps`` equal steps; E = 210 kN/mm², ν = 0.3, G_c = 2.7e-3 kN/mm,
  l = 0.015 mm; AT2 with a history field. Outputs: the displacement (u_x, u_y) [mm] and the damage
  d [1] after the last step, the load–displacement curve (top reaction [kN] per mm of thickness
  against δ [mm]) and its peak. The finite-element solver (``sciml run sent --solver fem``,
  :mod:`sciml.classical.phasefield_fem`) is its reference.

Benchmark figures (tension, l = 0.015 mm): Miehe et al. (2010), load–displacement curve of the
tension test (spectral split): peak 0.701 kN at δ = 5.55e-3 mm, read off the digitisation of phasefieldx (github.com/CastillonMiguel/
phasefieldx, examples/PhaseFieldFracture/reference_solutions, MIT License); the isotropic AT2 model
(no split) run with FEniCSx in phasefieldx: 0.6915 kN at 5.58e-3 mm. The digitised curve is not
bundled: set ``SCIML_FRACTURE_REFERENCE`` to a folder holding ``miehe2010_sent_tension.csv``
(columns displacement [mm], force [kN], no header) and the figure draws it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from sciml.geometry import dde
from sciml.networks import HardConstraint
from sciml.problem import Parameter, Problem, Reference

MIEHE_PEAK = (0.701, 5.55e-3)
"""(force [kN], displacement [mm]) at the peak of Miehe et al. (2010), tension test, l = 0.015 mm
(spectral split), as digitised in phasefieldx."""
ISOTROPIC_PEAK = (0.6915, 5.58e-3)
"""(force [kN], displacement [mm]) at the peak of the isotropic AT2 model (no split), same test,
FEniCSx run of phasefieldx (Castillón, github.com/CastillonMiguel/phasefieldx)."""
REFERENCE_DIR = "SCIML_FRACTURE_REFERENCE"
"""Environment variable naming the folder with the digitised curve ``miehe2010_sent_tension.csv``."""


def _positive(default: float, unit: str, doc: str) -> Parameter:
    return Parameter(default, unit=unit, doc=doc, minimum=0.0, exclusive_minimum=True)


def miehe_curve() -> np.ndarray | None:
    """Miehe et al.'s digitised tension curve (M, 2): displacement [mm], force [kN]; None when
    ``SCIML_FRACTURE_REFERENCE`` is unset or its folder lacks the file."""
    folder = os.environ.get(REFERENCE_DIR)
    if not folder or not (Path(folder) / "miehe2010_sent_tension.csv").is_file():
        return None
    return np.loadtxt(Path(folder) / "miehe2010_sent_tension.csv", ndmin=2)


def curve_metrics(displacement: np.ndarray, force: np.ndarray) -> dict[str, float]:
    """``peak_force`` [kN] and ``peak_displacement`` [mm] of a load–displacement curve (S,), (S,),
    with their relative differences from Miehe et al. (2010) and from the isotropic AT2 figure."""
    k = int(np.argmax(force))
    peak, at = float(force[k]), float(displacement[k])
    return {"peak_force": peak, "peak_displacement": at,
            "peak_force_rel_miehe": peak / MIEHE_PEAK[0] - 1, "peak_force_rel_isotropic": peak / ISOTROPIC_PEAK[0] - 1,
            "peak_displacement_rel_miehe": at / MIEHE_PEAK[1] - 1}


def write_load_displacement(path: str | Path, displacement: np.ndarray, force: np.ndarray) -> Path:
    """``path`` as CSV with the header ``displacement,force`` (mm, kN), one row per load step."""
    np.savetxt(path, np.column_stack([displacement, force]), delimiter=",", header="displacement,force",
               comments="", fmt="%.9e")
    return Path(path)


def plot_load_displacement(path: str | Path, displacement: np.ndarray, force: np.ndarray, label: str,
                           title: str = "") -> Path:
    """The curve (S,), (S,) [mm, kN] against Miehe et al.'s digitised curve (when available) and
    the benchmark peaks, written to ``path``."""
    from sciml.plotting import save_figure, subplots

    fig, ax = subplots(figsize=(6.0, 4.2))
    ax.plot(displacement, force, "-", lw=1.6, label=label)
    curve = miehe_curve()
    if curve is not None:
        ax.plot(curve[:, 0], curve[:, 1], "k--", lw=1.2, label="Miehe et al. (2010), digitised")
    ax.plot(*MIEHE_PEAK[::-1], "ks", ms=6, mfc="none", label=f"Miehe peak {MIEHE_PEAK[0]} kN")
    ax.plot(*ISOTROPIC_PEAK[::-1], "r^", ms=6, mfc="none", label=f"isotropic AT2 peak {ISOTROPIC_PEAK[0]} kN")
    ax.set_xlabel("top displacement δ [mm]")
    ax.set_ylabel("top reaction force [kN] (per mm thickness)")
    ax.set_title(title or "single-edge-notched tension")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def write_damage_series(out: str | Path, points: np.ndarray, cells: list, damage: list[np.ndarray],
                        displacement: np.ndarray, every: int) -> Path:
    """The damage after every ``every``-th load step (and the last) for ParaView: ``out/damage.pvd`` over
    ``out/damage/damage_NNNN.vtu``, the load step's top displacement [mm] as the series' time. ``points``
    (N, 2) [mm] and meshio ``cells`` are the mesh, ``damage`` one (N,) array per load step done."""
    import meshio

    from sciml.io import write_pvd

    series = Path(out) / "damage"
    series.mkdir(parents=True, exist_ok=True)
    for old in series.glob("damage_*.vtu"):
        old.unlink()
    coordinates = np.column_stack([points, np.zeros(len(points))])
    entries = []
    for k in sorted(set(range(every - 1, len(damage), every)) | {len(damage) - 1}):
        file = series / f"damage_{k:04d}.vtu"
        meshio.write(file, meshio.Mesh(coordinates, cells, point_data={"d": damage[k]}))
        entries.append((float(displacement[k]), file))
    return write_pvd(Path(out) / "damage.pvd", entries)


class Sent(Problem):
    name = "sent"
    description = ("single-edge-notched tension (Miehe et al. 2010), AT2 phase field with a history field: "
                   "load-displacement curve and damage")
    inputs = ("x", "y")
    outputs = ("u_x", "u_y", "d")
    units = {"x": "mm", "y": "mm", "u_x": "mm", "u_y": "mm", "d": "1"}
    vectors = {"displacement": ("u_x", "u_y")}
    parameters = {
        "E": _positive(210.0, "kN/mm^2", "Young's modulus"),
        "nu": Parameter(0.3, unit="1", doc="Poisson's ratio", minimum=-0.99, maximum=0.49),
        "G_c": _positive(2.7e-3, "kN/mm", "fracture toughness (critical energy release rate)"),
        "l": _positive(0.015, "mm", "phase-field length scale"),
        "max_displacement": _positive(7e-3, "mm", "top displacement at the last load step"),
        "load_steps": Parameter(140, unit="1", doc="number of equal load steps", minimum=1),
        "split": Parameter("spectral", doc="tensile energy that drives the damage: 'spectral' (Miehe et al. "
                           "2010), 'amor' (volumetric-deviatoric) or 'none' (isotropic)",
                           choices=("spectral", "amor", "none")),
    }
    default_solver = "fem"
    solver_defaults = {
        # the deep-energy solver, sized for about 15 minutes of one CPU thread: 1,000 Adam steps at the first load
        # step, 50 from the last step's network at each later one, on 4,000 Monte Carlo points drawn anew every
        # step (sample_quadrature): on fixed
        # points the network can open a displacement jump between them that no point pays for; the
        # history field and the load on the Gauss nodes of quadrature_cells
        "deep-energy": {"width": 50, "depth": 3, "n_interior": 4000, "quadrature": "monte-carlo", "resample_every": 1,
                        "iterations": 1000, "lbfgs_iterations": 0, "step_iterations": 50, "lr": 1e-3,
                        "quadrature_order": 4, "compile": False, "eval_every": 0},
    }

    def geometry(self):
        return dde().Rectangle([-0.5, -0.5], [0.5, 0.5])

    def sample_quadrature(self, n: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Monte Carlo points (n, 2) [mm] and weights (n,) [mm²] for the deep-energy solver, importance
        sampled towards the crack path: half uniform over the square, half uniform in the band
        |y| ≤ 4 l along the slit and the ligament; weight 1 / (n p) with p the mixture's density, so the
        weighted sum of an integrand is an unbiased estimate of its integral."""
        half = n // 2
        band = 4 * self.l
        points = np.concatenate([generator.uniform(-0.5, 0.5, (n - half, 2)),
                                 np.column_stack([generator.uniform(-0.5, 0.5, half), generator.uniform(-band, band, half)])])
        density = 0.5 + 0.5 * (np.abs(points[:, 1]) <= band) / (2 * band)
        return points, 1.0 / (n * density)

    def quadrature_cells(self, n_points: int, order: int) -> list[np.ndarray]:
        """Cell edges along x and y [mm] for the deep-energy solver's Gauss rule, about ``n_points``
        nodes of ``order`` per cell and axis: y graded from cells of l / 2 within 2 l of the crack path
        y = 0 (growth 1.3 per cell, at most 0.05 mm), x uniform with the cells left over."""
        from sciml.classical.phasefield_fem import graded_axis

        y = graded_axis(-0.5, 0.5, -2 * self.l, 2 * self.l, self.l / 2, growth=1.3, h_max=0.05)
        nx = max(1, round(n_points / (order * order * (len(y) - 1))))
        return [np.linspace(-0.5, 0.5, nx + 1), y]

    def solution_grid(self, n: int = 201, n_time: int = 11) -> Reference:
        return super().solution_grid(n, n_time)

    def material(self):
        """The problem's :class:`sciml.classical.phasefield_fem.Material`."""
        from sciml.classical.phasefield_fem import Material

        return Material(E=self.E, nu=self.nu, G_c=self.G_c, l=self.l)

    def loads(self) -> np.ndarray:
        """The imposed top displacements (load_steps,) [mm]."""
        return np.linspace(self.max_displacement / self.load_steps, self.max_displacement, self.load_steps)

    # -- the deep-energy solver's load stepping (the finite elements need none of this) ----------------
    @property
    def load(self) -> float:
        """The top displacement δ [mm] the hard constraint imposes now: the last load step's unless
        :meth:`set_load` chose another (the deep-energy solver steps it along :meth:`loads`)."""
        return getattr(self, "_load", self.max_displacement)

    def set_load(self, delta: float) -> None:
        self._load = float(delta)

    def constraint(self):
        """Grips: u = 0 at the bottom (y = -0.5), u_x = 0 and u_y = δ at the top; the damage is free. The
        displacements' free part is scaled by ``max_displacement``, so the network's outputs are of order one."""
        scale, delta = self.max_displacement, self.load

        def particular(x):
            zero = torch.zeros_like(x[:, 0])
            return torch.stack([zero, delta * (x[:, 1] + 0.5), zero], dim=1)

        def distance(x):
            between = (0.25 - x[:, 1] ** 2) / 0.25 * scale
            return torch.stack([between, between, torch.ones_like(between)], dim=1)
        return HardConstraint(particular, distance, enforces=("boundary",))

    def _strains(self, f):
        exx, eyy = f.d("u_x", "x"), f.d("u_y", "y")
        return exx, eyy, (f.d("u_x", "y") + f.d("u_y", "x")) / 2

    def degradation(self, d):
        """g(d) = (1 − d)² + k, the residual stiffness k of the finite elements' :class:`Material`."""
        return (1 - d) ** 2 + self.material().k

    def driving_energy(self, f):
        """The tensile elastic energy density ψ⁺ [kN/mm²] (N,) of the split that drives the damage
        (:data:`sciml.classical.phasefield_fem.SPLITS`, as the finite elements define it)."""
        m = self.material()
        lam, mu = m.lam, m.mu
        exx, eyy, exy = self._strains(f)
        trace = exx + eyy
        if self.split == "none":
            return lam / 2 * trace ** 2 + mu * (exx ** 2 + eyy ** 2 + 2 * exy ** 2)
        if self.split == "spectral":  # principal strains of the in-plane tensor; ε_zz = 0 adds nothing
            radius = torch.sqrt(((exx - eyy) / 2) ** 2 + exy ** 2 + 1e-30)
            return lam / 2 * torch.relu(trace) ** 2 + mu * (torch.relu(trace / 2 + radius) ** 2
                                                            + torch.relu(trace / 2 - radius) ** 2)
        bulk = lam + 2 * mu / 3  # amor: volumetric-deviatoric with the 3-D deviator of the plane strain
        mean = trace / 3
        deviator = (exx - mean) ** 2 + (eyy - mean) ** 2 + mean ** 2 + 2 * exy ** 2
        return bulk / 2 * torch.relu(trace) ** 2 + mu * deviator

    def reaction_density(self, f):
        """The integrand (N,) [kN/mm²] whose integral over the domain is the top grip's load per unit
        thickness: σ : ∇v for the virtual displacement v = (0, y + 0.5) that moves the top grip by one and
        holds the bottom one, i.e. the degraded stress σ_yy = g(d) (C : ε)_yy of the hybrid formulation (the
        displacement sees the isotropic degraded stiffness, as in the finite elements)."""
        m = self.material()
        exx, eyy, _ = self._strains(f)
        return self.degradation(f["d"]) * (m.lam * (exx + eyy) + 2 * m.mu * eyy)

    def initial_history(self, points: np.ndarray) -> np.ndarray:
        """The notch as an initial history field (Borden, Verhoosel, Scott, Hughes & Landis 2012, CMAME
        217-220, 77-95, eq. 4.1; B = 1e3): H₀ = B G_c / (4 l) (1 − 2 r / l) within l / 2 of the slit
        (y = 0, x ≤ 0), 0 elsewhere, for points (N, 2) -> (N,) [kN/mm²]. A network cannot open a
        geometric slit, so the damage it drives to 1 along the slit carries the notch."""
        x, y = points[:, 0], points[:, 1]
        r = np.where(x <= 0, np.abs(y), np.hypot(x, y))
        return 1e3 * self.G_c / (4 * self.l) * np.clip(1 - 2 * r / self.l, 0.0, None)

    def energy(self, f, history=None):
        """AT2 energy densities for the deep-energy solver, over G_c / l: ``elastic`` g(d) ψ(ε) with the
        damage held (its gradient moves only u) and ``fracture`` g(d) H + G_c (d² / (2l) + l |∇d|² / 2)
        with H = max(``history``, ψ⁺(ε)) held (its gradient moves only d): one loss whose stationary
        point is the staggered scheme's (Miehe et al. 2010), the history making the damage irreversible."""
        m = self.material()
        exx, eyy, exy = self._strains(f)
        psi = m.lam / 2 * (exx + eyy) ** 2 + m.mu * (exx ** 2 + eyy ** 2 + 2 * exy ** 2)
        d = f["d"]
        drive = self.driving_energy(f).detach()
        if history is not None:
            drive = torch.maximum(drive, history)
        gradient = f.d("d", "x") ** 2 + f.d("d", "y") ** 2
        unit = self.G_c / self.l
        return {"elastic": self.degradation(d.detach()) * psi / unit,
                "fracture": (self.degradation(d) * drive + self.G_c * (d * d / (2 * self.l) + self.l * gradient / 2)) / unit}


# -- one-dimensional phase-field problems (closed forms) ---------------------------------------------
# The phase-field regularisation of Bourdin, Francfort & Marigo (2000) with the AT2 (w(d) = d²,
# c_w = 2) and AT1 (w(d) = d, c_w = 8/3) dissipation functions (Pham, Amor, Marigo & Maurini 2011,
# "Gradient damage models and their use to approximate brittle fracture", Int. J. Damage Mech. 20,
# 618–652): crack surface density γ(d, d') = (w(d) + l² d'²) / (c_w l) [1/mm], degradation
# g(d) = (1 - d)². Their closed forms are in the module's functions below.

MODELS = ("at2", "at1")
C_W = {"at2": 2.0, "at1": 8.0 / 3.0}
"""Normalisation c_w = 4 ∫₀¹ √w(s) ds of the dissipation w: 2 for AT2 (w = d²), 8/3 for AT1 (w = d)."""
IRREVERSIBILITY_PENALTY = 1.0e4
"""Weight of the damaged bar's irreversibility penalty on a decrease of d along the load path."""


SOLVER_DEFAULTS_1D = {"width": 32, "depth": 3, "n_interior": 512, "iterations": 2000, "lr": 2e-3,
                      "lbfgs_iterations": 2000, "dtype": "float64", "compile": False}
"""Solver settings of the 1-D problems: a small float64 network on 512 Gauss–Legendre nodes, no
compilation (a step takes milliseconds)."""


def dissipation(model: str, d):
    """w(d): d² (AT2) or d (AT1), of an array or tensor."""
    return d * d if model == "at2" else d


def _model(doc: str) -> Parameter:
    return Parameter("at2", doc=doc, choices=MODELS)


def _relu_square(v: torch.Tensor):
    """d = max(v, 0)² with its first and second derivatives: a damage ≥ 0 with a continuous slope."""
    p = torch.relu(v)
    return p * p, 2 * p, 2 * (v > 0).to(v.dtype)


def _relu(v: torch.Tensor):
    """d = max(v, 0) with its first and second derivatives."""
    step = (v > 0).to(v.dtype)
    return v * step, step, torch.zeros_like(v)


def crack_profile(x: np.ndarray, model: str, l: float, a: float) -> np.ndarray:
    """Closed-form optimal damage profile d(x) (N,) at x (N,) [mm] on [-a, a] with d(0) = 1 and free
    ends: AT2 cosh((a - |x|)/l) / cosh(a/l); AT1 (1 - |x|/(2l))² for |x| ≤ 2l, 0 beyond (a ≥ 2l)."""
    r = np.abs(np.asarray(x, float))
    if model == "at2":
        return np.cosh((a - r) / l) / np.cosh(a / l)
    return np.clip(1 - r / (2 * l), 0.0, None) ** 2


def crack_surface(model: str, l: float, a: float) -> float:
    """Closed-form crack surface Γ = ∫ γ dx [1] of the optimal profile: AT2 tanh(a/l), AT1 1."""
    return math.tanh(a / l) if model == "at2" else 1.0


def measured_crack_surface(predict, model: str, l: float, a: float, n: int = 20001) -> float:
    """Γ = ∫_{-a}^{a} (w(d) + l² d'²) / (c_w l) dx [1] of a predicted profile ``predict`` (points
    (N, 1) -> (N, 1)), on each half [-a, 0], [0, a] as the exact functional of the piecewise-linear
    interpolant of ``n`` samples (error O((a / n)² / l²)), so the kink at x = 0 is resolved."""
    total = 0.0
    for x in (np.linspace(-a, 0.0, n), np.linspace(0.0, a, n)):
        d = predict(x[:, None])[:, 0]
        h = np.diff(x)
        slope = np.diff(d) / h
        if model == "at2":  # ∫ d² of a linear piece: h (d0² + d0 d1 + d1²) / 3
            w = h * (d[:-1] ** 2 + d[:-1] * d[1:] + d[1:] ** 2) / 3
        else:
            w = h * (d[:-1] + d[1:]) / 2
        total += float(np.sum(w + l * l * slope ** 2 * h)) / (C_W[model] * l)
    return total


def bar_damage(strain: np.ndarray, model: str, E: float, G_c: float, l: float) -> np.ndarray:
    """Closed-form uniform damage d(ε) (N,) of a homogeneous bar at strains (N,) under monotonic
    loading (the minimiser of ½ (1 - d)² E ε² + G_c w(d) / (c_w l) over d, non-decreasing in ε):
    AT2 E ε² / (E ε² + G_c / l); AT1 max(0, 1 - ε_c² / ε²), ε_c² = 3 G_c / (8 l E)."""
    e2 = np.asarray(strain, float) ** 2
    if model == "at2":
        return E * e2 / (E * e2 + G_c / l)
    with np.errstate(divide="ignore"):
        return np.clip(1 - 3 * G_c / (8 * l * E) / e2, 0.0, None)


def bar_peak(model: str, E: float, G_c: float, l: float) -> tuple[float, float]:
    """Closed-form (peak stress σ_c [kN/mm²], strain at the peak [1]) of the homogeneous bar:
    AT2 (3√3/16) √(E G_c / l) at ε = √(G_c / (3 E l)); AT1 √(3 E G_c / (8 l)) at ε = √(3 G_c / (8 E l))."""
    if model == "at2":
        return 3 * math.sqrt(3) / 16 * math.sqrt(E * G_c / l), math.sqrt(G_c / (3 * E * l))
    return math.sqrt(3 * E * G_c / (8 * l)), math.sqrt(3 * G_c / (8 * E * l))


class _Profile1D(Problem):
    """A 1-D phase-field problem of one input and one output, solved by energy minimisation, whose
    comparison figure is a profile and its error."""

    outputs = ("d",)
    default_solver = "deep-energy"
    solver_defaults = SOLVER_DEFAULTS_1D

    def plot(self, reference: Reference, prediction: np.ndarray, path, title: str = ""):
        from sciml.plotting import save_figure, subplots

        (name, axis), = reference.grid.items()
        out = self.outputs[0]
        fig, (left, right) = subplots(1, 2, figsize=(11, 4))
        left.plot(axis, reference.values[:, 0], "k-", lw=2, alpha=0.5, label="closed form")
        left.plot(axis, prediction[:, 0], "C0--", lw=1.4, label="prediction")
        left.set_ylabel(f"{out} [{self.unit(out)}]")
        left.legend()
        right.plot(axis, prediction[:, 0] - reference.values[:, 0], "C3-", lw=1.2)
        right.set_ylabel(f"prediction − closed form, {out} [{self.unit(out)}]")
        for ax in (left, right):
            ax.set_xlabel(f"{name} [{self.unit(name)}]")
            ax.grid(alpha=0.3)
        left.set_title(title or self.description)
        right.set_title("error")
        return save_figure(fig, path)


class PhaseField1D(_Profile1D):
    """The optimal crack profile of a 1-D phase-field bar: minimise the crack surface functional
    Γ[d] = ∫_{-a}^{a} (w(d) + l² d'²) / (c_w l) dx with d(0) = 1 and free ends (AT2: w = d²; AT1:
    w = d with d ≥ 0). Closed forms: AT2 d = cosh((a - |x|)/l) / cosh(a/l), Γ = tanh(a/l); AT1
    d = (1 - |x|/(2l))² on |x| ≤ 2l, 0 beyond, Γ = 1 (:func:`crack_profile`). Solved by energy
    minimisation (``--solver deep-energy``): d = 1 + (|x|/l) N(x) holds d(0) = 1 exactly and lets the
    network's smooth N carry the kink at 0; AT1 keeps d = max(1 + (|x|/l) N, 0)² ≥ 0, which holds
    its exact profile (N = -1/2). Metrics: ``gamma`` (Γ of the prediction, :func:`measured_crack_surface`),
    ``gamma_exact`` and ``gamma_error`` (their difference), ``d_min``."""

    name = "phase-field-1d"
    description = "1-D phase-field crack profile d(x) on [-a, a], d(0) = 1, AT2 or AT1 (closed form)"
    inputs = ("x",)
    units = {"x": "mm", "d": "1"}
    parameters = {
        "model": _model("dissipation: 'at2' (w = d²) or 'at1' (w = d, with an elastic threshold)"),
        "l": _positive(0.015, "mm", "phase-field length scale"),
        "a": _positive(0.06, "mm", "half-length of the bar (AT1 needs a >= 2 l)"),
    }

    def __init__(self, **params):
        super().__init__(**params)
        if self.model == "at1" and self.a < 2 * self.l:
            raise ValueError(f"a must be >= 2 l = {2 * self.l:g} mm for the AT1 profile (its support), got {self.a!r}")

    def geometry(self):
        return dde().Interval(-self.a, self.a)

    def energy(self, f):
        d, slope = f["d"], f.d("d", "x")
        return (dissipation(self.model, d) + self.l * self.l * slope * slope) / (C_W[self.model] * self.l)

    def constraint(self):
        return HardConstraint(lambda x: torch.ones_like(x[:, :1]), lambda x: x[:, :1].abs() / self.l,
                              enforces=("boundary",))

    def output_transform(self):
        """AT1: d = max(v, 0)² (d ≥ 0); AT2: none (its minimiser is positive)."""
        return _relu_square if self.model == "at1" else None

    def reference(self) -> Reference:
        x = np.linspace(-self.a, self.a, 1201)
        return Reference(x[:, None], crack_profile(x, self.model, self.l, self.a)[:, None],
                         f"closed-form {self.model.upper()} profile (l = {self.l:g} mm, a = {self.a:g} mm)",
                         grid={"x": x})

    def metrics(self, predict) -> dict[str, float]:
        gamma = measured_crack_surface(predict, self.model, self.l, self.a)
        exact = crack_surface(self.model, self.l, self.a)
        d = predict(np.linspace(-self.a, self.a, 4001)[:, None])
        return {"gamma": gamma, "gamma_exact": exact, "gamma_error": gamma - exact, "d_min": float(d.min())}


class DamagedBar(_Profile1D):
    """A homogeneous 1-D bar pulled to failure: its uniform damage d along the load path, and the
    peak stress against the closed form σ_c (AT2 (3√3/16) √(E G_c/l), AT1 √(3 E G_c/(8 l)), :func:`bar_peak`).

    In a homogeneous bar the strain ε and the damage d are uniform, so the energy per unit volume at
    the imposed strain ε is ψ(ε, d) = ½ (1 - d)² E ε² + G_c w(d) / (c_w l) (no gradient term): each
    load step is a minimisation over one number d. The input is the load, ε ∈ [0, max_strain], and
    the energy minimised is the load path's ∫ ψ(ε, d(ε)) dε / (max_strain G_c / l) (``energy``), whose
    minimiser is the per-step minimiser at every ε at once — the deep-energy solver trains one
    network d(ε) for all load steps (Gauss–Legendre nodes are the load steps). Irreversibility
    (d non-decreasing along the monotonic load path) is a penalty ``irreversibility`` =
    :data:`IRREVERSIBILITY_PENALTY` · max(0, -max_strain ∂d/∂ε)², inactive at the monotonic
    minimiser; AT1's d ≥ 0 is the output transform d = max(v, 0). Stress σ = (1 - d)² E ε.
    Metrics: ``peak_stress`` [kN/mm²] and ``peak_strain`` on a 20,001-point load grid,
    ``peak_stress_closed_form``, ``peak_stress_rel_error``, ``healing`` (the largest decrease of d
    between neighbouring load steps, 0 when irreversible); figure ``stress_strain.png``."""

    name = "damaged-bar"
    description = "homogeneous 1-D bar pulled to failure: uniform damage d(strain), peak stress (closed form)"
    inputs = ("strain",)
    units = {"strain": "1", "d": "1"}
    parameters = {
        "model": _model("dissipation: 'at2' (w = d²) or 'at1' (w = d, elastic until the peak)"),
        "E": _positive(210.0, "kN/mm^2", "Young's modulus"),
        "G_c": _positive(2.7e-3, "kN/mm", "fracture toughness (critical energy release rate)"),
        "l": _positive(0.015, "mm", "phase-field length scale"),
        "max_strain": _positive(0.05, "1", "imposed strain at the end of the load path (past 1.5 x the peak strain)"),
    }

    def __init__(self, **params):
        super().__init__(**params)
        _, at = bar_peak(self.model, self.E, self.G_c, self.l)
        if self.max_strain < 1.5 * at:
            raise ValueError(f"max_strain must be >= 1.5 x the peak strain {at:.4g} of the {self.model.upper()} "
                             f"closed form, so the load path passes the peak; got {self.max_strain!r}")

    def geometry(self):
        return dde().Interval(0.0, self.max_strain)

    def energy(self, f):
        eps, d = f["strain"], f["d"]
        w = dissipation(self.model, d)
        scale = self.max_strain * self.G_c / self.l
        psi = 0.5 * (1 - d) ** 2 * self.E * eps * eps + self.G_c * w / (C_W[self.model] * self.l)
        healing = torch.relu(-self.max_strain * f.d("d", "strain"))
        return {"energy": psi / scale, "irreversibility": IRREVERSIBILITY_PENALTY * healing ** 2 / self.max_strain}

    def output_transform(self):
        """AT1: d = max(v, 0) (below the peak its minimiser would be negative); AT2: none."""
        return _relu if self.model == "at1" else None

    def stress(self, strain: np.ndarray, d: np.ndarray) -> np.ndarray:
        """σ = (1 - d)² E ε [kN/mm²] at strains (N,) with damage (N,)."""
        return (1 - d) ** 2 * self.E * strain

    def reference(self) -> Reference:
        strain = np.linspace(0.0, self.max_strain, 1001)
        d = bar_damage(strain, self.model, self.E, self.G_c, self.l)
        return Reference(strain[:, None], d[:, None], f"closed-form uniform {self.model.upper()} damage of a homogeneous "
                         f"bar (l = {self.l:g} mm)", grid={"strain": strain})

    def _curve(self, predict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        strain = np.linspace(0.0, self.max_strain, 20001)
        d = predict(strain[:, None])[:, 0]
        return strain, d, self.stress(strain, d)

    def metrics(self, predict) -> dict[str, float]:
        strain, d, sigma = self._curve(predict)
        k = int(np.argmax(sigma))
        closed, _ = bar_peak(self.model, self.E, self.G_c, self.l)
        return {"peak_stress": float(sigma[k]), "peak_strain": float(strain[k]), "peak_stress_closed_form": closed,
                "peak_stress_rel_error": float(sigma[k] / closed - 1), "healing": float(max(0.0, -np.diff(d).min()))}

    def figures(self, predict, out) -> list:
        from sciml.plotting import save_figure, subplots

        strain, d, sigma = self._curve(predict)
        exact = self.stress(strain, bar_damage(strain, self.model, self.E, self.G_c, self.l))
        closed, at = bar_peak(self.model, self.E, self.G_c, self.l)
        fig, ax = subplots(figsize=(6.0, 4.2))
        ax.plot(strain, exact, "k-", lw=2, alpha=0.5, label="closed form")
        ax.plot(strain, sigma, "C0--", lw=1.4, label="deep energy: σ = (1 − d)² E ε")
        ax.plot(at, closed, "ks", mfc="none", label=f"σ_c = {closed:.4g} kN/mm²")
        k = int(np.argmax(sigma))
        ax.plot(strain[k], sigma[k], "C0o", mfc="none", label=f"peak {sigma[k]:.4g} kN/mm² ({sigma[k] / closed - 1:+.2%})")
        ax.set_xlabel("strain ε [1]")
        ax.set_ylabel("stress σ [kN/mm²]")
        ax.set_title(f"homogeneous bar, {self.model.upper()}, l = {self.l:g} mm")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return [save_figure(fig, Path(out) / "stress_strain.png")]


def williams_displacement(x, y, K: float, E: float, nu: float):
    """The Mode-I Williams displacements (u_x, u_y) [mm] at points x, y [mm] (arrays or tensors of one
    shape) around a crack along the negative x axis with its tip at the origin, plane strain:
    u = K/(2μ) √(r/2π) (cos(θ/2), sin(θ/2)) (κ − cos θ), κ = 3 − 4ν, μ = E / (2 (1 + ν)); K in
    kN/mm^(3/2), E in kN/mm². θ = atan2(y, x) ∈ (−π, π]: the upper crack face (y = 0, x < 0) is θ = π."""
    lib = torch if torch.is_tensor(x) else np
    r, theta = lib.sqrt(x * x + y * y), lib.arctan2(y, x) if lib is np else torch.atan2(y, x)
    kappa, mu = 3 - 4 * nu, E / (2 * (1 + nu))
    amplitude = K / (2 * mu) * lib.sqrt(r / (2 * math.pi)) * (kappa - lib.cos(theta))
    return amplitude * lib.cos(theta / 2), amplitude * lib.sin(theta / 2)


def plane_strain_stress(grad: np.ndarray, E: float, nu: float) -> tuple[np.ndarray, np.ndarray]:
    """Stresses (σ_xx, σ_yy, σ_xy) stacked as (..., 3) [kN/mm²] and the strain energy density W
    (...) [kN/mm²] of displacement gradients ``grad`` (..., 2, 2), grad[..., i, j] = ∂u_i/∂x_j, plane strain."""
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    exx, eyy, exy = grad[..., 0, 0], grad[..., 1, 1], (grad[..., 0, 1] + grad[..., 1, 0]) / 2
    trace = exx + eyy
    stress = np.stack([lam * trace + 2 * mu * exx, lam * trace + 2 * mu * eyy, 2 * mu * exy], axis=-1)
    energy = lam / 2 * trace ** 2 + mu * (exx ** 2 + eyy ** 2 + 2 * exy ** 2)
    return stress, energy


def j_integral(predict, radius: float, E: float, nu: float, n: int = 256, step: float | None = None) -> float:
    """The J-integral [kN/mm] of a Mode-I displacement field ``predict`` (points (N, 2) -> (N, 2), mm) on
    the circle of ``radius`` [mm] around the tip: J = ∮ (W n_x − t · ∂u/∂x) ds from the lower crack face to
    the upper one, taken as twice the integral over the upper half (θ from 0 to π; the Mode-I symmetry
    makes the integrand even in θ). Gauss–Legendre in θ on [0, π − δ] with ``n`` nodes; the gradients by
    central differences of ``step`` (default radius / 500), and δ = 5 steps / radius keeps every stencil
    on the upper side of the crack (the integrand vanishes on the crack faces)."""
    h = radius / 500 if step is None else step
    z, w = np.polynomial.legendre.leggauss(n)
    top = math.pi - 5 * h / radius
    theta, weight = (z + 1) * top / 2, w * top / 2
    normal = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    points = radius * normal
    grad = np.empty((n, 2, 2))
    for j, shift in enumerate(np.eye(2) * h):
        grad[:, :, j] = (predict(points + shift) - predict(points - shift)) / (2 * h)
    stress, energy = plane_strain_stress(grad, E, nu)
    traction = np.stack([stress[:, 0] * normal[:, 0] + stress[:, 2] * normal[:, 1],
                         stress[:, 2] * normal[:, 0] + stress[:, 1] * normal[:, 1]], axis=1)
    integrand = energy * normal[:, 0] - np.sum(traction * grad[:, :, 0], axis=1)
    return float(2 * radius * np.sum(weight * integrand))


class CrackLineTraction:
    """The conditions of the k-field's lower edge y = 0 (the crack line), as a soft condition: no shear
    traction along it all (σ_xy = 0: the crack face is free, the ligament x > 0 a symmetry line) and no
    normal traction on the crack face x < 0 (σ_yy = 0); u_y = 0 on the ligament is exact by the hard
    constraint. Residuals are stresses in units of μ U / a times √(r / a), which removes the 1/√r growth
    of the stress towards the tip."""

    kind = "boundary"

    def __init__(self, problem: "KField", n_points: int | None = None, weight: float = 1.0):
        self.problem, self.n_points, self.weight = problem, n_points, weight
        self.name = "crack_line_traction"

    def sample(self, geom, n: int):
        from sciml.conditions import PointSet

        a = self.problem.a
        x = -a + 2 * a * (np.arange(n) + 0.5) / n  # midpoints: never the tip itself
        return PointSet(torch.as_tensor(np.stack([x, np.zeros(n)], axis=1), dtype=torch.float64))

    def residual(self, f, aux):
        p = self.problem
        lam, mu = p.lame
        x = f["x"]
        sxy = mu * (f.d("u_x", "y") + f.d("u_y", "x"))
        syy = lam * (f.d("u_x", "x") + f.d("u_y", "y")) + 2 * mu * f.d("u_y", "y")
        scale = torch.sqrt(x.abs() / p.a) / (mu * p.displacement_scale / p.a)
        return torch.cat([sxy * scale, torch.where(x < 0, syy, torch.zeros_like(syy)) * scale])


class KField(Problem):
    """A Mode-I crack tip in a linear elastic square: the square [-a, a]² with a crack along the
    negative x axis to its centre, the Williams displacements of stress intensity K imposed on the outer
    boundary (:func:`williams_displacement`), traction-free crack faces, plane strain. The exact
    solution is the Williams field itself, and the J-integral of any contour around the tip equals
    K² / E' (E' = E / (1 − ν²)).

    By the Mode-I symmetry (u_x even in y, u_y odd) the problem is solved on the upper half
    [-a, a] × [0, a]: its lower edge y = 0 is the crack face for x < 0 (traction-free) and a symmetry
    line for x > 0 (u_y = 0, no shear; :class:`CrackLineTraction`), so no network has to carry the
    displacement jump across the crack. The outputs are u = F ⊙ (B + φ N) (:meth:`constraint`)
    with the factors F = U (√(r/a), y / √(2a (r + x))), U = K/(2μ) √(a/2π), which carry the √r behaviour
    at the tip that every crack-tip field has and hold u_y = 0 on the ligament, and B + φ N the network's
    part, which meets the outer boundary values exactly (φ vanishes there); the network learns the
    angular variation and the amplitude inside. The PINN solver minimises the Navier equations
    (``residual``, weighted by (r/a)^{3/2} against the r^{-3/2} growth of the singular terms), the
    deep-energy solver the strain energy (``energy``). Metrics: ``J`` [kN/mm] on the circle of
    ``contour_radius`` (:func:`j_integral`), ``K_J`` = √(J E') and ``K_rel_error`` = |K_J / K − 1|."""

    name = "k-field"
    description = ("Mode-I crack tip: Williams displacements on the boundary of a square, traction-free crack "
                   "faces, plane strain (upper half by symmetry; Williams field reference, K from the J-integral)")
    inputs = ("x", "y")
    outputs = ("u_x", "u_y")
    units = {"x": "mm", "y": "mm", "u_x": "mm", "u_y": "mm"}
    parameters = {
        "K": _positive(0.5, "kN/mm^(3/2)", "Mode-I stress intensity factor of the imposed field"),
        "E": _positive(210.0, "kN/mm²", "Young's modulus"),
        "nu": Parameter(0.3, unit="1", doc="Poisson's ratio", minimum=-0.99, maximum=0.49),
        "a": _positive(1.0, "mm", "half-width of the square around the tip"),
        "contour_radius": _positive(0.5, "mm", "radius of the J-integral's circle (less than a)"),
    }
    solver_defaults = {
        "width": 32, "depth": 4, "n_interior": 4000, "n_boundary": 400, "iterations": 3000,
        "lbfgs_iterations": 2000, "dtype": "float64", "eval_every": 250,
        # the energy on 4,000 Monte Carlo points drawn anew every step: on fixed Gauss nodes the network opened a
        # displacement jump between nodes that no node pays for, and the sampled energy fell below its minimum
        "deep-energy": {"quadrature": "monte-carlo", "resample_every": 1, "n_interior": 4000, "iterations": 6000,
                        "lbfgs_iterations": 0},
        # the PINN: SSBroyden after Adam on a smaller network, its points redrawn every 500 steps (validation
        # study k-field-default compares it with the Adam + L-BFGS settings above)
        "pinn": {"width": 30, "depth": 3, "resample_every": 500, "iterations": 1000, "optimizer": "ssbroyden",
                 "lbfgs_iterations": 4000},
    }

    def __init__(self, **params):
        super().__init__(**params)
        if not self.contour_radius < self.a:
            raise ValueError(f"contour_radius must be less than a = {self.a:g} mm, got {self.contour_radius!r}")

    @property
    def lame(self) -> tuple[float, float]:
        """Lamé's (λ, μ) [kN/mm²] of E and ν."""
        return self.E * self.nu / ((1 + self.nu) * (1 - 2 * self.nu)), self.E / (2 * (1 + self.nu))

    @property
    def displacement_scale(self) -> float:
        """U = K / (2μ) √(a / 2π) [mm], the size of the displacements at r = a."""
        return self.K / (2 * self.lame[1]) * math.sqrt(self.a / (2 * math.pi))

    @property
    def effective_modulus(self) -> float:
        """E' = E / (1 − ν²) [kN/mm²] (plane strain)."""
        return self.E / (1 - self.nu ** 2)

    def geometry(self):
        return dde().Rectangle([-self.a, 0.0], [self.a, self.a])

    def exact(self, points: np.ndarray) -> np.ndarray:
        """The Williams displacements (N, 2) [mm] at points (N, 2) [mm]."""
        return np.stack(williams_displacement(points[:, 0], points[:, 1], self.K, self.E, self.nu), axis=1)

    def _factors(self, x):
        """U (√(r/a), √r sin(θ/2) / √a) (N, 2) at points (N, 2): the √r and odd-in-y structure of the field."""
        a = self.a
        r = torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2)
        far = (r + x[:, 0].abs()).clamp_min(torch.finfo(x.dtype).tiny)  # 0 at the tip itself, not 0 / 0
        # √r sin(θ/2) = y / √(2 (r + x)) = sign(y) √((r − x) / 2): the first form ahead of the tip (x ≥ 0),
        # the second behind it, where r + x -> 0 on the crack face; each is finite off the tip
        side = torch.where(x[:, 1] >= 0, 1.0, -1.0).to(x.dtype)
        odd = torch.where(x[:, 0] >= 0, x[:, 1] / torch.sqrt(2 * a * far), side * torch.sqrt(far / (2 * a)))
        return torch.stack([torch.sqrt(r / a), odd], dim=1) * self.displacement_scale

    def constraint(self):
        """u = F ⊙ (B + φ N): F the factors (:meth:`_factors`), φ the distance function of the outer edges
        (left, right, top; :func:`sciml.adf.rectangle`) and B the transfinite blend (:func:`sciml.adf.blend`)
        of the boundary data over the factors on those edges. There F ⊙ B is the Williams displacement, so the
        outer boundary values hold exactly; the data over the factors are the Williams angular functions of
        the edge point's angle θ, (cos(θ/2) (κ − cos θ), κ − cos θ), finite where a factor vanishes (the
        corner (a, 0))."""
        from sciml import adf

        a = self.a
        lower, upper = (-a, 0.0), (a, a)

        def edges(x):
            projections = [torch.stack([torch.full_like(x[:, 0], -a), x[:, 1]], 1),
                           torch.stack([torch.full_like(x[:, 0], a), x[:, 1]], 1),
                           torch.stack([x[:, 0], torch.full_like(x[:, 0], a)], 1)]
            phis = [x[:, 0] + a, a - x[:, 0], a - x[:, 1]]
            theta = [torch.atan2(q[:, 1], q[:, 0]) for q in projections]
            radial = [3 - 4 * self.nu - torch.cos(t) for t in theta]  # the Williams field over the factors:
            return torch.stack([adf.blend(phis, [torch.cos(t / 2) * k for t, k in zip(theta, radial)]),  # u_x
                                adf.blend(phis, radial)], dim=1)                                      # u_y

        def distance(x):
            return self._factors(x) * adf.rectangle(x, lower, upper, "lrt")[:, None]
        return HardConstraint(lambda x: self._factors(x) * edges(x), distance, enforces=("boundary",))

    def conditions(self):
        return [CrackLineTraction(self)]

    def _tip_weight(self, f):
        return ((f["x"] ** 2 + f["y"] ** 2) / self.a ** 2) ** 0.75

    def residual(self, f):
        lam, mu = self.lame
        div_x = f.d("u_x", "x", "x") + f.d("u_y", "x", "y")
        div_y = f.d("u_x", "x", "y") + f.d("u_y", "y", "y")
        scale = self._tip_weight(f) * self.a ** 2 / (mu * self.displacement_scale)
        return {"navier_x": (mu * f.laplacian("u_x") + (lam + mu) * div_x) * scale,
                "navier_y": (mu * f.laplacian("u_y") + (lam + mu) * div_y) * scale}

    def energy(self, f):
        # strain energy density over μ U² / a²: its minimiser among fields with the boundary values is the
        # solution (the crack faces' zero traction is the natural condition)
        lam, mu = self.lame
        exx, eyy = f.d("u_x", "x"), f.d("u_y", "y")
        exy = (f.d("u_x", "y") + f.d("u_y", "x")) / 2
        W = lam / 2 * (exx + eyy) ** 2 + mu * (exx ** 2 + eyy ** 2 + 2 * exy ** 2)
        return W * self.a ** 2 / (mu * self.displacement_scale ** 2)

    def reference(self) -> Reference:
        x = np.linspace(-self.a, self.a, 101)
        y = np.linspace(0.0, self.a, 51)
        xx, yy = np.meshgrid(x, y, indexing="ij")
        points = np.stack([xx.ravel(), yy.ravel()], axis=1)
        return Reference(points, self.exact(points), f"Williams Mode-I field, K = {self.K:g} kN/mm^(3/2), "
                         f"plane strain (upper half of the square, a = {self.a:g} mm)", grid={"x": x, "y": y})

    def metrics(self, predict) -> dict[str, float]:
        J = j_integral(predict, self.contour_radius, self.E, self.nu)
        K = math.sqrt(max(J, 0.0) * self.effective_modulus)
        return {"J": J, "J_exact": self.K ** 2 / self.effective_modulus, "K_J": K, "K_rel_error": abs(K / self.K - 1)}
