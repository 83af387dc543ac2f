"""The deep energy method (Samaniego et al. 2020; Goswami et al. 2020 for phase-field fracture).

Minimises a problem's energy functional ``Π[u] = Σ_k w_k ∫_Ω e_k(u, ∇u, ...) dx`` over the network
instead of the strong-form residual: the problem declares the integrand(s) ``energy(f)`` as it would
declare a residual (the same residual core supplies the derivatives), and the solver integrates
them with a quadrature rule over the domain.

E. Samaniego, C. Anitescu, S. Goswami, V. M. Nguyen-Thanh, H. Guo, K. Hamdia, X. Zhuang, T. Rabczuk,
"An energy approach to the solution of partial differential equations in computational mechanics
via machine learning: concepts, implementation and applications", Comput. Methods Appl. Mech.
Engrg. 362, 112790 (2020). S. Goswami, C. Anitescu, S. Chakraborty, T. Rabczuk, "Transfer learning
enhanced physics informed neural network for phase-field modeling of fracture", Theor. Appl.
Fract. Mech. 106, 102447 (2020).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor
from tqdm.auto import tqdm

from sciml import geometry, taylor
from sciml.conditions import PointSet
from sciml.fields import Plan
from sciml.networks import Network
from sciml.odeproblem import ODEProblem
from sciml.solver import Result
from sciml.solvers.pinn import PINN

QUADRATURES = ("auto", "gauss", "monte-carlo")
LOAD_STEPPING = ("loads", "set_load", "driving_energy", "reaction_density", "initial_history")
"""What a problem declares to be solved along a load path (:meth:`DeepEnergy.train`)."""
VOLUME_SAMPLES = 100_000
"""Points drawn in the bounding box to estimate a non-box domain's volume for Monte Carlo weights."""

Transform = Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]
"""A pointwise output map: values (N, n_out) -> (map, first derivative, second derivative), each (N, n_out)."""


