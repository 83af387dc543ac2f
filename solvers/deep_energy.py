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

import math
import warnings
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from sciml import geometry, taylor
from sciml.conditions import PointSet
from sciml.fields import Plan
from sciml.networks import Network
from sciml.odeproblem import ODEProblem
from sciml.solvers.pinn import PINN

QUADRATURES = ("auto", "gauss", "monte-carlo")
VOLUME_SAMPLES = 100_000
"""Points drawn in the bounding box to estimate a non-box domain's volume for Monte Carlo weights."""

Transform = Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]
"""A pointwise output map: values (N, n_out) -> (map, first derivative, second derivative), each (N, n_out)."""


def gauss_legendre(lower, upper, cells: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre rule on the box [lower, upper] (each (d,)): every axis cut into
    ``cells`` equal cells with ``order`` nodes each, tensor product over the axes. Returns points
    (N, d) and weights (N,) with N = (cells * order)^d; the weights sum to the box's volume and
    integrate polynomials of degree 2 * order - 1 per cell exactly."""
    z, w = np.polynomial.legendre.leggauss(order)
    axes, weights = [], []
    for lo, hi in zip(np.atleast_1d(lower), np.atleast_1d(upper)):
        edges = np.linspace(lo, hi, cells + 1)
        half = np.diff(edges)[:, None] / 2
        axes.append(((edges[:-1, None] + edges[1:, None]) / 2 + half * z).ravel())
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
                                "dtype": "float64"}

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
        when it declares one."""
        model = super().build_model()
        transform = getattr(self.problem, "output_transform", lambda: None)()
        if transform is None:
            return model
        return TransformedNetwork(model.body, model.constraint, transform).to(self.device, self.dtype)

    # -- points ----------------------------------------------------------------------------------
    def _sample_interior(self) -> PointSet:
        """Quadrature points (N, d) with their weights (N,) as ``aux["weight"]``."""
        s, geom = self.settings, self.problem.geometry()
        lower, upper = geometry.bounds(geom)
        if self.rule == "gauss":
            cells = max(1, round(s["n_interior"] ** (1 / len(lower)) / s["quadrature_order"]))
            points, weight = gauss_legendre(lower, upper, cells, s["quadrature_order"])
        else:
            points = geometry.sample(geom, s["n_interior"])
            box = lower + (upper - lower) * np.random.random((VOLUME_SAMPLES, len(lower)))
            volume = float(np.prod(upper - lower) * self.problem.inside(box).mean())
            weight = np.full(len(points), volume / len(points))
        return self._to_device(PointSet(torch.as_tensor(points), {"weight": torch.as_tensor(weight)}))

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
        e = self.problem.energy(f)
        return e if isinstance(e, dict) else {"energy": e}

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
