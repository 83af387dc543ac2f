"""Inverse problems: observations that enter the loss, and problem parameters learned with the network.

One mechanism for every problem (nothing here knows a particular problem):

- :class:`Observations` — measured values of some of a problem's outputs at points of its domain.
  They come from a user's file (:func:`read_observations`: CSV with a header naming the inputs and
  the observed outputs, e.g. ``x,t,u``, or NPZ with the same keys) or are sampled from the problem's
  own reference (:func:`sample_observations`: sensors at fixed positions, or random points, with
  optional Gaussian noise). :meth:`sciml.Problem.observe` gives them to a problem; the PINN solver
  then adds the loss term ``data`` = mean over all observed values of (prediction − value)².
- Which of the problem's own conditions still apply once it has observations (``conditions``):
  ``"all"``, ``"boundary"`` (the initial condition is unknown: the default with observations) or
  ``"none"`` (only the data and the residual, as Raissi et al. 2019 identify Burgers' viscosity).
- :class:`Unknowns` — the parameters declared unknown (:meth:`sciml.Problem.identify`), learned
  with the network from an initial guess. A parameter with a lower bound ``m`` is learned as
  ``m + exp(θ)`` (a positive one in log space), so it never leaves its range; others as themselves.
  During training :func:`bound` makes the problem's attribute (``problem.nu``) resolve to the
  learnable value, so ``residual(self, f)`` is written as for a known parameter.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .geometry import bounds

if TYPE_CHECKING:  # pragma: no cover
    from .problem import Problem

CONDITIONS = ("all", "boundary", "none")
"""Which of a problem's initial/boundary conditions apply: all of them, the boundary conditions only
(the initial condition unknown), or none (only observations and the residual)."""


@dataclass
class Observations:
    """Measured values ``values`` (N, k) of the outputs ``outputs`` at ``points`` (N, d), the points'
    columns in the problem's input order, in the problem's units.

    ``source`` says where they come from (a file, or how they were sampled from the reference);
    ``truth`` holds the parameter values that generated them when known (observations sampled from
    the problem's own reference), else None; ``noise`` the standard deviation of the Gaussian noise
    added to each output (absolute, in the output's unit; empty for measured data).
    """

    points: np.ndarray
    values: np.ndarray
    outputs: tuple[str, ...]
    source: str
    truth: dict[str, Any] | None = None
    noise: dict[str, float] | None = None

    def __post_init__(self):
        self.points = np.asarray(self.points, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        self.outputs = tuple(self.outputs)
        if self.values.ndim == 1:
            self.values = self.values[:, None]
        if (self.points.ndim != 2 or self.values.ndim != 2 or len(self.points) != len(self.values)
                or self.values.shape[1] != len(self.outputs)):
            raise ValueError(f"observations need points (N, d) and values (N, {len(self.outputs)}) for outputs "
                             f"{list(self.outputs)}, got {self.points.shape} and {self.values.shape}")
        if len(self.points) == 0:
            raise ValueError(f"observations from {self.source} hold no points")

    def __len__(self) -> int:
        return len(self.points)

    def check(self, problem: "Problem") -> None:
        """A ``ValueError`` naming what is wrong when these observations do not fit ``problem``:
        unknown outputs, a wrong number of input columns, NaN/inf, or points outside its domain."""
        unknown = [o for o in self.outputs if o not in problem.outputs]
        if unknown:
            raise ValueError(f"observations from {self.source}: {unknown} are not outputs of problem "
                             f"{problem.name!r} (its outputs: {list(problem.outputs)})")
        if self.points.shape[1] != len(problem.inputs):
            raise ValueError(f"observations from {self.source}: points have {self.points.shape[1]} columns, "
                             f"problem {problem.name!r} has inputs {list(problem.inputs)}")
        for what, array, names in (("input", self.points, problem.inputs), ("output", self.values, self.outputs)):
            bad = ~np.isfinite(array)
            if bad.any():
                row, col = np.argwhere(bad)[0]
                raise ValueError(f"observations from {self.source}: {int(bad.sum())} value(s) are NaN or "
                                 f"infinite, first in {what} column {names[col]!r} at row {row + 1}")
        outside = ~problem.inside(self.points)
        if outside.any():
            row = int(np.argmax(outside))
            point = ", ".join(f"{n}={v:g}" for n, v in zip(problem.inputs, self.points[row]))
            raise ValueError(f"observations from {self.source}: {int(outside.sum())} point(s) lie outside the "
                             f"domain of problem {problem.name!r}, first at row {row + 1} ({point})")

    def summary(self) -> dict[str, Any]:
        """Plain description for metrics.json and saved results (the values themselves are not kept)."""
        return {"source": self.source, "points": len(self), "outputs": list(self.outputs),
                "noise_std": self.noise or {}}


# -- reading ---------------------------------------------------------------------------------------
def read_observations(path: str | Path, problem: "Problem") -> Observations:
    """Observations of ``problem`` from a CSV file (a header row naming the columns, then one row per
    point) or an NPZ file (one 1-D array per name). The columns must include every input of the
    problem; the observed outputs are the other columns, each an output of the problem. Checked
    with :meth:`Observations.check`: any problem is one ``ValueError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"observations file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        columns = _read_csv(path)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            columns = {k: np.asarray(data[k]) for k in data.files}
        shapes = {k: v.shape for k, v in columns.items() if v.ndim != 1}
        if shapes:
            raise ValueError(f"observations file {str(path)!r}: every array must be 1-D (one value per point), "
                             f"got shapes {shapes}")
    else:
        raise ValueError(f"observations file {str(path)!r}: expected a .csv or .npz file, got {suffix or 'no suffix'!r}")
    where = f"file {str(path)!r}"
    missing = [i for i in problem.inputs if i not in columns]
    if missing:
        raise ValueError(f"observations {where} has no column {missing[0]!r} (problem {problem.name!r} needs its "
                         f"inputs {list(problem.inputs)}; the file has {list(columns)})")
    outputs = tuple(k for k in columns if k not in problem.inputs)
    if not outputs:
        raise ValueError(f"observations {where} has no output column; give at least one of {list(problem.outputs)}")
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"observations {where}: columns have different lengths {lengths}")
    try:
        points = np.stack([columns[i].astype(float) for i in problem.inputs], axis=1)
        values = np.stack([columns[o].astype(float) for o in outputs], axis=1)
    except ValueError as err:
        raise ValueError(f"observations {where}: a column is not numeric ({err})") from None
    obs = Observations(points, values, outputs, source=where)
    obs.check(problem)
    return obs


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    """Columns of a CSV file with a header, by name; empty cells read as NaN (reported by the check)."""
    import csv

    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"observations file {str(path)!r} is empty")
    header = [name.strip() for name in rows[0]]
    if len(set(header)) != len(header):
        raise ValueError(f"observations file {str(path)!r}: the header {header} names a column twice")
    columns: dict[str, list[float]] = {name: [] for name in header}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"observations file {str(path)!r}: line {number} has {len(row)} values, "
                             f"the header has {len(header)}")
        for name, cell in zip(header, row):
            cell = cell.strip()
            try:
                columns[name].append(float(cell) if cell else math.nan)
            except ValueError:
                raise ValueError(f"observations file {str(path)!r}: line {number}, column {name!r} is not a "
                                 f"number: {cell!r}") from None
    return {name: np.asarray(v, dtype=float) for name, v in columns.items()}