def gauss_legendre(lower, upper, cells: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre rule on the box [lower, upper] (each (d,)): every axis cut into
    ``cells`` equal cells with ``order`` nodes each, tensor product over the axes. Returns points
    (N, d) and weights (N,) with N = (cells * order)^d; the weights sum to the box's volume and
    integrate polynomials of degree 2 * order - 1 per cell exactly."""
    return gauss_legendre_cells([np.linspace(lo, hi, cells + 1) for lo, hi in
                                 zip(np.atleast_1d(lower), np.atleast_1d(upper))], order)


def gauss_legendre_cells(edges: list[np.ndarray], order: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre rule on a tensor-product grid of cells: ``edges`` holds each axis's
    increasing cell edges (any spacing, e.g. graded towards a crack), ``order`` nodes per cell and
    axis. Returns points (N, d) and weights (N,), N = Π (len(edges_i) - 1) * order."""
    z, w = np.polynomial.legendre.leggauss(order)
    axes, weights = [], []
    for axis in edges:
        cuts = np.asarray(axis, float)
        half = np.diff(cuts)[:, None] / 2
        axes.append(((cuts[:-1, None] + cuts[1:, None]) / 2 + half * z).ravel())
        weights.append((half * w).ravel())
    points = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")], axis=1)
    weight = np.prod(np.stack([m.ravel() for m in np.meshgrid(*weights, indexing="ij")], axis=1), axis=1)
    return points, weight


class TransformedNetwork(Network):
    """A network whose (constrained) outputs pass through a pointwise map with known first and second
    derivatives (a problem's ``output_transform``, e.g. d = max(v, 0)² to keep a damage non-negative)."""

    def __init__(self, body: torch.nn.Module, constraint, transform: Transform):
        super().__init__(body, constraint)
        self.transform = transform

    def forward(self, x: Tensor) -> Tensor:
        return self.transform(super().forward(x))[0]

    def jet(self, x: Tensor, plan: Plan, constraint_jets=None) -> taylor.Jet:
        jet = super().jet(x, plan, constraint_jets)
        s0, s1, s2 = self.transform(jet[0])
        return taylor.elementwise(jet, plan, s1, s2, s0)


class DeepEnergy(PINN):
    """Deep energy method: minimise ``Σ_k w_k ∫ e_k dx`` of the problem's ``energy(f)``.

    The problem's ``energy(f)`` returns the integrand at the quadrature points, a tensor (N,) or a
    dict name -> (N,) (each integral is a loss term, weighted by ``weights``); its hard constraint
    and soft conditions (penalties, as in :class:`PINN`) apply, and so does its
    ``output_transform()`` if it declares one (a pointwise map of the outputs with its first and
    second derivatives, :data:`Transform`; e.g. a damage kept non-negative). An energy may be
    negative: the loss is the functional itself.

    Settings: those of :class:`PINN` (``n_interior`` is the number of quadrature points), and
    ``quadrature``: "gauss" (composite Gauss–Legendre on an interval or box domain: each axis cut
    into round(n_interior^(1/d) / quadrature_order) equal cells of ``quadrature_order`` nodes; an
    even number of cells puts the midpoint of each axis on a cell edge, where an integrand may have
    a kink), "monte-carlo" (``n_interior`` uniform random points weighted by the domain's volume /
    N, resampled every ``resample_every`` Adam steps — do resample: on fixed points the network
    can lower the sampled energy below the functional's minimum; any domain) or "auto" (gauss on boxes, else
    Monte Carlo). Trains on one process; residual-based refinement (``rar_every``) and the
    "engd" optimizer (which needs squared residuals) do not apply.
    """

    name = "deep-energy"
    inverse = False
    defaults: dict[str, Any] = {**PINN.defaults, "quadrature": "auto", "quadrature_order": 8,
                                "dtype": "float64", "step_iterations": 100, "vtu_every": 10}

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        if issubclass(problem_cls, ODEProblem):
            return "it is an ODE problem, with no energy functional"
        if not callable(getattr(problem_cls, "energy", None)):
            return "it declares no energy (a method energy(f) returning the integrand)"
        return None

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        if s["quadrature"] not in QUADRATURES:
            raise ValueError(f"quadrature must be one of {list(QUADRATURES)}, got {s['quadrature']!r}")
        if int(s["quadrature_order"]) != s["quadrature_order"] or not 1 <= s["quadrature_order"] <= 64:
            raise ValueError(f"quadrature_order must be an integer from 1 to 64, got {s['quadrature_order']!r}")
        if s["rar_every"]:
            raise ValueError(f"rar_every must be 0 for the deep-energy solver (its points are quadrature points), "
                             f"got {s['rar_every']!r}")
        if s["optimizer"] == "engd":
            raise ValueError("optimizer 'engd' needs squared residuals; the deep-energy loss is an energy")
        self.rule = self._rule()
        if self.rule == "gauss" and s["resample_every"]:
            raise ValueError(f"resample_every must be 0 with Gauss–Legendre quadrature (fixed nodes), "
                             f"got {s['resample_every']!r}")
        if self.rule == "monte-carlo" and not s["resample_every"]:
            warnings.warn("Monte Carlo quadrature on fixed points (resample_every 0): the network can lower the "
                          "sampled energy below the functional's minimum between the points; resample (e.g. "
                          "resample_every=1)")

    def _rule(self) -> str:
        """The quadrature used: "gauss" or "monte-carlo"."""
        g = geometry.dde()
        box = type(self.problem.geometry()) in (g.Interval, g.Rectangle, g.Cuboid, g.Hypercube)
        choice = self.settings["quadrature"]
        if choice == "gauss" and not box:
            raise ValueError(f"quadrature 'gauss' needs an interval or box domain; {self.problem.name!r} has a "
                             f"{type(self.problem.geometry()).__name__}: use 'monte-carlo'")
        return "gauss" if choice == "gauss" or (choice == "auto" and box) else "monte-carlo"

    # -- model -----------------------------------------------------------------------------------
    def build_model(self) -> Network:
        """:meth:`PINN.build_model`'s network, passed through the problem's ``output_transform()``
        when it declares one; in a load-stepped run it starts from the last step's network (Goswami et al.'s
        transfer learning)."""
        model = super().build_model()
        if self._warm is not None:
            model.body.load_state_dict(self._warm)
        transform = getattr(self.problem, "output_transform", lambda: None)()
        if transform is None:
            return model
        return TransformedNetwork(model.body, model.constraint, transform).to(self.device, self.dtype)

    # -- points ----------------------------------------------------------------------------------
    def _sample_interior(self) -> PointSet:
        """Quadrature points (N, d) with their weights (N,) as ``aux["weight"]``. Monte Carlo points
        are uniform over the domain, or drawn by the problem's ``sample_quadrature(n, generator)`` (points
        and weights, e.g. importance sampling towards a crack) when it declares one."""
        s, geom = self.settings, self.problem.geometry()
        if self.rule == "gauss":
            points, weight = self._gauss_rule()
        elif callable(getattr(self.problem, "sample_quadrature", None)):
            points, weight = self.problem.sample_quadrature(s["n_interior"], np.random.default_rng(np.random.randint(2 ** 31)))
        else:
            lower, upper = geometry.bounds(geom)
            points = geometry.sample(geom, s["n_interior"])
            box = lower + (upper - lower) * np.random.random((VOLUME_SAMPLES, len(lower)))
            volume = float(np.prod(upper - lower) * self.problem.inside(box).mean())
            weight = np.full(len(points), volume / len(points))
        if self.history is not None:  # the history field at these points: its nearest node's value
            self.point_history = self.history if self.rule == "gauss" else self.history[
                torch.as_tensor(self._history_nodes.query(points)[1], device=self.history.device)]
        return self._to_device(PointSet(torch.as_tensor(points), {"weight": torch.as_tensor(weight)}))

    def _gauss_rule(self) -> tuple[np.ndarray, np.ndarray]:
        """The composite Gauss–Legendre points (N, d) and weights (N,): on the problem's own cells
        (``quadrature_cells(n, order)``, e.g. graded towards a crack) when it declares them, else on
        equal cells of the domain's box."""
        s = self.settings
        if callable(getattr(self.problem, "quadrature_cells", None)):
            return gauss_legendre_cells(self.problem.quadrature_cells(s["n_interior"], s["quadrature_order"]),
                                        s["quadrature_order"])
        lower, upper = geometry.bounds(self.problem.geometry())
        cells = max(1, round(s["n_interior"] ** (1 / len(lower)) / s["quadrature_order"]))
        return gauss_legendre(lower, upper, cells, s["quadrature_order"])

    def _local(self, points: PointSet) -> PointSet:
        if getattr(self, "group", None) is not None:
            raise ValueError(f"the deep-energy solver trains on one process, got {self.group.size}")
        self.point_share = 1.0
        return points

    def _get_extra(self) -> dict:
        return {"interior": self.interior.x, "weight": self.interior.aux["weight"], "rar": None}

    def _set_extra(self, extra: dict) -> None:
        self.interior = self._to_device(PointSet(extra["interior"], {"weight": extra["weight"]}))
        self.rar_points = None
        self._prepare()

    # -- loss ------------------------------------------------------------------------------------
    def _residuals(self, f) -> dict[str, Tensor]:
        here = self.point_history
        at_points = here is not None and f.n == here.shape[0]  # the quadrature points, in order
        e = self.problem.energy(f, here) if at_points else self.problem.energy(f)
        return e if isinstance(e, dict) else {"energy": e}

    # -- load stepping -----------------------------------------------------------------------------
    history: Tensor | None = None
    """The history field H (M,) at the nodes of the Gauss rule (:meth:`_gauss_rule`) while a load-stepped
    problem trains, else None."""
    point_history: Tensor | None = None
    """H at the current quadrature points (N,): ``history`` itself with Gauss quadrature, its nearest
    node's value at each Monte Carlo point; the energy of other points (e.g. the residual statistics after
    training) takes none."""

    @property
    def load_stepped(self) -> bool:
        """Whether the problem is solved along a load path (it declares ``loads``, ``set_load``,
        ``driving_energy``, ``reaction_density`` and ``initial_history``; see :meth:`train`)."""
        return all(callable(getattr(self.problem, k, None)) for k in LOAD_STEPPING)

    _warm: dict | None = None
    """The last load step's network weights, which start the next step's network (None otherwise)."""

    def train(self, out=None, resume: bool = False, callbacks=None):
        """Train; a load-stepped problem (e.g. ``sent``) is solved along its load path ``loads()``:
        the first step trains ``iterations`` Adam steps (and the L-BFGS phase), each later one
        ``step_iterations`` Adam steps from the previous step's network (Goswami et al. 2020's
        transfer learning), and after each step the history field takes the larger of itself and
        the driving energy ``driving_energy`` at the quadrature points (irreversibility). The load
        after each step is the domain integral of ``reaction_density`` (the virtual work of a unit
        virtual displacement of the loaded boundary: exact at equilibrium, and no derivative on the
        boundary needed). Writes into
        ``out`` ``load_displacement.csv`` / ``.png`` and the damage (the output ``d``) on a 101 × 101 grid of
        the domain's box after every ``vtu_every``-th step as ``damage.pvd`` over ``damage/``. A Ctrl-C keeps
        the steps done."""
        if not self.load_stepped:
            return super().train(out=out, resume=resume, callbacks=callbacks)
        if resume:
            raise ValueError(f"a load-stepped run ({self.problem.name}) keeps no checkpoint across load steps to "
                             "resume from: run it again without resume")
        s, problem = self.settings, self.problem
        for key in ("step_iterations", "vtu_every"):
            if int(s[key]) != s[key] or s[key] < 1:
                raise ValueError(f"{key} must be a positive integer, got {s[key]!r}")
        loads = problem.loads()
        first = self.config
        later = dataclasses.replace(first, iterations=s["step_iterations"], lbfgs_iterations=0, progress=False,
                                    optimizer="adam-lbfgs", second_order_iterations=None)
        lower, upper = geometry.bounds(problem.geometry())
        grid = np.stack([m.ravel() for m in np.meshgrid(*(np.linspace(lo, hi, 101) for lo, hi in zip(lower, upper)),
                                                          indexing="ij")], axis=1)
        history, timings, force, damage, interrupted = [], {"train_s": 0.0, "this_session_s": 0.0}, [], [], False
        nodes, node_weight = self._gauss_rule()  # where the history lives and the load is integrated
        self._history_nodes = cKDTree(nodes)
        nodes_t = torch.as_tensor(nodes, dtype=self.dtype, device=self.device)
        node_weight = torch.as_tensor(node_weight, dtype=self.dtype, device=self.device)
        self._warm = None
        self.history = torch.as_tensor(problem.initial_history(nodes), dtype=self.dtype, device=self.device)
        bar = tqdm(total=len(loads), desc=f"{problem.name}/{self.name} load steps", disable=not s["progress"])
        for k, delta in enumerate(loads):
            problem.set_load(delta)
            self.config = first if k == 0 else later
            part = super().train(out=None, callbacks=callbacks)
            offset = history[-1]["step"] + 1 if history else 0
            history += [{**r, "step": r["step"] + offset, "load_step": k} for r in part.history]
            for key in timings:
                timings[key] += part.timings[key]
            if part.interrupted:
                interrupted = True
                break
            f = self.fields(nodes_t, self.plans[0], self._constraint_jets(nodes_t, self.plans[0]))
            self.history = torch.maximum(self.history, problem.driving_energy(f).detach())
            force.append(float((problem.reaction_density(f).detach() * node_weight).sum()))
            damage.append(part.predict(grid)[:, problem.outputs.index("d")])
            self._warm = {key: v.detach().clone() for key, v in self.model.body.state_dict().items()}
            bar.set_postfix(delta=f"{delta:.3e}", force=f"{force[-1]:.4f}")
            bar.update()
        bar.close()
        self.config, self._warm, self.history, self.point_history = first, None, None, None
        done = len(force)
        result = LoadSteppedResult(self, self.model, history, timings, self.device, interrupted,
                                   np.asarray(loads[:done]), np.asarray(force))
        if out is not None and done:
            self.write(Path(out), result, grid, damage)
        return result

    def write(self, out: Path, result: "LoadSteppedResult", grid: np.ndarray, damage: list[np.ndarray]) -> None:
        """``load_displacement.csv`` / ``.png`` and the damage series ``damage.pvd`` into ``out``."""
        from sciml.problems.fracture import plot_load_displacement, write_damage_series, write_load_displacement

        out.mkdir(parents=True, exist_ok=True)
        write_load_displacement(out / "load_displacement.csv", result.displacement, result.force)
        k = int(np.argmax(result.force))
        plot_load_displacement(out / "load_displacement.png", result.displacement, result.force,
                               f"ours, deep energy: peak {result.force[k]:.4f} kN at {result.displacement[k]:.3e} mm",
                               title=f"{self.problem.name} / deep-energy, l = {self.problem.l:g} mm, "
                                     f"split: {self.problem.split}")
        idx = np.arange(len(grid)).reshape(101, 101)
        quads = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], axis=-1).reshape(-1, 4)
        write_damage_series(out, grid, [("quad", quads)], damage, result.displacement, self.settings["vtu_every"])

    def _interior_terms(self, densities: dict[str, Tensor], aux: dict) -> dict[str, Tensor]:
        """Loss terms of the energy densities (name -> (N,)): weighted quadrature sums."""
        w = aux["weight"]
        return {k: self.weights.get(k, 1.0) * (v * w).sum() for k, v in densities.items()}

    def extra_metrics(self, result) -> dict[str, Any]:
        """``energy``: the trained functional's energy terms summed (the last step's loss less any
        condition penalties), ``quadrature`` (the rule) and ``quadrature_points``."""
        last = result.history[-1] if result.history else {}
        names = getattr(self, "residual_names", set())
        energy = sum(last[k] for k in names if k in last) if names & set(last) else math.nan
        return {"energy": energy, "quadrature": self.rule, "quadrature_points": int(self.interior.x.shape[0])}


class LoadSteppedResult(Result):
    """A load-stepped deep-energy result: the network after the last step done and the load–displacement
    curve ``displacement`` (S,) [mm], ``force`` (S,) [kN per mm of thickness]."""

    def __init__(self, solver, model, history, timings, device, interrupted, displacement, force):
        super().__init__(solver, model, history, timings, device, interrupted)
        self.displacement, self.force = displacement, force

    def own_metrics(self) -> dict[str, Any]:
        from sciml.problems.fracture import curve_metrics

        return curve_metrics(self.displacement, self.force) if len(self.force) else {}

    def own_figures(self) -> list[str]:
        return ["load_displacement.png"] if len(self.force) else []
