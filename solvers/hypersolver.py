"""Hypersolvers (Poli et al. 2020, "Hypersolvers: toward fast continuous-depth models", NeurIPS):
a cheap fixed-step method plus a learned correction of its local error,

    x_{k+1} = x_k + dt ψ_p(t_k, x_k, dt) + dt^(p+1) g_ω(x_k, [u_k,] dt),

ψ_p the increment of the base method of order p (Euler p = 1: HyperEuler; midpoint p = 2:
HyperMidpoint; RK4 p = 4: HyperRK4). g_ω is fitted to the base method's residual against the exact
flow map, (x(t + dt) − x − dt ψ_p) / dt^(p+1), over sampled states, step sizes and — for controlled
problems, as Berto et al. (2022, "Neural Solvers for Fast and Accurate Numerical Optimal Control",
ICLR) do — control inputs held constant over the step. The exact flow comes from dopri5 at
rtol = 1e-10 in float64 (:meth:`sciml.odeproblem.ODEProblem.flow`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from sciml.dynamics import ScaledMLP
from sciml.integrate import ORDER, odeint, step
from sciml.odeproblem import ODEProblem, integrate_points
from sciml.problem import relative_l2
from sciml.odesolver import ODESolver
from sciml.solver import Result
from sciml.training import seed_everything


PRECISIONS = {"float64": torch.float64, "float32": torch.float32}
"""Floating-point types g_ω can be trained and evaluated in."""


class HyperNet(nn.Module):
    """g_ω(x, u, dt) of a problem: the network sees ``problem.features(x)``, the controls and dt.

    It computes in ``precision`` ("float32" or "float64") whatever the state's type, and returns the
    state's type: a float32 g is cheaper per step and still far more accurate than the error it
    corrects."""

    def __init__(self, problem: ODEProblem, base: str, width: int, depth: int, activation: str,
                 precision: str = "float64"):
        super().__init__()
        self.problem, self.base, self.power = problem, base, ORDER[base] + 1
        self.dtype = PRECISIONS[precision]
        n_in = problem.features(torch.zeros(1, problem.dim, dtype=torch.float64)).shape[-1] + len(problem.controls) + 1
        self.net = ScaledMLP(n_in, problem.dim, width, depth, activation, dtype=self.dtype)

    def inputs(self, x: Tensor, u: Tensor | None, dt: Tensor) -> Tensor:
        parts = [self.problem.features(x)] + ([u] if u is not None else [])
        return torch.cat(parts + [dt.expand(x.shape[:-1]).unsqueeze(-1)], dim=-1)

    def forward(self, x: Tensor, u: Tensor | None, dt: Tensor) -> Tensor:
        return self.net(self.inputs(x, u, dt).to(self.dtype)).to(x.dtype)

    def residual(self, x: Tensor, u: Tensor | None, dt: Tensor) -> Tensor:
        """The base method's scaled local error (x(t + dt) − x − dt ψ) / dt^(p+1) at rows of (x, u, dt)."""
        exact = self.problem.flow(x, dt, u)
        dts = dt[:, None]
        base = step(lambda t, y: self.problem.rhs(t, y, u), self.base, torch.zeros((), dtype=x.dtype), x, dts)
        return (exact - x - base) / dts ** self.power

    def prepare(self, dt: Tensor, weight: float) -> Callable[[Tensor, Tensor | None], Tensor]:
        """(x, u) -> weight · g(x, u, dt) at one step size ``dt`` (0-d), with dt, the input scaling
        and ``weight`` folded into the network (:meth:`sciml.dynamics.ScaledMLP.folded`)."""
        run = self.net.folded(dt.reshape(1), weight)

        def g(x: Tensor, u: Tensor | None) -> Tensor:
            z = self.problem.features(x)
            z = z if u is None else torch.cat([z, u], dim=-1)
            return run(z.to(self.dtype)).to(x.dtype)

        return g


class Correction:
    """A :class:`HyperNet` as the ``correction`` g(t, z, dt) of :func:`sciml.integrate.odeint`:
    ``split(z)`` gives the state x and the controls u (None: uncontrolled) of the integrated state
    z, whose ``extra`` trailing entries (e.g. an accumulated cost) get no correction."""

    def __init__(self, hyper: HyperNet, split: Callable[[Tensor], tuple[Tensor, Tensor | None]] = lambda z: (z, None),
                 extra: int = 0):
        self.hyper, self.split, self.extra = hyper, split, extra

    def _pad(self, g: Tensor) -> Tensor:
        return nn.functional.pad(g, (0, self.extra)) if self.extra else g

    def __call__(self, t: Tensor, z: Tensor, dt: Tensor) -> Tensor:
        return self._pad(self.hyper(*self.split(z), dt))

    def prepare(self, dt: Tensor, weight: float) -> Callable[[Tensor, Tensor], Tensor]:
        g = self.hyper.prepare(dt, weight)
        return lambda t, z: self._pad(g(*self.split(z)))


