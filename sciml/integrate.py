"""ODE integrators behind one call: our fixed-step Euler, midpoint and RK4 (batched over initial
conditions, with an optional learned hypersolver correction) and torchdiffeq's adaptive solvers and
adjoint method (Chen et al. 2018), which we use rather than rewrite.

    ys = odeint(f, x0, t, method="rk4", step_size=0.01)            # (T, N, n)
    ys = odeint(f, x0, t, method="dopri5", rtol=1e-6, atol=1e-8)  # same signature, adaptive
    stats = {}
    ys = odeint(f, x0, t, method="euler", step_size=0.01, correction=g, stats=stats)  # HyperEuler
    stats["nfe"]                                                    # function evaluations of f

``f(t, x)`` returns dx/dt with the shape of ``x``; ``t`` is a 0-d tensor. ``x0`` is (N, n) (N initial
conditions) or any shape ``f`` accepts. ``t`` (T,) are strictly increasing output times, which need
not be evenly spaced (irregular time stamps); the result holds the state at each of them, ``ys[0] =
x0``. A fixed-step method covers each interval [t_i, t_{i+1}] with ceil((t_{i+1} - t_i) / step_size)
equal steps, so it lands on every output time exactly.

A hypersolver (Poli et al. 2020, "Hypersolvers: toward fast continuous-depth models", NeurIPS)
corrects a base method of order p with a learned term: x_{k+1} = x_k + dt ψ(t_k, x_k, dt) +
dt^(p+1) g(t_k, x_k, dt). Pass ``correction=g`` with a fixed-step ``method``. A correction object
with a ``prepare(dt, weight)`` method is asked once per step size for the function (t, x) ->
weight · g(t, x, dt) and the loop calls that instead (a hypersolver folds dt and the weight
dt^(p+1) into its network's weights: fewer operations per step).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor, nn

Field = Callable[[Tensor, Tensor], Tensor]
"""A vector field f(t, x) -> dx/dt (same shape as x); t is a 0-d tensor (time units of the problem)."""

ORDER = {"euler": 1, "midpoint": 2, "rk4": 4}
"""Fixed-step methods we implement, with their order of accuracy p (global error O(dt^p))."""
STAGES = {"euler": 1, "midpoint": 2, "rk4": 4}
"""Function evaluations per step of each fixed-step method."""
ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
"""torchdiffeq's adaptive Runge-Kutta methods, reached through the same call."""
METHODS = tuple(ORDER) + ADAPTIVE


class Counted(nn.Module):
    """Wraps a vector field, counting its evaluations (``nfe``) and, for adaptive solvers, recording
    the accepted steps (t0, x0, dt) when ``record`` is set (for the solver-heuristic regulariser)."""

    def __init__(self, func: Field, record: bool = False):
        super().__init__()
        self.func = func
        self.nfe = 0
        self.record = record
        self.accepted: list[tuple[Tensor, Tensor, Tensor]] = []
        self.rejected = 0

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        self.nfe += 1
        return self.func(t, x)

    def callback_accept_step(self, t0: Tensor, x0: Tensor, dt: Tensor) -> None:
        self.accepted.append((t0, x0 if self.record else None, dt))

    def callback_reject_step(self, t0: Tensor, x0: Tensor, dt: Tensor) -> None:
        self.rejected += 1


def step(func: Field, method: str, t: Tensor, x: Tensor, dt: Tensor | float) -> Tensor:
    """dt times the increment function of one explicit Runge-Kutta step from (t, x); ``dt`` a tensor
    (e.g. one step size per row, (N, 1)) or a float."""
    if method == "euler":
        return dt * func(t, x)
    if method == "midpoint":
        k1 = func(t, x)
        return dt * func(t + dt / 2, x + dt / 2 * k1)
    k1 = func(t, x)
    k2 = func(t + dt / 2, x + dt / 2 * k1)
    k3 = func(t + dt / 2, x + dt / 2 * k2)
    k4 = func(t + dt, x + dt * k3)
    return dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _check(x0: Tensor, t: Tensor, method: str, step_size: float | None, correction) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if t.ndim != 1 or len(t) < 2:
        raise ValueError(f"t must be a 1-D tensor of at least 2 output times, got shape {tuple(t.shape)}")
    if not bool((t[1:] > t[:-1]).all()):
        raise ValueError("t must be strictly increasing")
    if method in ORDER:
        if step_size is None or not (step_size > 0 and math.isfinite(step_size)):
            raise ValueError(f"fixed-step method {method!r} needs step_size > 0, got {step_size!r}")
    elif correction is not None:
        raise ValueError(f"a hypersolver correction needs a fixed-step base method ({list(ORDER)}), got {method!r}")
    if not torch.is_floating_point(x0):
        raise ValueError(f"x0 must be a floating-point tensor, got {x0.dtype}")


