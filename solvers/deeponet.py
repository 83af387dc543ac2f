"""DeepONet: a neural operator from input functions of time to trajectories (Lu, Jin, Pang, Zhang &
Karniadakis 2021, "Learning nonlinear operators via DeepONet based on the universal approximation
theorem of operators", Nature Machine Intelligence 3:218-229).

An input function u is seen through its values at m fixed sensors; the branch net maps them to p
coefficients per output, the trunk net maps the time t to p basis functions, and the operator's value
is their inner product plus a bias, per output j (several outputs by splitting the branch's and the
trunk's outputs into one group of p per output: Lu, Meng, Cai, Mao, Goswami, Zhang & Karniadakis 2022,
"A comprehensive and fair comparison of two neural operators (with practical extensions) based on
FAIR data", Comput. Methods Appl. Mech. Engrg. 393:114778):

    G(u)(t)_j = mean_j + scale_j (sum_k b_kj(u(s_1), ..., u(s_m)) tau_kj(t) + bias_j)

Training data are pairs of input functions (drawn by the solver's seed) and their exact trajectories on
one shared time grid, so each step evaluates the trunk once on the grid and the branch once per input
function of the batch (Lu et al. 2022's training on aligned data).

A problem this solver takes declares its input functions and their exact responses (no solver code
needed):

- ``inputs``: its time input first, then the m sensor values of the input function(s);
- ``horizon``: trajectories are learned on t in [0, horizon];
- ``sample_inputs(n, generator)``: n input functions as their sensor values (n, m), float64 tensor;
- ``solution(inputs, t)``: the exact trajectories (n, T, n_out) for sensor values (n, m) at times (T,)
  (NumPy arrays).

Its reference holds held-out input functions: the reported ``rel_l2`` is over those, which training
never sees (their seed, :data:`sciml.odeproblem.REFERENCE_SEED`, is refused as a training seed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sciml.networks import MLP, Activation
from sciml.odeproblem import REFERENCE_SEED
from sciml.odesolver import ODESolver
from sciml.problem import relative_l2
from sciml.solver import Result
from sciml.training import seed_everything

REQUIRED = ("sample_inputs", "solution", "horizon")
"""What a problem provides for operator learning (see the module docstring)."""


class DeepONetModel(nn.Module):
    """Branch (m sensor values -> p x n_out coefficients) and trunk (t -> p x n_out basis functions);
    outputs per unit scale, mapped back by the fitted ``mean`` and ``scale`` buffers (n_out,) (saved
    with the weights). ``forward(points)`` takes points (M, 1 + m) of (t, sensor values) -> (M, n_out);
    :meth:`grid` evaluates N functions on T shared times at once."""

    def __init__(self, n_sensors: int, n_out: int, horizon: float, width: int, depth: int, basis: int,
                 activation: str):
        super().__init__()
        self.n_out, self.basis = n_out, basis
        self.branch = MLP(n_sensors, basis * n_out, width=width, depth=depth, activation=activation)
        self.trunk = MLP(1, basis * n_out, width=width, depth=depth, activation=activation, lower=[0.0],
                         upper=[horizon])
        self.activation = Activation(activation)
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.register_buffer("mean", torch.zeros(n_out))
        self.register_buffer("scale", torch.ones(n_out))

    @torch.no_grad()
    def fit(self, inputs: Tensor, outputs: Tensor) -> None:
        """Scale the branch's inputs to about [-1, 1] (mean ± 2 standard deviations of the sensor values
        ``inputs`` (N, m)) and the outputs to order one (mean and standard deviation of ``outputs`` (..., n_out))."""
        self.branch.center.copy_(inputs.mean(0))
        self.branch.half_width.copy_(2 * inputs.std(0).clamp_min(1e-12))
        flat = outputs.reshape(-1, self.n_out)
        self.mean.copy_(flat.mean(0))
        self.scale.copy_(flat.std(0).clamp_min(1e-12))

    def coefficients(self, u: Tensor) -> Tensor:
        """Branch coefficients (N, p, n_out) of sensor values ``u`` (N, m)."""
        return self.branch(u).view(len(u), self.basis, self.n_out)

    def functions(self, t: Tensor) -> Tensor:
        """Trunk basis functions (T, p, n_out) at times ``t`` (T,)."""
        return self.activation(self.trunk(t[:, None])).view(len(t), self.basis, self.n_out)

    def unscaled_grid(self, u: Tensor, t: Tensor) -> Tensor:
        """(prediction - mean) / scale (N, T, n_out) of N input functions ``u`` (N, m) at shared times ``t`` (T,)."""
        return torch.einsum("npo,tpo->nto", self.coefficients(u), self.functions(t)) + self.bias

    def grid(self, u: Tensor, t: Tensor) -> Tensor:
        """Predicted trajectories (N, T, n_out) of N input functions ``u`` (N, m) at shared times ``t`` (T,)."""
        return self.mean + self.scale * self.unscaled_grid(u, t)

    def forward(self, points: Tensor) -> Tensor:
        if points.ndim != 2 or points.shape[1] != 1 + self.branch.center.shape[0]:
            raise ValueError(f"points must be (M, {1 + self.branch.center.shape[0]}) rows of (t, sensor values), "
                             f"got shape {tuple(points.shape)}")
        b = self.coefficients(points[:, 1:])
        tau = self.functions(points[:, 0])
        return self.mean + self.scale * ((b * tau).sum(1) + self.bias)


class DeepONet(ODESolver):
    """DeepONet operator learning (Lu et al. 2021) for problems whose inputs are functions of time.

    Settings: ``width``/``depth``/``activation`` of the branch and the trunk nets, ``basis`` p (basis
    functions per output); data: ``n_functions`` training input functions (drawn by ``seed``) with their
    exact trajectories at ``n_times`` times (t = 0 and uniform random times in [0, horizon], drawn once,
    shared by all functions); each Adam step fits ``batch`` of the functions at ``batch_times`` of the times,