def write_observations(path: str | Path, problem: "Problem", observations: Observations) -> Path:
    """Write ``observations`` as CSV or NPZ (by ``path``'s suffix), columns named as
    :func:`read_observations` reads them."""
    path = Path(path)
    names = list(problem.inputs) + list(observations.outputs)
    table = np.concatenate([observations.points, observations.values], axis=1)
    if path.suffix.lower() == ".npz":
        np.savez(path, **{n: table[:, k] for k, n in enumerate(names)})
    elif path.suffix.lower() == ".csv":
        np.savetxt(path, table, delimiter=",", header=",".join(names), comments="", fmt="%.17g")
    else:
        raise ValueError(f"observations file {str(path)!r}: expected a .csv or .npz suffix")
    return path


# -- sampling from the reference -------------------------------------------------------------------
def sample_observations(problem: "Problem", *, sensors: int | None = None, samples: int | None = None,
                        noise: float = 0.0, outputs: Sequence[str] | None = None, seed: int = 0) -> Observations:
    """Synthetic observations of ``problem`` taken from its own reference, in one of two layouts:

    - ``sensors=N`` (a 1-D space-time problem with a reference on a (t, x) grid): N sensors evenly
      spaced over the domain [lo, hi], at x_k = lo + k (hi − lo) / N, k = 0..N−1, when x is periodic
      (a ring: the first sensor at its origin), else at the centres x_k = lo + (k + 1/2) (hi − lo) / N
      of N equal cells (no sensor on a boundary); each is placed on the grid column nearest to it and
      records every time step of the reference grid;
    - ``samples=N``: N distinct points drawn at random from the reference's points (as Raissi et
      al. 2019 draw N_u = 2000 points from their Burgers solution).

    ``noise`` σ adds Gaussian noise of standard deviation σ · std(values) to each observed output
    (relative to the spread of that output's observed values: σ = 0.01 is the "1% noise" of Raissi
    et al.). ``outputs`` selects the observed outputs (default: all the reference holds); ``seed``
    makes the draw and the noise reproducible.
    """
    if (sensors is None) == (samples is None):
        raise ValueError("give either sensors (evenly spaced sensors at every time step) or samples "
                         f"(random reference points), got sensors={sensors!r}, samples={samples!r}")
    count = sensors if sensors is not None else samples
    if isinstance(count, bool) or int(count) != count or count <= 0:
        raise ValueError(f"{'sensors' if sensors is not None else 'samples'} must be a positive integer, got {count!r}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0 (relative standard deviation), got {noise!r}")
    ref = problem.reference()
    if ref is None or ref.values.shape[1] == 0:
        raise ValueError(f"problem {problem.name!r} has no reference solution to sample observations from; "
                         "give an observations file instead")
    ref_outputs = problem.outputs if ref.outputs is None else ref.outputs
    outputs = tuple(ref_outputs if outputs is None else outputs)
    missing = [o for o in outputs if o not in ref_outputs]
    if missing:
        raise ValueError(f"cannot observe {missing}: the reference of problem {problem.name!r} holds {list(ref_outputs)}")
    cols = [ref_outputs.index(o) for o in outputs]
    rng = np.random.default_rng(seed)
    if sensors is not None:
        rows, where = _sensor_rows(problem, ref, int(sensors))
    else:
        if samples > len(ref.points):
            raise ValueError(f"samples={samples} exceeds the {len(ref.points)} points of the reference")
        rows = np.sort(rng.choice(len(ref.points), size=int(samples), replace=False))
        where = f"{samples} random points of the reference"
    points, values = ref.points[rows], ref.values[rows][:, cols].astype(float)
    std = {}
    if noise > 0:
        scale = noise * values.std(axis=0)
        values = values + rng.standard_normal(values.shape) * scale
        std = {o: float(s) for o, s in zip(outputs, scale)}
    source = f"{where} ({ref.source})" + (f", Gaussian noise {noise:g} x std" if noise else "") + f", seed {seed}"
    return Observations(points, values, outputs, source=source, truth=dict(problem.params), noise=std)