def odeint(func: Field, x0: Tensor, t: Tensor, method: str = "rk4", *, step_size: float | None = None,
           correction: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None,
           rtol: float = 1e-7, atol: float = 1e-9, adjoint: bool = False,
           stats: dict[str, Any] | None = None, record_steps: bool = False,
           options: dict[str, Any] | None = None) -> Tensor:
    """Solve dx/dt = func(t, x), x(t[0]) = x0, returning the states at ``t``: (T, *x0.shape).

    ``method``: "euler", "midpoint", "rk4" (ours, fixed ``step_size``, optional hypersolver
    ``correction`` g(t, x, dt) -> shape of x) or an adaptive torchdiffeq method ("dopri5", ...) with
    tolerances ``rtol``/``atol``. ``adjoint=True`` backpropagates by torchdiffeq's adjoint method
    (memory independent of the number of steps; ``func`` must then be an ``nn.Module``). ``stats``,
    if given, receives ``nfe`` (evaluations of ``func``), ``steps`` (accepted steps), ``rejected``,
    ``correction_evals`` and, with ``record_steps``, ``accepted``: the list of accepted adaptive steps
    (t0, x0, dt) that :func:`local_error` turns into the solver-heuristic regulariser.
    """
    t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device)
    _check(x0, t, method, step_size, correction)
    if method in ORDER:
        if adjoint:
            raise ValueError("adjoint=True needs an adaptive method (torchdiffeq's adjoint); "
                             f"fixed-step {method!r} backpropagates through its steps directly")
        ys, steps = _fixed(func, x0, t, method, float(step_size), correction)
        nfe, rejected, accepted = STAGES[method] * steps, 0, []
    else:
        import torchdiffeq

        counted = Counted(func, record=record_steps)
        solve = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint
        extra = {"adjoint_params": tuple(counted.parameters())} if adjoint else {}
        ys = solve(counted, x0, t, method=method, rtol=rtol, atol=atol, options=options, **extra)
        steps, nfe, rejected, accepted = len(counted.accepted), counted.nfe, counted.rejected, counted.accepted
    if stats is not None:
        stats.update({"nfe": nfe, "steps": steps, "rejected": rejected,
                      "correction_evals": steps if correction is not None else 0})
        if record_steps:
            stats["accepted"] = accepted
    return ys


def _fixed(func: Field, x0: Tensor, t: Tensor, method: str, step_size: float, correction) -> tuple[Tensor, int]:
    """The fixed-step loop, lean because it is the hypersolvers' whole cost beyond f and g: step
    sizes and powers are Python floats, each interval's step times are made in one call, and nothing
    waits on a tensor's value."""
    power = ORDER[method] + 1
    times = t.tolist()
    out, x, steps = [x0], x0, 0
    for t0, t1 in zip(times[:-1], times[1:]):
        n = max(1, math.ceil((t1 - t0) / step_size - 1e-9))
        h = (t1 - t0) / n
        g = None if correction is None else _weighted(correction, t.new_tensor(h), h ** power)
        for tk in (t0 + h * torch.arange(n, dtype=t.dtype, device=t.device)).unbind():
            dx = step(func, method, tk, x, h)
            if g is not None:
                dx = dx + g(tk, x)
            x = x + dx
        steps += n
        out.append(x)
    return torch.stack(out), steps


def _weighted(correction, dt: Tensor, weight: float) -> Callable[[Tensor, Tensor], Tensor]:
    """(t, x) -> weight · correction(t, x, dt), prepared by the correction itself when it can."""
    if hasattr(correction, "prepare"):
        return correction.prepare(dt, weight)
    return lambda t, x: weight * correction(t, x, dt)


def local_error(func: Field, accepted: list[tuple[Tensor, Tensor, Tensor]], rtol: float, atol: float) -> Tensor:
    """Pal et al. (2021)'s accumulated local error R_E = Σ_j E_j |h_j| of dopri5's accepted steps.

    ``accepted`` is ``stats["accepted"]`` of an ``odeint(..., method="dopri5", record_steps=True)``
    call on (N, n) states. Each accepted step (t0, x0, h) is retaken — all together, batched — with
    torchdiffeq's own Dormand–Prince step and embedded error estimate, which is differentiable in the
    parameters of ``func``; E_j is the tolerance-scaled RMS error (the quantity dopri5 compares with
    1 to accept a step), averaged over the N trajectories. Cost: 6 evaluations of ``func`` on S·N
    states for S steps. ``func`` must be autonomous: it receives t as a tensor of shape (S·N, 1, 1).
    """
    from torchdiffeq._impl.dopri5 import _DORMAND_PRINCE_SHAMPINE_TABLEAU as tableau
    from torchdiffeq._impl.misc import _PerturbFunc
    from torchdiffeq._impl.rk_common import _runge_kutta_step

    if not accepted:
        raise ValueError("no accepted steps recorded: call odeint with method='dopri5' and record_steps=True")
    x0 = torch.cat([x for _, x, _ in accepted])
    n = accepted[0][1].shape[0]
    h = torch.cat([dt.reshape(1).expand(n) for _, _, dt in accepted]).to(x0.dtype)
    t0 = torch.cat([t.reshape(1).expand(n) for t, _, _ in accepted]).to(x0.dtype)
    wrapped = _PerturbFunc(lambda t, x: func(t, x))
    f0 = func(t0[:, None, None], x0)
    x1, _, err, _ = _runge_kutta_step(wrapped, x0, f0, t0[:, None, None], h[:, None, None],
                                      (t0 + h)[:, None, None], tableau)
    scale = atol + rtol * torch.maximum(x0.abs(), x1.abs())
    e = ((err / scale) ** 2).mean(dim=-1).sqrt()          # (S·N,) per step and trajectory
    return (e * h.abs()).reshape(len(accepted), n).mean(dim=1).sum()
