"""Neural ordinary differential equations (Chen et al. 2018): a vector field learned from
trajectories observed at irregular times (survey: Kidger 2022, "On Neural Differential Equations").

    dx/dt = f_θ(x)                       (neural)
    dx/dt = f_phys(x; p) + f_θ(x)        (hybrid: known physics, trainable physical parameters p,
                                          and a neural correction)

Training integrates the model from an observed state over a window of the following irregular
observations (dopri5 by default, optionally by torchdiffeq's adjoint) and fits them in mean square.
The optional solver-heuristic regulariser of Pal et al. (2021, "Opening the Blackbox: Accelerating
Neural Differential Equations by Regularizing Internal Solver Heuristics", ICML, PMLR 139:8325-8335)
adds λ R_E, R_E = Σ_j E_j |h_j| the accumulated local error estimate of the adaptive solver's
accepted steps, so the learned field needs fewer function evaluations to integrate.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sciml.dynamics import ScaledMLP
from sciml.integrate import ADAPTIVE, METHODS, odeint, local_error
from sciml.odeproblem import ODEProblem, integrate_points
from sciml.problem import relative_l2
from sciml.odesolver import ODESolver
from sciml.solver import Result
from sciml.training import seed_everything


class NeuralField(nn.Module):
    """f(t, x) = [problem.rhs(t, x; physical parameters) if hybrid] + net(features(x)); a hybrid
    field of ``width`` 0 has no network: the physics alone, its parameters fitted (grey box)."""

    def __init__(self, problem: ODEProblem, width: int, depth: int, activation: str, hybrid: bool,
                 learn: dict[str, float]):
        super().__init__()
        self.problem, self.hybrid = problem, hybrid
        n_in = problem.features(torch.zeros(1, problem.dim, dtype=torch.float64)).shape[-1]
        self.net = ScaledMLP(n_in, problem.dim, width, depth, activation) if width else None
        self.physical = nn.ParameterDict({k: nn.Parameter(torch.tensor(float(v), dtype=torch.float64))
                                          for k, v in learn.items()})

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        if not self.hybrid:
            return self.net(self.problem.features(x))
        out = self.problem.rhs(t, x, None, dict(self.physical))
        return out if self.net is None else out + self.net(self.problem.features(x))


class LearnedPhysics:
    """The hybrid field's physical parameters seen as an inverse problem's unknowns (``floats()``, as
    :class:`sciml.inverse.Unknowns` gives an inverse PINN's), so a result reports them as ``identified``;
    not a module, so the weights are saved once, with the field."""

    def __init__(self, field: NeuralField):
        self.field = field

    def floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.field.physical.items()}


class NeuralODEModel(nn.Module):
    """The learned ODE as a model: points (M, 1 + d) of (t, x0) -> (M, n_out), integrated by the
    solver's method and tolerances."""

    def __init__(self, field: NeuralField, method: str, options: dict[str, Any]):
        super().__init__()
        self.field, self.method, self.options = field, method, options

    def solve(self, x0: Tensor, t: Tensor, stats: dict | None = None, **kwargs) -> Tensor:
        """Trajectories (T, N, d) from ``x0`` (N, d) at increasing times ``t`` (T,) [time units]."""
        return odeint(self.field, x0, t, self.method, stats=stats, **{**self.options, **kwargs})

    def forward(self, points: Tensor) -> Tensor:
        return self.field.problem.observe(integrate_points(self.solve, points))


class NeuralODE(ODESolver):
    """Neural ODE learned from irregularly sampled trajectories (Chen et al. 2018), optionally hybrid.

    Data: ``n_trajectories`` trajectories from the problem's initial-state distribution, each
    observed at ``n_observations`` random times uniform in [0, ``span``] (plus t = 0), with Gaussian
    ``noise`` (relative to each component's standard deviation). Training windows start at an
    observation and cover the next observations up to ``window`` time units on average, ``batch``
    windows per step. Model: ``width``/``depth``/``activation``; ``hybrid`` adds the problem's own
    vector field, in which the problem's identified parameters are trainable (``sciml.run(...,
    identify=["damping", "length"], initial_guess={...})`` or :meth:`sciml.Problem.identify`, as for the
    PINN's inverse problems), starting from their initial guesses. The solver makes its own
    observations of the problem's trajectories: it takes no given observations or conditions. Integration: ``method`` ("dopri5" or another
    adaptive or fixed-step method), ``rtol``/``atol`` or ``step_size``, ``adjoint``.
    ``regularise`` λ ≥ 0 weighs Pal et al.'s R_E (dopri5 only). Optimisation: ``iterations``,
    ``lr``, ``schedule``; ``seed``, ``device`` (CPU, float64), ``checkpoint_every``, ``checkpoint_minutes``,
    ``progress``.
    """

    name = "neural-ode"
    inverse = True
    """It learns the problem's identified parameters (hybrid model)."""
    defaults: dict[str, Any] = {
        "width": 64, "depth": 3, "activation": "tanh", "hybrid": False,
        "method": "dopri5", "rtol": 1e-5, "atol": 1e-6, "step_size": None, "adjoint": False, "regularise": 0.0,
        "n_trajectories": 64, "n_observations": 100, "span": 2.0, "window": 0.2, "batch": 32, "noise": 0.0,
        "iterations": 2000, "lr": 3e-3, "schedule": "cosine", "seed": 0, "device": None,
        "checkpoint_every": 500, "checkpoint_minutes": 5.0, "progress": True,
    }

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        if s["method"] not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {s['method']!r}")
        if s["regularise"] < 0 or not math.isfinite(s["regularise"]):
            raise ValueError(f"regularise must be a finite number >= 0, got {s['regularise']!r}")
        if s["regularise"] and s["method"] != "dopri5":
            raise ValueError(f"the solver-heuristic regulariser reads dopri5's error estimates; method is {s['method']!r}")
        if problem.observations is not None or problem.applies != "all":
            raise ValueError("the neural-ode solver learns from trajectories of the problem it simulates itself: it "
                             "takes no observations or conditions (those are for the pinn solver)")
        if problem.unknowns and not s["hybrid"]:
            raise ValueError(f"identified parameters {sorted(problem.unknowns)} are learned in the physics of the "
                             "hybrid model only: set hybrid=True")
        if not 0 < s["window"] <= s["span"]:
            raise ValueError(f"need 0 < window <= span, got window={s['window']!r}, span={s['span']!r}")
        if int(s["width"]) != s["width"] or s["width"] < (0 if s["hybrid"] else 1):
            raise ValueError(f"width must be a positive integer (0 allowed with hybrid=True: physics only), "
                             f"got {s['width']!r}")
        self.train_nfe: list[int] = []

    def integration_options(self) -> dict[str, Any]:
        s = self.settings
        if s["method"] in ADAPTIVE:
            return {"rtol": s["rtol"], "atol": s["atol"], "adjoint": s["adjoint"]}
        return {"step_size": s["step_size"]}

    def build_model(self) -> NeuralODEModel:
        s, p = self.settings, self.problem
        field = NeuralField(p, s["width"], s["depth"], s["activation"], s["hybrid"], dict(p.unknowns))
        model = NeuralODEModel(field, s["method"], self.integration_options())
        if p.unknowns:
            model.unknowns = LearnedPhysics(field)  # read by Result.identified
        return model

    # -- data --------------------------------------------------------------------------------------
    def data(self) -> tuple[Tensor, Tensor]:
        """Observation times (n_traj, n_obs + 1) and states (n_traj, n_obs + 1, d), t = 0 first."""
        s, p = self.settings, self.problem
        g = torch.Generator().manual_seed(s["seed"])
        x0 = p.sample_states(s["n_trajectories"], g)
        times = torch.rand(s["n_trajectories"], s["n_observations"], generator=g, dtype=torch.float64) * s["span"]
        times = torch.cat([torch.zeros(s["n_trajectories"], 1, dtype=torch.float64), times.sort(dim=1).values], 1)
        states = integrate_points(p.trajectories, torch.cat(
            [times.reshape(-1, 1), x0.repeat_interleave(times.shape[1], 0)], 1)).reshape(*times.shape, -1)
        if s["noise"]:
            states = states + s["noise"] * states.std(dim=(0, 1)) * torch.randn(states.shape, generator=g,
                                                                                 dtype=torch.float64)
        return times, states

    def windows(self) -> tuple[Tensor, Tensor, Tensor]:
        """A batch of training windows: start states (B, d), times after the start (B, K), targets (B, K, d)."""
        s = self.settings
        n_traj, n_obs = self.times.shape
        k = max(1, round(s["window"] / s["span"] * (n_obs - 1)))
        traj = torch.randint(n_traj, (s["batch"],))
        start = torch.randint(n_obs - k, (s["batch"],))
        idx = start[:, None] + torch.arange(k + 1)
        t = self.times[traj[:, None], idx]
        x = self.states[traj[:, None], idx]
        return x[:, 0], t[:, 1:] - t[:, :1], x[:, 1:]

    # -- training ----------------------------------------------------------------------------------
    def loss(self) -> dict[str, Tensor]:
        s = self.settings
        x0, dt, target = self.windows()
        times, where = torch.unique(torch.cat([dt.new_zeros(1), dt.reshape(-1)]), return_inverse=True)
        stats: dict[str, Any] = {}
        regularise = s["regularise"] > 0
        ys = self.model.solve(x0, times, stats=stats, record_steps=regularise)        # (T, B, d)
        pred = ys[where[1:].reshape(dt.shape), torch.arange(len(x0))[:, None]]
        self.train_nfe.append(stats["nfe"])
        terms = {"data": (((pred - target) / self.data_scale) ** 2).mean()}
        if regularise:
            terms["local_error"] = s["regularise"] * local_error(self.model.field, stats["accepted"], s["rtol"], s["atol"])
        return terms

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> Result:
        """Fit the vector field to windows of the observed trajectories (see the class docstring)."""
        s = self.settings
        seed_everything(s["seed"])
        self.model = self.build_model()
        self.times, self.states = self.data()
        flat = self.states.reshape(-1, self.problem.dim)
        self.data_scale = flat.std(0)
        slope = (self.states[:, 1:] - self.states[:, :-1]) / (self.times[:, 1:] - self.times[:, :-1])[..., None]
        net = self.model.field.net
        if net is not None:
            net.fit(self.problem.features(flat), slope.reshape(-1, self.problem.dim))
            if s["hybrid"]:  # the correction starts small: the physics carries the field at first
                with torch.no_grad():
                    net.mlp.linears[-1].weight.mul_(0.01)
        if self.problem.unknowns:
            def track(trainer, record):  # the identified parameters after each step, in the history
                record["identified"] = self.model.unknowns.floats()
            callbacks = [track, *(callbacks or [])]
        return self.fit(self.model, self.loss, out, resume, callbacks, f"{self.problem.name}/{self.name}",
                        get_extra=lambda: {"train_nfe": self.train_nfe},
                        set_extra=lambda extra: setattr(self, "train_nfe", list(extra["train_nfe"])))

    # -- evaluation --------------------------------------------------------------------------------
    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """One-step-ahead error on the reference's consecutive states, the rollout error over the
        reference horizon, and the function evaluations (and wall time) of that rollout."""
        p = self.problem
        ref = p.reference()
        n_t = p.n_times
        values = torch.as_tensor(ref.values).reshape(-1, n_t, p.dim)
        x0 = torch.as_tensor(ref.points[::n_t, 1:])
        t = torch.as_tensor(p.reference_times())
        model = result.model
        with torch.no_grad():
            starts = values[:, :-1].reshape(-1, p.dim)
            one = model.solve(starts, t[:2])[-1]
            stats: dict[str, Any] = {}
            began = time.perf_counter()
            roll = model.solve(x0, t, stats=stats)
            wall = time.perf_counter() - began
        out = {"one_step_rel_l2": relative_l2(one.numpy(), values[:, 1:].reshape(-1, p.dim).numpy()),
               "one_step_dt": float(t[1] - t[0]),
               "rollout_rel_l2": relative_l2(roll.transpose(0, 1).numpy(), values.numpy()),
               "rollout_horizon": p.horizon, "rollout_nfe": stats["nfe"], "rollout_steps": stats["steps"],
               "rollout_wall_s": wall}
        if self.train_nfe:
            tail = self.train_nfe[-100:]
            out["train_nfe_last100_mean"] = sum(tail) / len(tail)
        out.update({f"learned_{k}": float(v.detach()) for k, v in model.field.physical.items()})
        return out
