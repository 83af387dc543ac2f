"""The problem API: physics declared in one class, no solver code needed.

A problem declares its inputs and outputs, parameters (with units, defaults and checks), the domain
(a DeepXDE geometry), the residual, its conditions (soft) and/or a hard constraint, and a reference
solution for validation. Solvers only talk to this interface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
from torch import Tensor

from .conditions import Condition
from .inverse import Observations
from .fields import Fields
from .networks import HardConstraint


@dataclass(frozen=True)
class Parameter:
    """A physical parameter: default value, unit, description and allowed range.

    ``minimum``/``maximum`` are bounds; ``exclusive_minimum=True`` makes the minimum itself invalid
    (a viscosity must be > 0). ``choices`` restricts a string parameter.
    """

    default: Any
    unit: str = "1"
    doc: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] | None = None

    @property
    def type(self) -> type:
        return type(self.default)

    def validate(self, name: str, value: Any) -> Any:
        if self.choices is not None:
            if value not in self.choices:
                raise ValueError(f"{name} must be one of {list(self.choices)}, got {value!r}")
            return value
        try:
            value = self.type(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a {self.type.__name__}, got {value!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
        if self.minimum is not None:
            bad = value <= self.minimum if self.exclusive_minimum else value < self.minimum
            if bad:
                op = ">" if self.exclusive_minimum else ">="
                raise ValueError(f"{name} must be {op} {self.minimum} ({self.doc or name}), got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{name} must be <= {self.maximum}, got {value!r}")
        return value


@dataclass
class Reference:
    """A trusted solution on points (M, d) with values (M, n_out).

    When the points form a tensor-product grid, ``grid`` holds the axes (name -> 1-D array) in the
    order the points are raveled (C order, first axis slowest) so figures and VTU files can use it.
    ``source`` says where the values come from. ``outputs`` names the problem outputs that ``values``
    holds, in column order, when it holds only some of them (a CFD velocity field without pressure);
    None means all of them. ``measure`` names the comparison when ``values`` are a target state
    rather than a trusted solution (``"upright_distance"``: the relative L2 distance to the upright
    pendulum): ``metrics.json`` then reports it under that name, not as an error (``rel_l2`` None).
    """

    points: np.ndarray
    values: np.ndarray
    source: str
    grid: dict[str, np.ndarray] | None = None
    outputs: tuple[str, ...] | None = None
    measure: str | None = None

    def columns(self, problem_outputs: tuple[str, ...]) -> list[int]:
        """Column of each of the reference's outputs in the problem's output order."""
        names = problem_outputs if self.outputs is None else self.outputs
        missing = [n for n in names if n not in problem_outputs]
        if missing:
            raise ValueError(f"reference outputs {missing} are not outputs of the problem {problem_outputs}")
        return [problem_outputs.index(n) for n in names]

    @property
    def grid_shape(self) -> tuple[int, ...] | None:
        return None if self.grid is None else tuple(len(a) for a in self.grid.values())


def relative_l2(prediction: np.ndarray, reference: np.ndarray) -> float:
    """‖prediction − reference‖₂ / ‖reference‖₂ over all entries."""
    return float(np.linalg.norm(prediction - reference) / np.linalg.norm(reference))


class Problem:
    """Base class of every problem. Subclasses set the class attributes and implement the methods.

    Parameters are passed as keyword arguments, validated against ``parameters`` and become
    attributes: ``Burgers(nu=0.005).nu``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    units: ClassVar[dict[str, str]] = {}
    """Units of inputs and outputs, for figures and files ("1" for dimensionless)."""
    vectors: ClassVar[dict[str, tuple[str, ...]]] = {}
    """Outputs that are components of one vector, by the vector's name (``{"velocity": ("u", "v")}``):
    files for ParaView hold them as one 3-component vector."""
    time: ClassVar[str | None] = None
    """Name of the time input, if any; the other inputs are spatial."""
    periodic: ClassVar[tuple[str, ...]] = ()
    """Spatial inputs in which the domain is periodic, with its extent as period; solvers build this
    into the network exactly (no periodic condition needs declaring)."""
    parameters: ClassVar[dict[str, Parameter]] = {}
    solver_defaults: ClassVar[dict[str, Any]] = {}
    """Solver settings that suit this problem (network size, budget), used by ``sciml run``. A key that
    names a solver holds a dict of suggestions for that solver only (``{"iterations": 2000,
    "neural-ode": {"width": 128}}``: every solver that has ``iterations`` gets 2000, only
    ``neural-ode`` gets width 128); the other keys go to every solver that has the setting."""
    default_solver: ClassVar[str] = "pinn"
    """The solver ``sciml run NAME`` uses when no ``--solver`` is given."""
    observations: Observations | None = None
    """Measured values of some outputs that the loss fits (:meth:`observe`); None: none."""
    smoothing: ClassVar[str | None] = None
    """The parameter that smooths the solution as it grows (a viscosity or diffusion), for solvers that
    train on smoothed copies of a problem (``mto``'s ``smooth`` tasks); None: the problem names none."""
    data_weight: ClassVar[float] = 1.0
    """Weight of the observations' loss term ``data`` relative to a residual's, for a problem whose
    residual and data misfit differ in scale; a solver's ``weights={"data": w}`` overrides it."""
    unknowns: dict[str, float] = {}
    """Parameters learned with the network (:meth:`identify`): name -> initial guess."""
    applies: str = "all"
    """Which of the problem's initial/boundary conditions apply (:data:`sciml.inverse.CONDITIONS`)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        clash = [k for k in cls.parameters if hasattr(Problem, k)]
        if clash:
            raise TypeError(f"{cls.__name__}: parameter name(s) {clash} clash with Problem attributes")

    def __init__(self, **params: Any):
        unknown = set(params) - set(self.parameters)
        if unknown:
            known = ", ".join(sorted(self.parameters)) or "none"
            raise ValueError(f"unknown parameter(s) {sorted(unknown)} for problem {self.name!r}; "
                             f"its parameters are: {known}")
        self.params: dict[str, Any] = {}
        for key, spec in self.parameters.items():
            value = spec.validate(key, params.get(key, spec.default))
            self.params[key] = value
            setattr(self, key, value)

    def given(self, observations: Observations | None, conditions: str | None = None) -> "Problem":
        """Give this problem measured ``observations`` (checked against its outputs and domain; a
        ``ValueError`` names what is wrong) that solvers fit in a loss term ``data``, and say which of
        its conditions still apply: ``conditions`` one of "all", "boundary" and "none" (default with
        observations: "boundary", the initial condition being unknown; without: "all").
        Returns the problem."""
        from .inverse import CONDITIONS

        if observations is not None:
            observations.check(self)
        if conditions is None:
            conditions = "all" if observations is None else "boundary"
        if conditions not in CONDITIONS:
            raise ValueError(f"conditions must be one of {list(CONDITIONS)}, got {conditions!r}")
        self.observations, self.applies = observations, conditions
        return self

    def identify(self, names: Sequence[str] = (), initial_guess: dict[str, Any] | None = None) -> "Problem":
        """Declare the parameters ``names`` unknown: solvers learn them with the network, starting
        from ``initial_guess[name]`` where given, else from the parameter's value in this problem.
        Only real-valued parameters can be identified; a guess must satisfy the parameter's range.
        Returns the problem."""
        names = list(names)
        guesses = dict(initial_guess or {})
        for name in names + [g for g in guesses if g not in names]:
            if name not in self.parameters:
                known = ", ".join(sorted(self.parameters)) or "none"
                raise ValueError(f"cannot identify unknown parameter {name!r} of problem {self.name!r}; "
                                 f"its parameters are: {known}")
        stray = [g for g in guesses if g not in names]
        if stray:
            raise ValueError(f"initial guess given for {stray}, which is not identified (identify: {names})")
        if len(set(names)) != len(names):
            raise ValueError(f"identify names a parameter twice: {names}")
        unknowns = {}
        for name in names:
            spec = self.parameters[name]
            if spec.type is not float:
                raise ValueError(f"parameter {name!r} of problem {self.name!r} cannot be identified: only real-valued "
                                 f"parameters can, it is a {spec.type.__name__}")
            guess = spec.validate(name, guesses.get(name, self.params[name]))
            if spec.minimum is not None and guess == spec.minimum:
                raise ValueError(f"initial guess of {name} must be > {spec.minimum} (it is learned as "
                                 f"{spec.minimum} + exp(theta)), got {guess!r}")
            unknowns[name] = guess
        self.unknowns = unknowns
        return self

    @property
    def spatial(self) -> tuple[str, ...]:
        return tuple(i for i in self.inputs if i != self.time)

    def unit(self, name: str) -> str:
        return self.units.get(name, "1")

    # -- to implement --------------------------------------------------------------------------
    def geometry(self):
        """The domain as a DeepXDE geometry (space-time problems: ``GeometryXTime``)."""
        raise NotImplementedError

    def residual(self, f: Fields) -> Tensor | dict[str, Tensor]:
        """PDE residual(s) at interior points: a tensor (N,) or a dict name -> (N,)."""
        raise NotImplementedError

    def conditions(self) -> list[Condition]:
        """Conditions enforced as penalties (those the hard constraint does not already satisfy)."""
        return []

    def constraint(self) -> HardConstraint | None:
        """Output transform that satisfies conditions exactly, or None."""
        return None

    def reference(self) -> Reference | None:
        """A trusted solution to validate against, or None (the default) where there is none: the
        run then reports its loss terms and residual statistics instead of an error, and the
        problem's :meth:`metrics` may carry its validation (e.g. a benchmark's drag coefficient)."""
        return None

    def solution_grid(self, n: int = 101, n_time: int = 11) -> Reference:
        """Where to show a solution that has no reference: a tensor-product grid of ``n`` points per
        spatial input (``n_time`` times) over the domain's bounding box, with no values. Grid points
        outside the domain are kept (a grid needs them); :meth:`inside` tells which they are."""
        from .geometry import bounds

        lo, hi = bounds(self.geometry())
        order = ([self.time] if self.time else []) + list(self.spatial)
        grid = {name: np.linspace(lo[self.inputs.index(name)], hi[self.inputs.index(name)],
                                  n_time if name == self.time else n) for name in order}
        mesh = np.meshgrid(*grid.values(), indexing="ij")
        points = np.stack([mesh[order.index(name)].ravel() for name in self.inputs], axis=1)
        return Reference(points, np.zeros((len(points), 0)), "no reference: the prediction alone", grid=grid,
                         outputs=())

    def inside(self, points: np.ndarray) -> np.ndarray:
        """Which of ``points`` (N, d) lie in the domain (closed), as a bool array (N,)."""
        geom = self.geometry()
        if hasattr(geom, "timedomain"):  # space-time: inside in space and within the time interval
            space, times = geom.geometry, geom.timedomain
            t = points[:, -1]
            return np.asarray(space.inside(points[:, :-1]), bool) & (t >= times.t0) & (t <= times.t1)
        return np.asarray(geom.inside(points), bool)

    def plot(self, reference: Reference, prediction: np.ndarray, path, title: str = ""):
        """The comparison figure of a prediction (M, n_out) at the reference points, written to ``path``."""
        from .plotting import plot_comparison

        return plot_comparison(self, reference, prediction, path, title=title)

    def metrics(self, predict) -> dict[str, float]:
        """Problem-specific figures of merit of a trained model (e.g. a drag coefficient), added to
        ``metrics.json``; ``predict`` maps points (N, d) to outputs (N, n_out) (NumPy). None by default."""
        return {}

    def figures(self, predict, out) -> list:
        """Problem-specific figures of a trained model written into the folder ``out`` (a Path);
        returns their paths. None by default."""
        return []

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"
