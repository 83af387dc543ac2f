"""Phase-field finite elements as a solver: ``sciml run sent --solver fem``.

A thin wrapper over :mod:`sciml.classical.phasefield_fem` (P1 triangles graded towards the crack
path, staggered AT2 with a history field). Besides the standard outputs it writes into the run's
folder ``load_displacement.csv`` (columns displacement [mm], force [kN]), ``load_displacement.png``
(against Miehe et al.'s benchmark) and the damage after every ``vtu_every``-th load step on the
finite-element mesh as ``damage.pvd`` over ``damage/damage_NNNN.vtu`` (the load step's top
displacement as the series' time). Its result predicts the last step's displacement and damage by
linear interpolation on the mesh, and reports ``peak_force`` [kN] and ``peak_displacement`` [mm].
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sciml.classical import phasefield_fem as pf
from sciml.problem import Problem
from sciml.problems.fracture import (Sent, curve_metrics, plot_load_displacement, write_damage_series,
                                    write_load_displacement)
from sciml.solver import Result, Solver


class NodalField(nn.Module):
    """P1 fields on a mesh: ``values`` (N, k) at the mesh's nodes, a frozen parameter (so the
    result saves and loads like a network's); called on points (M, 2) it interpolates -> (M, k)."""

    def __init__(self, mesh: pf.Mesh, n_out: int):
        super().__init__()
        self.mesh = mesh
        self.values = nn.Parameter(torch.zeros(len(mesh.nodes), n_out, dtype=torch.float64), requires_grad=False)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        values = self.mesh.interpolate(self.values.detach().cpu().numpy(), points.detach().cpu().numpy())
        return torch.as_tensor(values, dtype=points.dtype)


class FEMResult(Result):
    """A finite-element result: the fields of the last load step and the load–displacement curve
    ``displacement`` (S,) [mm], ``force`` (S,) [kN]."""

    def __init__(self, solver: Solver, model: nn.Module, path: pf.LoadPath, timings: dict[str, float]):
        super().__init__(solver, model, [], timings, torch.device("cpu"))
        self.displacement, self.force = path.displacement, path.force
        self.unconverged = int(np.sum(~path.converged))

    def own_metrics(self) -> dict[str, Any]:
        return {**curve_metrics(self.displacement, self.force), "unconverged_steps": self.unconverged}

    def own_figures(self) -> list[str]:
        return ["load_displacement.png"]  # written with the curve by FEM.write


class FEM(Solver):
    """Phase-field finite elements (P1, staggered AT2, history field) for the fracture tests"""

    name = "fem"
    defaults = {
        "h": None, "band": None, "growth": 1.2, "h_max": 0.05, "tol": 1e-4, "max_passes": 300, "vtu_every": 5,
        "device": None, "seed": 0, "progress": True,
    }
    """``h``: element size [mm] along the crack path (None: l / 6); ``band``: half-height [mm] of the
    refined strip around y = 0 (None: 4 l); ``growth``, ``h_max`` [mm]: grading away from it; ``tol``: staggered
    passes stop when the damage changes by less than this; ``max_passes`` per load step; ``vtu_every``:
    write every so many steps' damage (and the last). ``device``, ``seed``: accepted for the common
    interface (the solver runs on the CPU and is deterministic)."""

    @classmethod
    def unsuitable(cls, problem_cls: type[Problem]) -> str | None:
        if not issubclass(problem_cls, Sent):
            return "the phase-field finite elements are written for the single-edge-notched tension test (sent)"
        return None

    def mesh(self) -> pf.Mesh:
        s = self.settings
        l = self.problem.l
        return pf.sent_mesh(s["h"] or l / 6, band=s["band"] or 4 * l, growth=s["growth"], h_max=s["h_max"])

    def build_model(self) -> NodalField:
        return NodalField(self.mesh(), len(self.problem.outputs))

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> FEMResult:
        if resume:
            raise ValueError("the fem solver keeps no checkpoint to resume from: run it again without resume")
        s, problem = self.settings, self.problem
        if int(s["vtu_every"]) != s["vtu_every"] or s["vtu_every"] < 1:
            raise ValueError(f"vtu_every must be a positive integer, got {s['vtu_every']!r}")
        model = self.build_model()
        fe = pf.PhaseField(model.mesh, problem.material(), problem.split)
        loads = problem.loads()
        started = time.perf_counter()
        with tqdm(total=len(loads), desc="sent/fem load steps", disable=not s["progress"]) as bar:
            def progress(step: int, delta: float, force: float) -> None:
                bar.set_postfix(delta=f"{delta:.3e}", force=f"{force:.4f}")
                bar.update()

            path = pf.solve(fe, pf.grips(model.mesh), loads, s["tol"], s["max_passes"], progress)
        elapsed = time.perf_counter() - started
        model.values.data = torch.as_tensor(np.column_stack([path.u.reshape(-1, 2), path.damage[-1]]))
        result = FEMResult(self, model, path, {"train_s": elapsed, "this_session_s": elapsed})
        if out is not None:
            self.write(Path(out), model.mesh, path)
        return result

    def write(self, out: Path, mesh: pf.Mesh, path: pf.LoadPath) -> None:
        """``load_displacement.csv``, ``load_displacement.png`` and the damage series into ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        write_load_displacement(out / "load_displacement.csv", path.displacement, path.force)
        peak, at = path.peak
        plot_load_displacement(out / "load_displacement.png", path.displacement, path.force,
                               f"ours, FEM (h = {mesh.h_min:.2g} mm): peak {peak:.4f} kN at {at:.3e} mm",
                               title=f"sent / fem, l = {self.problem.l:g} mm, split: {self.problem.split}")
        write_damage_series(out, mesh.nodes, [("triangle", mesh.triangles)], list(path.damage), path.displacement,
                            self.settings["vtu_every"])
