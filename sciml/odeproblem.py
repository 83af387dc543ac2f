"""Ordinary differential equations as problems: dx/dt = f(t, x[, u]) with a state, optional control
inputs, a distribution of initial conditions and a tight-tolerance reference.

An ODE problem's inputs are the time and the initial state, ``("t", "x0", "y0", ...)``, and its
outputs the state at that time (or an observation of it, :meth:`ODEProblem.observe`): a point
(t, x(0)) maps to x(t). So a result's ``predict(points)`` integrates from each initial condition to
each time, and the reference is a set of held-out trajectories computed by dopri5 at tight
tolerance in float64 — the same Problem/Reference/Result machinery as the PDE problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from torch import Tensor

from .integrate import odeint
from .problem import Problem, Reference

TIGHT = {"rtol": 1e-10, "atol": 1e-12}
"""dopri5 tolerances of every reference trajectory (float64)."""
REFERENCE_SEED = 20_240_501
"""Seed of the held-out initial conditions; training data uses the solver's seed, never this one."""


class ODEProblem(Problem):
    """Base of ODE problems. Subclasses set ``state`` (names), optionally ``controls``, and implement
    :meth:`rhs` and :meth:`sample_states`; ``inputs``/``outputs`` follow from ``state``.

    Class attributes: ``horizon`` (reference trajectory length, time units), ``n_times`` (output
    times per reference trajectory, evenly spaced from 0), ``n_reference`` (held-out initial
    conditions), ``autonomous`` (f does not depend on t).
    """

    state: ClassVar[tuple[str, ...]] = ()
    controls: ClassVar[tuple[str, ...]] = ()
    time = "t"
    horizon: ClassVar[float] = 1.0
    n_times: ClassVar[int] = 101
    n_reference: ClassVar[int] = 64
    autonomous: ClassVar[bool] = True
    default_solver = "neural-ode"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.state:
            cls.inputs = ("t",) + tuple(f"{s}0" for s in cls.state)
            if "outputs" not in cls.__dict__:
                cls.outputs = cls.state

    # -- to implement --------------------------------------------------------------------------
    def rhs(self, t: Tensor, x: Tensor, u: Tensor | None = None, params: dict[str, Any] | None = None) -> Tensor:
        """dx/dt at states ``x`` (N, n) and time ``t``; ``u`` (N, m) the controls of a controlled
        problem; ``params`` overrides parameter values by name (tensors allowed: trainable)."""
        raise NotImplementedError

    def sample_states(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` states (n, d) float64 from the region the problem's trajectories live in."""
        raise NotImplementedError

    def observe(self, x: Tensor) -> Tensor:
        """The outputs (N, n_out) seen at states ``x`` (N, d); the state itself by default."""
        return x

    def features(self, x: Tensor) -> Tensor:
        """What a network sees of states ``x`` (..., d): the state itself unless a problem knows
        better (an angle as its cosine and sine)."""
        return x

    # -- provided ------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.state)

    def field(self, params: dict[str, Any] | None = None) -> Callable[[Tensor, Tensor], Tensor]:
        """The uncontrolled vector field f(t, x) for :func:`sciml.integrate.odeint`."""
        return lambda t, x: self.rhs(t, x, None, params)

    def trajectories(self, x0: Tensor, t: Tensor) -> Tensor:
        """Tight-tolerance dopri5 trajectories (T, N, d) in float64 from ``x0`` (N, d) at times ``t``."""
        x0 = torch.as_tensor(x0, dtype=torch.float64)
        return odeint(self.field(), x0, torch.as_tensor(t, dtype=torch.float64), "dopri5", **TIGHT)

    def flow(self, x: Tensor, dt: Tensor, u: Tensor | None = None) -> Tensor:
        """The exact flow map: the state a time ``dt`` (N,) after ``x`` (N, d), each row with its own
        step and control ``u`` (N, m) held constant — by dopri5 at tight tolerance on the rescaled
        time s = (t - t0) / dt in [0, 1] (autonomous problems)."""
        if not self.autonomous:
            raise ValueError(f"problem {self.name!r} is not autonomous: flow() rescales time per row")
        scale = dt[:, None]
        s = torch.tensor([0.0, 1.0], dtype=x.dtype)
        return odeint(lambda t, y: scale * self.rhs(t, y, u), x, s, "dopri5", **TIGHT)[-1]

    def held_out(self, n: int | None = None) -> Tensor:
        """The held-out initial conditions (n, d) of the reference (and benchmarks), float64."""
        g = torch.Generator().manual_seed(REFERENCE_SEED)
        return self.sample_states(n or self.n_reference, g)

    def reference_times(self) -> np.ndarray:
        return np.linspace(0.0, self.horizon, self.n_times)

    def reference(self) -> Reference:
        x0 = self.held_out()
        t = self.reference_times()
        ys = self.trajectories(x0, torch.as_tensor(t))                     # (T, N, d)
        values = self.observe(ys.reshape(-1, self.dim)).reshape(len(t), len(x0), -1)
        points = trajectory_points(x0.numpy(), t)
        return Reference(points, values.transpose(0, 1).reshape(len(points), -1).numpy(),
                         f"dopri5 (torchdiffeq) at rtol={TIGHT['rtol']:g}, atol={TIGHT['atol']:g} in float64 from "
                         f"{len(x0)} held-out initial conditions (seed {REFERENCE_SEED}), t in [0, {self.horizon:g}]")

    def plot(self, reference: Reference, prediction: np.ndarray, path: str | Path, title: str = "") -> Path:
        return plot_trajectories(self, reference, prediction, path, title)


def plot_trajectories(problem: ODEProblem, reference: Reference, prediction: np.ndarray, path: str | Path,
                      title: str = "", n_show: int = 3) -> Path:
    """One panel per output: reference (solid) and prediction (dashed) against time for the first
    ``n_show`` held-out initial conditions, and a last panel with the error norm over time (median
    and worst over all initial conditions)."""
    from .plotting import _label, save_figure, subplots

    t = np.unique(reference.points[:, 0])        # points are trajectory-major (trajectory_points)
    n_t = len(t)
    n_traj = len(reference.points) // n_t
    ref = reference.values.reshape(n_traj, n_t, -1)
    pred = prediction.reshape(n_traj, n_t, -1)
    outs = problem.outputs
    fig, axes = subplots(1, len(outs) + 1, figsize=(4.2 * (len(outs) + 1), 3.6), squeeze=False)
    for k, name in enumerate(outs):
        ax = axes[0, k]
        for j in range(min(n_show, n_traj)):
            ax.plot(t, ref[j, :, k], color=f"C{j}", lw=2, alpha=0.5, label=f"reference, IC {j}")
            ax.plot(t, pred[j, :, k], color=f"C{j}", ls="--", lw=1.2, label=f"prediction, IC {j}")
        ax.set_xlabel(_label(problem, "t"))
        ax.set_ylabel(_label(problem, name))
        ax.set_title(name)
    axes[0, 0].legend(fontsize=7)
    err = np.linalg.norm(pred - ref, axis=2)
    ax = axes[0, -1]
    shown = slice(1, None) if t[0] == 0 else slice(None)   # the error at t = 0 is exactly 0
    ax.semilogy(t[shown], np.median(err, axis=0)[shown], color="k", label=f"median over {n_traj} ICs")
    ax.semilogy(t[shown], err.max(axis=0)[shown], color="C3", label="worst IC")
    ax.set_xlabel(_label(problem, "t"))
    ax.set_ylabel("‖prediction − reference‖₂ [state units]")
    ax.set_title("error over time")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.25)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def trajectory_points(x0: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points (N·T, 1 + d) of N trajectories from ``x0`` (N, d) at times ``t`` (T,), trajectory-major."""
    n, d = x0.shape
    return np.concatenate([np.tile(t, n)[:, None], np.repeat(x0, len(t), axis=0)], axis=1)


def integrate_points(solve: Callable[[Tensor, Tensor], Tensor], points: Tensor) -> Tensor:
    """Evaluate a trajectory solver at points (M, 1 + d) of (time, initial state).

    ``solve(x0, t)`` integrates initial states (N, d) to increasing times (T,) starting at 0 and
    returns (T, N, d). Rows sharing an initial state are integrated together, once, to the union of
    their times; the result is gathered back to (M, d).
    """
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"points must be (M, 1 + d) rows of (t, initial state), got shape {tuple(points.shape)}")
    t = points[:, 0]
    if bool((t < 0).any()):
        raise ValueError(f"times must be >= 0 (trajectories start at t = 0), got min {float(t.min()):g}")
    x0, which = torch.unique(points[:, 1:], dim=0, return_inverse=True)
    times, when = torch.unique(torch.cat([t.new_zeros(1), t]), return_inverse=True)
    when = when[1:]
    if len(times) == 1:
        return x0[which]
    ys = solve(x0, times)                                                 # (T, N, d)
    return ys[when, which]