def _sensor_rows(problem: "Problem", ref, n: int) -> tuple[np.ndarray, str]:
    """Rows of the reference recorded by ``n`` evenly spaced sensors, and a description of them."""
    space = problem.spatial
    if problem.time is None or len(space) != 1 or ref.grid is None or set(ref.grid) != {problem.time, space[0]}:
        raise ValueError(f"sensors need a 1-D space-time problem with a reference on a (time, space) grid; "
                         f"problem {problem.name!r} has inputs {list(problem.inputs)}"
                         + ("" if ref.grid is not None else " and a reference without a grid")
                         + "; use samples (random reference points) or an observations file")
    x = ref.grid[space[0]]
    if n > len(x):
        raise ValueError(f"sensors={n} exceeds the {len(x)} positions of the reference grid")
    lo, hi = (b[problem.inputs.index(space[0])] for b in bounds(problem.geometry()))
    wanted = lo + (np.arange(n) + (0.0 if space[0] in problem.periodic else 0.5)) * (hi - lo) / n
    columns = np.abs(x[None, :] - wanted[:, None]).argmin(axis=1)
    if len(set(columns.tolist())) != n:
        raise ValueError(f"sensors={n}: two sensors fall on the same of the reference's {len(x)} grid positions")
    positions = x[columns]
    # Which rows hold the sensors' positions: the points' spatial column equals one of them.
    rows = np.flatnonzero(np.isin(ref.points[:, problem.inputs.index(space[0])], positions))
    shown = ", ".join(f"{p:.4g}" for p in positions)
    return rows, f"{n} sensors at {space[0]} = {shown}, every time step of the reference"