drawn anew every step; ``iterations``,
    ``lr``, ``schedule``; ``seed``, ``device`` (CPU, float64), ``checkpoint_every``,
    ``checkpoint_minutes``, ``progress``.
    """

    name = "deeponet"
    defaults: dict[str, Any] = {
        "width": 64, "depth": 3, "basis": 32, "activation": "tanh", "n_functions": 5000, "n_times": 800,
        "batch": 100, "batch_times": 200, "iterations": 20000, "lr": 3e-3, "schedule": "cosine", "seed": 0,
        "device": None, "checkpoint_every": 2000, "checkpoint_minutes": 5.0, "progress": True,
    }

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        for key, least in (("basis", 1), ("n_functions", 1), ("n_times", 2), ("batch", 1), ("batch_times", 1)):
            if isinstance(s[key], bool) or int(s[key]) != s[key] or s[key] < least:
                raise ValueError(f"{key} must be an integer >= {least}, got {s[key]!r}")
        if s["seed"] == REFERENCE_SEED:
            raise ValueError(f"seed {REFERENCE_SEED} draws the held-out input functions of the reference; "
                             "train with any other seed")
        if problem.inputs[0] != problem.time:
            raise ValueError(f"problem {problem.name!r} must list its time input {problem.time!r} first, then the "
                             f"sensor values; its inputs are {problem.inputs}")
        if not problem.horizon > 0:
            raise ValueError(f"problem {problem.name!r} has horizon {problem.horizon!r}; it must be > 0")

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        missing = [name for name in REQUIRED if not hasattr(problem_cls, name)]
        if missing or not problem_cls.time:
            return (f"it has no input functions of time to learn an operator on (it lacks "
                    f"{', '.join(missing) or 'a time input'}; see sciml.solvers.deeponet)")
        return None

    def build_model(self) -> DeepONetModel:
        s, p = self.settings, self.problem
        return DeepONetModel(len(p.inputs) - 1, len(p.outputs), float(p.horizon), s["width"], s["depth"],
                             s["basis"], s["activation"]).double()

    def data(self) -> tuple[Tensor, Tensor, Tensor]:
        """Training sensor values (n_functions, m), times (n_times,) [time units] and exact trajectories
        (n_functions, n_times, n_out), drawn by the seed."""
        s, p = self.settings, self.problem
        g = torch.Generator().manual_seed(s["seed"])
        u = torch.as_tensor(p.sample_inputs(s["n_functions"], g), dtype=torch.float64)
        m = len(p.inputs) - 1
        if u.shape != (s["n_functions"], m):
            raise ValueError(f"{type(p).__name__}.sample_inputs gave shape {tuple(u.shape)}, expected "
                             f"({s['n_functions']}, {m}): one value per sensor input {p.inputs[1:]}")
        later = torch.rand(s["n_times"] - 1, generator=g, dtype=torch.float64).sort().values * p.horizon
        t = torch.cat([torch.zeros(1, dtype=torch.float64), later])
        y = torch.as_tensor(np.asarray(p.solution(u.numpy(), t.numpy()), dtype=float))
        return u, t, y

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> Result:
        """Fit the branch and trunk nets to the exact trajectories of the training input functions, in
        mean square per unit output scale, ``batch`` functions at ``batch_times`` times per Adam step."""
        s = self.settings
        seed_everything(s["seed"])
        self.model = self.build_model()
        began = time.perf_counter()
        self.inputs, self.times, self.targets = self.data()
        data_s = time.perf_counter() - began
        self.model.fit(self.inputs, self.targets)
        scaled = (self.targets - self.model.mean) / self.model.scale
        n, n_t = s["n_functions"], s["n_times"]

        def loss() -> dict[str, Tensor]:
            rows = torch.randperm(n)[:s["batch"]] if s["batch"] < n else slice(None)
            cols = torch.randperm(n_t)[:s["batch_times"]] if s["batch_times"] < n_t else slice(None)
            fit = self.model.unscaled_grid(self.inputs[rows], self.times[cols]) - scaled[rows][:, cols]
            return {"data": (fit ** 2).mean()}

        return self.fit(self.model, loss, out, resume, callbacks, f"{self.problem.name}/{self.name}", data_s=data_s)

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """The error on the training functions (the generalisation gap beside ``rel_l2``) and the spread of
        the held-out error over the reference's input functions (median and worst)."""
        model = result.model
        if not hasattr(self, "inputs"):
            self.inputs, self.times, self.targets = self.data()
        with torch.no_grad():
            train = model.grid(self.inputs, self.times).numpy()
        ref = self.problem.reference()
        pred = result.predict(ref.points)
        _, which = np.unique(ref.points[:, 1:], axis=0, return_inverse=True)
        which = which.ravel()
        per = [relative_l2(pred[which == k], ref.values[which == k]) for k in range(which.max() + 1)]
        return {"train_rel_l2": relative_l2(train, self.targets.numpy()), "held_out_functions": len(per),
                "rel_l2_median_function": float(np.median(per)), "rel_l2_worst_function": float(np.max(per))}