class HyperModel(nn.Module):
    """The trained hypersolver as a model: points (M, 1 + d) of (t, x0) -> states or outputs (M, n_out)."""

    def __init__(self, hyper: HyperNet, step_size: float):
        super().__init__()
        self.hyper, self.step_size = hyper, step_size

    def solve(self, x0: Tensor, t: Tensor, step_size: float | None = None, stats: dict | None = None,
              corrected: bool = True) -> Tensor:
        """Trajectories (T, N, d) from ``x0`` (N, d) at times ``t`` by the hypersolver (or, with
        ``corrected=False``, by its plain base method) at ``step_size`` (default: the trained one)."""
        p = self.hyper.problem
        return odeint(p.field(), x0, t, self.hyper.base, step_size=step_size or self.step_size,
                      correction=Correction(self.hyper) if corrected else None, stats=stats)

    def forward(self, points: Tensor) -> Tensor:
        x = integrate_points(self.solve, points)
        return self.hyper.problem.observe(x)


class HyperSolver(ODESolver):
    """Hypersolver: a fixed-step base method with a learned local-error correction (Poli et al. 2020).

    Settings: ``base`` ("euler": HyperEuler, "midpoint": HyperMidpoint, "rk4": HyperRK4);
    ``width``/``depth``/``activation``/``precision`` ("float32" or "float64") of g_ω; ``n_samples`` training triples (state, step size
    [, control]); ``dt_min``/``dt_max`` the range of sampled step sizes [time units];
    ``step_size`` used by ``predict`` [time units]; ``iterations`` full-batch Adam steps, ``lr``,
    ``schedule``; ``seed``, ``device`` (CPU, float64), ``checkpoint_every``, ``checkpoint_minutes``,
    ``progress``.
    """

    name = "hypersolver"
    defaults: dict[str, Any] = {
        "base": "euler", "width": 32, "depth": 2, "activation": "tanh", "precision": "float64", "n_samples": 8192,
        "dt_min": 0.002, "dt_max": 0.03, "step_size": 0.01, "iterations": 3000, "lr": 3e-3,
        "schedule": "cosine", "seed": 0, "device": None, "checkpoint_every": 1000, "checkpoint_minutes": 5.0,
        "progress": True,
    }

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        if s["base"] not in ORDER:
            raise ValueError(f"base must be one of {list(ORDER)}, got {s['base']!r}")
        if s["precision"] not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {s['precision']!r}")
        if not 0 < s["dt_min"] < s["dt_max"]:
            raise ValueError(f"need 0 < dt_min < dt_max, got dt_min={s['dt_min']!r}, dt_max={s['dt_max']!r}")
        if not s["step_size"] > 0:
            raise ValueError(f"step_size must be > 0, got {s['step_size']!r}")

    def build_model(self) -> HyperModel:
        s = self.settings
        return HyperModel(HyperNet(self.problem, s["base"], s["width"], s["depth"], s["activation"], s["precision"]),
                          s["step_size"])

    def samples(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor | None, Tensor]:
        """``n`` training rows: states (n, d), controls (n, m) or None, step sizes (n,)."""
        s, p = self.settings, self.problem
        x = p.sample_states(n, generator)
        u = p.sample_controls(n, generator) if p.controls else None
        dt = s["dt_min"] + (s["dt_max"] - s["dt_min"]) * torch.rand(n, generator=generator, dtype=torch.float64)
        return x, u, dt

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> Result:
        """Fit g_ω by full-batch Adam on the residuals of ``n_samples`` sampled (state, dt[, u])."""
        s = self.settings
        seed_everything(s["seed"])
        self.model = self.build_model()
        hyper = self.model.hyper
        x, u, dt = self.samples(s["n_samples"], torch.Generator().manual_seed(s["seed"]))
        target = hyper.residual(x, u, dt)
        hyper.net.fit(hyper.inputs(x, u, dt), target)
        scale = hyper.net.scale.to(target.dtype)

        def loss():
            return {"residual": (((hyper(x, u, dt) - target) / scale) ** 2).mean()}

        return self.fit(self.model, loss, out, resume, callbacks, f"{self.problem.name}/hyper{s['base']}")

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """The plain base method's error at the same step size on the same reference, and the ratio."""
        p = self.problem
        ref = p.reference()
        points = torch.as_tensor(ref.points, dtype=torch.float64)
        with torch.no_grad():
            plain = p.observe(integrate_points(lambda x0, t: result.model.solve(x0, t, corrected=False), points))
        base_err = relative_l2(plain.numpy(), ref.values)
        hyper_err = relative_l2(result.predict(ref.points), ref.values)
        return {f"{self.settings['base']}_rel_l2": base_err, "error_reduction": base_err / hyper_err,
                "step_size": self.settings["step_size"]}
