"""A neural feedback controller trained by differentiating through the integrator — the optimal
control use of hypersolvers of Berto et al. (2022, "Neural Solvers for Fast and Accurate Numerical
Optimal Control", ICLR).

The policy τ = τ_max tanh(π_θ(features(x))) closes the loop of a controlled ODE problem (such as
``pendulum-control``); the loss is the time-averaged running cost (1/T) ∫_0^T q(x, τ) dt over a
batch of initial states, computed by integrating the state and the cost together and
backpropagating through the solver. The integrator is dopri5 (continuous feedback), explicit Euler
or HyperEuler (zero-order hold: the torque is held over each step, as the hypersolver was trained).
Whatever trained it, a controller is evaluated with dopri5 at tight tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sciml.dynamics import ScaledMLP
from sciml.integrate import odeint
from sciml.odeproblem import ODEProblem, integrate_points
from sciml.odesolver import ODESolver
from sciml.solver import Result
from sciml.training import seed_everything

from .hypersolver import Correction, HyperNet, HyperSolver

METHODS = ("dopri5", "euler", "hypereuler")
EVAL = {"rtol": 1e-8, "atol": 1e-10}
"""dopri5 tolerances every controller is evaluated with."""


class ControllerModel(nn.Module):
    """Policy network (and, for HyperEuler, the hypersolver's g) with the closed-loop dynamics.

    The augmented state z = (x, c) (N, d + 1) carries the accumulated running cost c.
    """

    def __init__(self, problem: ODEProblem, width: int, depth: int, activation: str, hyper: HyperNet | None):
        super().__init__()
        self.problem = problem
        n_in = problem.features(torch.zeros(1, problem.dim, dtype=torch.float64)).shape[-1]
        self.policy = ScaledMLP(n_in, len(problem.controls), width, depth, activation)
        self.hyper = hyper
        self._last: tuple[Tensor, Tensor, Tensor] | None = None

    def control(self, x: Tensor) -> Tensor:
        """Torques (N, m), bounded by the problem's ``max_torque``."""
        return self.problem.max_torque * torch.tanh(self.policy(self.problem.features(x)))

    def _state_control(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """State and torque of an augmented state; reused when asked again for the same tensor
        (HyperEuler's correction is evaluated at the state Euler's step just used)."""
        if self._last is None or self._last[0] is not z:
            x = z[..., :-1]
            self._last = (z, x, self.control(x))
        return self._last[1], self._last[2]

    def field(self, t: Tensor, z: Tensor) -> Tensor:
        x, u = self._state_control(z)
        return torch.cat([self.problem.rhs(t, x, u), self.problem.running_cost(x, u)[..., None]], dim=-1)

    def solve(self, x0: Tensor, t: Tensor, method: str = "dopri5", step_size: float | None = None,
              stats: dict | None = None, **tolerances: float) -> Tensor:
        """Closed-loop trajectories of the augmented state (T, N, d + 1) from ``x0`` (N, d), cost 0 at t[0]."""
        z0 = torch.cat([x0, torch.zeros_like(x0[..., :1])], dim=-1)
        if method == "dopri5":
            return odeint(self.field, z0, t, "dopri5", stats=stats, **{**EVAL, **tolerances})
        correction = Correction(self.hyper, self._state_control, extra=1) if method == "hypereuler" else None
        return odeint(self.field, z0, t, "euler", step_size=step_size, correction=correction, stats=stats)

    def cost(self, x0: Tensor, horizon: float, **how: Any) -> Tensor:
        """Time-averaged running cost (1/T) ∫ q dt of each initial state (N,)."""
        t = torch.tensor([0.0, horizon], dtype=torch.float64)
        return self.solve(x0, t, **how)[-1, :, -1] / horizon

    def forward(self, points: Tensor) -> Tensor:
        x = integrate_points(lambda x0, t: self.solve(x0, t)[..., :-1], points)
        return self.problem.observe(x)


class Controller(ODESolver):
    """Neural feedback controller trained through dopri5, Euler or HyperEuler (Berto et al. 2022).

    Settings: ``method`` ("dopri5", "euler", "hypereuler"); ``step_size`` of Euler/HyperEuler [s];
    ``rtol``/``atol`` of dopri5 during training; policy ``width``/``depth``/``activation``;
    ``n_initial`` training initial states, ``batch`` of them per step; ``iterations``, ``lr``,
    ``schedule``; for HyperEuler the hypersolver's ``hyper_iterations``, ``hyper_samples``,
    ``hyper_width``, ``hyper_depth``, ``hyper_activation``, ``hyper_precision`` (a small float32 g
    by default: it is evaluated at every step of every training step) and step-size range
    ``dt_min``/``dt_max`` [s] (it is trained first, its time reported apart as
    ``hypersolver_train_s``); ``seed`` (initial policy and batches are the same for every method),
    ``device`` (CPU, float64), ``checkpoint_every``, ``checkpoint_minutes``, ``progress``.
    """

    name = "controller"
    defaults: dict[str, Any] = {
        "method": "hypereuler", "step_size": 0.05, "rtol": 1e-5, "atol": 1e-6,
        "width": 32, "depth": 2, "activation": "tanh", "n_initial": 1024, "batch": 64,
        "iterations": 400, "lr": 1e-2, "schedule": "cosine",
        "hyper_iterations": 2000, "hyper_samples": 8192, "hyper_width": 16, "hyper_depth": 1,
        "hyper_activation": "silu", "hyper_precision": "float32",
        "dt_min": 0.01, "dt_max": 0.1,
        "seed": 0, "device": None, "checkpoint_every": 100, "checkpoint_minutes": 5.0, "progress": True,
    }

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        reason = super().unsuitable(problem_cls)
        if reason is None and (not problem_cls.controls or not hasattr(problem_cls, "running_cost")):
            return "it has no control inputs and running cost to optimise"
        return reason

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        if s["method"] not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {s['method']!r}")
        if not s["step_size"] > 0:
            raise ValueError(f"step_size must be > 0, got {s['step_size']!r}")

    def hypersolver(self) -> HyperSolver:
        s = self.settings
        return HyperSolver(self.problem, base="euler", width=s["hyper_width"], depth=s["hyper_depth"],
                           activation=s["hyper_activation"], precision=s["hyper_precision"], n_samples=s["hyper_samples"], dt_min=s["dt_min"], dt_max=s["dt_max"],
                           step_size=s["step_size"], iterations=s["hyper_iterations"], seed=s["seed"],
                           checkpoint_minutes=s["checkpoint_minutes"], progress=s["progress"])

    def build_model(self) -> ControllerModel:
        """The policy (its initial weights depend on the seed only, not on the method) and, for
        HyperEuler, an untrained g."""
        s = self.settings
        model = ControllerModel(self.problem, s["width"], s["depth"], s["activation"], None)
        if s["method"] == "hypereuler":
            model.hyper = self.hypersolver().build_model().hyper
        return model

    def how(self) -> dict[str, Any]:
        """How training integrates: method and step size or tolerances."""
        s = self.settings
        if s["method"] == "dopri5":
            return {"method": "dopri5", "rtol": s["rtol"], "atol": s["atol"]}
        return {"method": s["method"], "step_size": s["step_size"]}

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> Result:
        """Train the policy (after the hypersolver, for HyperEuler) on the time-averaged cost."""
        s, p = self.settings, self.problem
        seed_everything(s["seed"])
        self.model = self.build_model()
        hyper_s = 0.0
        if self.model.hyper is not None and not resume:
            fitted = self.hypersolver().train(out=None if out is None else Path(out) / "hypersolver")
            self.model.hyper.load_state_dict(fitted.model.hyper.state_dict())
            hyper_s = fitted.timings["train_s"]
        if self.model.hyper is not None:
            self.model.hyper.requires_grad_(False)
        pool = p.sample_states(s["n_initial"], torch.Generator().manual_seed(s["seed"]))
        self.model.policy.fit(p.features(pool))
        how = self.how()
        draws = torch.Generator().manual_seed(s["seed"])

        def loss():
            batch = pool[torch.randint(len(pool), (s["batch"],), generator=draws)]
            return {"cost": self.model.cost(batch, p.horizon, **how).mean()}

        return self.fit(self.model, loss, out, resume, callbacks, f"{p.name}/{self.name}[{s['method']}]",
                        get_extra=lambda: {"draws": draws.get_state()},  # which batches come next
                        set_extra=lambda extra: draws.set_state(extra["draws"]), hypersolver_train_s=hyper_s)

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """Control cost on the held-out initial states by dopri5 (tight) and by the training
        integrator, and the fraction of them brought upright and still."""
        p, model = self.problem, result.model
        x0 = p.held_out()
        with torch.no_grad():
            z = model.solve(x0, torch.tensor([0.0, p.horizon], dtype=torch.float64))[-1]
            trained = model.cost(x0, p.horizon, **self.how())
        upright = ((1 + torch.cos(z[:, 0])) < 0.05) & (z[:, 1].abs() < 0.2)
        return {"control_cost_dopri5": float(z[:, -1].mean() / p.horizon),
                "control_cost_training_integrator": float(trained.mean()),
                "upright_fraction": float(upright.double().mean()),
                "hypersolver_train_s": result.timings.get("hypersolver_train_s", 0.0)}