# -- unknown parameters ----------------------------------------------------------------------------
class Unknowns(nn.Module):
    """The unknown parameters of a problem as trainable tensors, from their initial guesses.

    ``guesses`` {name: initial value}; ``lower`` {name: lower bound} for those learned as
    ``lower + exp(θ)`` (θ the trained tensor). :meth:`values` gives the current values as tensors
    (graph-connected to θ), :meth:`floats` as numbers.
    """

    def __init__(self, guesses: dict[str, float], lower: dict[str, float]):
        super().__init__()
        self.lower = dict(lower)
        raw = {}
        for name, guess in guesses.items():
            if name in self.lower:
                raw[name] = math.log(guess - self.lower[name])
            else:
                raw[name] = float(guess)
        self.raw = nn.ParameterDict({n: nn.Parameter(torch.tensor(v, dtype=torch.float64)) for n, v in raw.items()})

    def values(self) -> dict[str, Tensor]:
        """The current values (0-dim tensors) by name."""
        return {n: self.lower[n] + torch.exp(t) if n in self.lower else t for n, t in self.raw.items()}

    def floats(self) -> dict[str, float]:
        """The current values as Python floats."""
        with torch.no_grad():
            return {n: float(v) for n, v in self.values().items()}


def unknowns_for(problem: "Problem") -> Unknowns | None:
    """The :class:`Unknowns` module of ``problem``'s declared unknowns (None when it has none)."""
    if not problem.unknowns:
        return None
    lower = {n: problem.parameters[n].minimum for n in problem.unknowns if problem.parameters[n].minimum is not None}
    return Unknowns(problem.unknowns, lower)


@contextlib.contextmanager
def bound(problem: "Problem", unknowns: Unknowns | None) -> Iterator[None]:
    """While active, each unknown parameter's attribute of ``problem`` (``problem.nu``) is its
    learnable value (a tensor on the graph of ``unknowns``), so residuals and conditions written
    with ``self.nu`` train it; the plain values come back afterwards."""
    if unknowns is None:
        yield
        return
    saved = {n: getattr(problem, n) for n in unknowns.raw}
    try:
        for name, value in unknowns.values().items():
            setattr(problem, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(problem, name, value)


# -- which of the problem's conditions apply -------------------------------------------------------
def applied(problem: "Problem", conditions: list, constraint) -> tuple[list, Any]:
    """The soft conditions and hard constraint that apply under ``problem.applies`` (see
    :data:`CONDITIONS`), from the problem's ``conditions`` and ``constraint``.

    A soft condition applies when its ``kind`` is kept ("data" always is). A hard constraint
    enforces the kinds in its ``enforces`` (only "boundary" for a problem without time): it is kept
    when all of them are kept and dropped when none is; when it ties a kept kind to a dropped one
    the problem must penalise them instead (a ``ValueError`` says so).
    """
    mode = problem.applies
    kept = {"all": {"initial", "boundary"}, "boundary": {"boundary"}, "none": set()}[mode] | {"data"}
    soft = [c for c in conditions if c.kind in kept]
    if constraint is None:
        return soft, None
    enforced = set(constraint.enforces) & ({"initial", "boundary"} if problem.time else {"boundary"})
    if enforced <= kept:
        return soft, constraint
    if not enforced & kept:
        return soft, None
    hint = " (enforce='soft')" if "soft" in (getattr(problem.parameters.get("enforce"), "choices", None) or ()) else ""
    raise ValueError(f"problem {problem.name!r} builds its {' and '.join(sorted(enforced))} conditions into the "
                     f"network together (a hard constraint), so conditions={mode!r} cannot keep "
                     f"{' and '.join(sorted(enforced & kept))} alone: penalise them instead{hint}, or choose "
                     f"conditions 'all' or 'none'")
