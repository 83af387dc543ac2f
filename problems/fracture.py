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

import os
from pathlib import Path

import numpy as np

from sciml.geometry import dde
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

    def geometry(self):
        return dde().Rectangle([-0.5, -0.5], [0.5, 0.5])

    def solution_grid(self, n: int = 201, n_time: int = 11) -> Reference:
        return super().solution_grid(n, n_time)

    def material(self):
        """The problem's :class:`sciml.classical.phasefield_fem.Material`."""
        from sciml.classical.phasefield_fem import Material

        return Material(E=self.E, nu=self.nu, G_c=self.G_c, l=self.l)

    def loads(self) -> np.ndarray:
        """The imposed top displacements (load_steps,) [mm]."""
        return np.linspace(self.max_displacement / self.load_steps, self.max_displacement, self.load_steps)
