"""PINN digital twin of one measured trajectory of an ODE problem: the states as networks of time, fitted
to the measurements and to the equations, with unknown parameters learned alongside (Nath, Meng, Smith &
Karniadakis, Sci. Rep. 13:13683, 2023, for a diesel engine; here our own construction).

The problem's known inputs (commands) jump at its breakpoints, where the states are continuous but their
time derivatives are not, so the trajectory is split there into K stretches, each with its own small
MLP of a stretched local time

    xi = 2 log(1 + (t - a_k) / delta) / log(1 + (b_k - a_k) / delta) - 1   in [-1, 1] on [a_k, b_k],

which packs the resolution into the fast response just after each jump (``delta`` [s]). The K networks
run as one batched MLP; dx/dt comes by forward-mode differentiation through it (one pass for all states).
The states are ``x = network_scale * y`` with y the networks' outputs.

The loss (each term a mean of squares):

- ``residual``: (dx/dt - f(t, x, known(t), theta)) * time_scale / state_scale at ``n_collocation`` points
  per stretch, evenly spaced in xi. Weighting each state's residual by its own time constant turns it
  into an equivalent state error, so a stiff pressure and a slow turbo speed count alike;
- ``data``: the measured signals against the model's, each over its RMS;
- ``continuity``: the states at the end of one stretch against the next one's start;
- ``initial``: the networks' dx/dt at t = 0 when the problem starts at rest (its steady state), scaled as
  the residual (f itself at t = 0 is the residual's business: penalising f(x(0)) alone pulled x(0) towards
  spurious near-roots of f, far from the one measurement there, and diverged).

A problem this solver takes provides (no solver code needed; see :class:`sciml.problems.diesel.DieselEngine`):

- ``horizon`` [s] and ``breakpoints()``: the times in (0, horizon) where its known inputs jump;
- ``network_states`` (names of the states the networks represent), ``network_scale`` and
  ``network_time_scales`` (one typical size and one time constant [s] per such state);
- ``known(t)``: the known inputs and known states at times t (N,) as a dict of tensors (N,);
- ``network_derivative(x, known, params)``: dx/dt (N, n) of the network states x (N, n);
- ``measured(x, known, params)``: the measured signals (N, m) the states give;
- ``measurements()``: the measurement times (T,) [s], values (T, m) and the signals' names;
- ``network_guess(t, values, names)``: a first guess (T, n) of the network states from the measurements;
- ``full_state(x, known)``: every state of the problem (N, d) from the network states and the known ones;
- ``at_rest``: whether the trajectory starts from a steady state.

Unknown parameters (``problem.identify``) are learned as ``lower + exp(gain * theta)`` (:class:`FastUnknowns`),
so they need a lower bound.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sciml.inverse import Unknowns
from sciml.odesolver import ODESolver
from sciml.solver import Result
from sciml.training import TrainConfig, seed_everything

REQUIRED = ("breakpoints", "network_states", "network_scale", "network_time_scales", "known", "network_derivative",
            "measured", "measurements", "network_guess", "full_state", "at_rest")
"""What a problem provides for this solver (see the module docstring)."""


class StretchNets(nn.Module):
    """K tanh MLPs of one input, run as one batched MLP: stretch k maps its stretched local time xi to the
    scaled network states (n_out,), starting nearly flat (a small last layer: each stretch begins at its
    output bias, :meth:`ODEPinn.start_at_data`). ``edges`` (K + 1,) [s] bound the stretches; ``delta`` [s] sets the
    stretching (see the module docstring)."""

    def __init__(self, edges: np.ndarray, n_out: int, width: int, depth: int, delta: float):
        super().__init__()
        self.register_buffer("edges", torch.as_tensor(edges, dtype=torch.float64))
        self.delta = float(delta)
        k = len(edges) - 1
        dims = [1] + [width] * depth + [n_out]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for n_in, n_o in zip(dims[:-1], dims[1:]):  # Glorot-normal weights (the last layer's / 10), zero biases
            std = math.sqrt(2.0 / (n_in + n_o)) * (0.1 if n_o == n_out else 1.0)
            self.weights.append(nn.Parameter(torch.randn(k, n_in, n_o, dtype=torch.float64) * std))
            self.biases.append(nn.Parameter(torch.zeros(k, 1, n_o, dtype=torch.float64)))

    @property
    def count(self) -> int:
        return len(self.edges) - 1

    def stretch(self, which: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Stretched local time xi and dxi/dt [1/s] of times ``t`` in stretches ``which`` (same shape)."""
        a, b = self.edges[which], self.edges[which + 1]
        span = torch.log1p((b - a) / self.delta)
        lag = (t - a).clamp_min(0.0)
        return 2.0 * torch.log1p(lag / self.delta) / span - 1.0, 2.0 / (span * (self.delta + lag))

    def forward(self, xi: Tensor) -> tuple[Tensor, Tensor]:
        """Outputs y (K, n, n_out) and dy/dxi at stretched times ``xi`` (K, n), row k in stretch k."""
        h = xi[..., None]
        dh = torch.ones_like(h)
        last = len(self.weights) - 1
        for j, (w, b) in enumerate(zip(self.weights, self.biases)):
            z, dz = torch.baddbmm(b, h, w), torch.bmm(dh, w)
            if j < last:
                h = torch.tanh(z)
                dh = (1.0 - h * h) * dz
            else:
                h, dh = z, dz
        return h, dh

    def at(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Outputs y (M, n_out) and dy/dt [1/s] at any times ``t`` (M,) [s], each in its stretch (a
        breakpoint starts the later stretch)."""
        which = torch.searchsorted(self.edges, t.contiguous(), right=True).sub(1).clamp(0, self.count - 1)
        counts = torch.bincount(which, minlength=self.count)
        width = int(counts.max())
        order = torch.argsort(which, stable=True)
        slot = torch.arange(len(t)) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        rows = which[order]
        padded = self.edges[:-1, None].repeat(1, width)           # padding sits at each stretch's start
        padded[rows, slot] = t[order]
        stretch = torch.arange(self.count)[:, None].expand(-1, width)
        xi, rate = self.stretch(stretch, padded)
        y, dy = self(xi)
        out, slope = torch.empty(len(t), y.shape[-1], dtype=y.dtype), torch.empty(len(t), y.shape[-1], dtype=y.dtype)
        out[order], slope[order] = y[rows, slot], (dy * rate[..., None])[rows, slot]
        return out, slope


class FastUnknowns(Unknowns):
    """Unknown parameters learned as ``lower + exp(gain * theta)``: with Adam, whose steps are about ``lr``
    in theta whatever the gradient's size, the log-values move ``gain`` times faster than the networks'
    weights (a learning rate of their own without a second optimiser)."""

    def __init__(self, guesses: dict[str, float], lower: dict[str, float], gain: float):
        super().__init__(guesses, lower)
        self.gain = float(gain)
        with torch.no_grad():
            for t in self.raw.values():
                t.div_(self.gain)

    def values(self) -> dict[str, Tensor]:
        return {n: self.lower[n] + torch.exp(self.gain * t) for n, t in self.raw.items()}


class TwinModel(nn.Module):
    """The stretch networks, the unknown parameters (``unknowns``, read by :attr:`Result.identified`) and
    what maps the networks' outputs to the problem's states. ``forward(points)`` takes points (M, 1 + d) of
    (t, initial state) and returns every state (M, d) at those times (the initial-state columns are not
    used: this model is one trajectory)."""

    def __init__(self, problem, nets: StretchNets, unknowns: Unknowns | None):
        super().__init__()
        self.problem = problem
        self.nets = nets
        self.unknowns = unknowns
        self.register_buffer("scale", torch.as_tensor(problem.network_scale, dtype=torch.float64))

    def states(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Network states x (M, n) and dx/dt at times ``t`` (M,) [s]."""
        y, dy = self.nets.at(t)
        return y * self.scale, dy * self.scale

    def forward(self, points: Tensor) -> Tensor:
        t = points[:, 0].to(torch.float64)
        x, _ = self.states(t)
        return self.problem.full_state(x, self.problem.known(t)).to(points.dtype)


class ODEPinn(ODESolver):
    """PINN digital twin (see the module docstring): networks of time per stretch between breakpoints,
    trained on the problem's measurements and equations, learning its unknown parameters.

    Settings: ``width``/``depth`` of each stretch's tanh MLP, ``delta`` [s] of the time stretching,
    ``n_collocation`` residual points per stretch; loss weights ``data_weight``, ``continuity_weight``,
    ``initial_weight`` (the residual's is 1); ``iterations`` Adam steps at ``lr`` (networks; the unknowns'
    log-values move as if at ``parameter_lr``, :class:`FastUnknowns`), decayed exponentially by ``decay_rate`` over the run,
    then ``lbfgs_iterations`` L-BFGS iterations; ``seed``, ``device`` (CPU, float64), ``checkpoint_every``,
    ``checkpoint_minutes``, ``progress``. ``baseline`` (on by default): also identify the unknowns by the problem's
    classical method, where it has one (``problem.least_squares(initial_guess)``), and report it beside the
    twin in ``extra_metrics``.
    """

    name = "ode-pinn"
    inverse = True
    defaults: dict[str, Any] = {
        "width": 48, "depth": 3, "delta": 0.1, "n_collocation": 300, "data_weight": 1.0, "continuity_weight": 10.0,
        "initial_weight": 1.0, "iterations": 15000, "lr": 3e-3, "parameter_lr": 1e-2, "decay_rate": 0.1,
        "schedule": "exponential", "lbfgs_iterations": 2000, "seed": 0, "device": None, "checkpoint_every": 1000,
        "checkpoint_minutes": 5.0, "progress": True, "baseline": True,
    }

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        for key, least in (("width", 1), ("depth", 1), ("n_collocation", 2), ("lbfgs_iterations", 0)):
            if isinstance(s[key], bool) or int(s[key]) != s[key] or s[key] < least:
                raise ValueError(f"{key} must be an integer >= {least}, got {s[key]!r}")
        for key in ("delta", "lr", "parameter_lr", "data_weight", "continuity_weight", "initial_weight"):
            positive = key in ("delta", "lr", "parameter_lr")
            if not (isinstance(s[key], (int, float)) and math.isfinite(s[key]) and (s[key] > 0 or not positive and s[key] == 0)):
                raise ValueError(f"{key} must be a finite number {'>' if positive else '>='} 0, got {s[key]!r}")
        if problem.observations is not None:
            raise ValueError(f"solver {self.name!r} fits the measurements of problem {problem.name!r} itself "
                             "(problem.measurements()); observations from a file or the reference are not taken")
        self.config = TrainConfig(iterations=s["iterations"], lr=s["lr"], schedule=s["schedule"],
                                  decay_rate=s["decay_rate"], decay_steps=s["iterations"],
                                  lbfgs_iterations=s["lbfgs_iterations"], checkpoint_every=s["checkpoint_every"],
                                  checkpoint_minutes=s["checkpoint_minutes"], progress=s["progress"])

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        reason = super().unsuitable(problem_cls)
        if reason is not None:
            return reason
        missing = [name for name in REQUIRED if not hasattr(problem_cls, name)]
        if missing:
            return (f"it does not describe a measured trajectory with known inputs (it lacks {', '.join(missing)}; "
                    "see sciml.solvers.ode_pinn)")
        return None

    def build_model(self) -> TwinModel:
        p, s = self.problem, self.settings
        cuts = np.asarray(p.breakpoints(), dtype=float)
        edges = np.concatenate([[0.0], cuts[(cuts > 0) & (cuts < p.horizon)], [p.horizon]])
        nets = StretchNets(edges, len(p.network_states), s["width"], s["depth"], s["delta"])
        unknowns = None
        if p.unknowns:
            bad = [n for n in p.unknowns if p.parameters[n].minimum is None]
            if bad:
                raise ValueError(f"solver {self.name!r} learns parameters in log space and needs a lower bound; "
                                 f"{bad} of problem {p.name!r} have none")
            unknowns = FastUnknowns(p.unknowns, {n: p.parameters[n].minimum for n in p.unknowns},
                                    s["parameter_lr"] / s["lr"])
        return TwinModel(p, nets, unknowns)

    def prepare(self) -> None:
        """Collocation points, the measurements and what is known at both, computed once."""
        p, nets = self.problem, self.model.nets
        k, n = nets.count, self.settings["n_collocation"]
        xi = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)
        a, b = nets.edges[:-1, None], nets.edges[1:, None]
        self.t_colloc = (a + nets.delta * torch.expm1((xi + 1.0) / 2.0 * torch.log1p((b - a) / nets.delta))).reshape(-1)
        self.xi = xi.expand(k, n)
        self.known_colloc = p.known(self.t_colloc)
        self.rate = nets.stretch(torch.arange(k)[:, None].expand(k, n), self.t_colloc.reshape(k, n))[1].reshape(-1, 1)
        t, values, self.signals = p.measurements()
        self.t_data = torch.as_tensor(t, dtype=torch.float64)
        self.values = torch.as_tensor(values, dtype=torch.float64)
        self.known_data = p.known(self.t_data)
        self.data_rms = self.values.pow(2).mean(0).sqrt().clamp_min(1e-300)
        self.weight = torch.as_tensor(p.network_time_scales, dtype=torch.float64) / self.model.scale

    def params(self) -> dict[str, Any]:
        """The problem's parameters with the unknowns' current (trainable) values."""
        p = dict(self.problem.params)
        if self.model.unknowns is not None:
            p.update(self.model.unknowns.values())
        return p

    def loss(self) -> dict[str, Tensor]:
        p, s, nets = self.problem, self.settings, self.model.nets
        params = self.params()
        y, dy = nets(self.xi)
        x = (y * self.model.scale).reshape(-1, y.shape[-1])
        dxdt = (dy * self.model.scale).reshape(-1, y.shape[-1]) * self.rate
        residual = (dxdt - p.network_derivative(x, self.known_colloc, params)) * self.weight
        x_data, _ = self.model.states(self.t_data)
        misfit = (p.measured(x_data, self.known_data, params) - self.values) / self.data_rms
        end, _ = nets(torch.ones(nets.count, 1, dtype=torch.float64))
        terms = {"residual": residual.pow(2).mean(), "data": s["data_weight"] * misfit.pow(2).mean()}
        if nets.count > 1:
            terms["continuity"] = s["continuity_weight"] * (end[:-1, 0] - y[1:, 0]).pow(2).mean()
        if p.at_rest:
            terms["initial"] = s["initial_weight"] * (dxdt[:1] * self.weight).pow(2).mean()
        return terms

    def train(self, out=None, resume: bool = False, callbacks=None) -> Result:
        """Fit the stretch networks and the unknown parameters to the measurements and the equations."""
        s = self.settings
        seed_everything(s["seed"])
        began = time.perf_counter()
        self.model = self.build_model()
        self.prepare()
        with torch.no_grad():  # each stretch starts at the mean of the measured network states in it
            self.start_at_data()
        if self.model.unknowns is not None:
            def track(trainer, record):  # the identified parameters after each step, in the history
                record["identified"] = self.model.unknowns.floats()
            callbacks = [track, *(callbacks or [])]
        setup_s = time.perf_counter() - began
        return self.fit(self.model, self.loss, out, resume, callbacks, f"{self.problem.name}/{self.name}",
                        data_s=setup_s)

    def start_at_data(self) -> None:
        """Set each stretch's output bias to the mean scaled network state measured in it (states that are
        not measured start at the problem's own estimate, ``problem.network_guess``)."""
        p, nets = self.problem, self.model.nets
        which = torch.searchsorted(nets.edges, self.t_data, right=True).sub(1).clamp(0, nets.count - 1)
        guess = torch.as_tensor(p.network_guess(self.t_data, self.values, self.signals), dtype=torch.float64)
        for k in range(nets.count):
            rows = which == k
            if rows.any():
                nets.biases[-1][k, 0] = (guess[rows] / self.model.scale).mean(0)

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """The fit of the measured signals (relative L2 of each against the measurements); for each unknown
        parameter ``rel_error_NAME``, its identified value's relative error against the problem's own value,
        at which :meth:`measurements` simulated the signals; with ``baseline``, the classical fit's."""
        if not hasattr(self, "t_data"):
            self.model = result.model
            self.prepare()
        with torch.no_grad():
            x, _ = result.model.states(self.t_data)
            fit = self.problem.measured(x, self.known_data, self.params()).numpy()
        values = self.values.numpy()
        out: dict[str, Any] = {
            f"measurement_rel_l2_{name}": float(np.linalg.norm(fit[:, j] - values[:, j]) / np.linalg.norm(values[:, j]))
            for j, name in enumerate(self.signals)}
        for name, value in result.identified.items():
            true = float(self.problem.params[name])
            out[f"rel_error_{name}"] = abs(value - true) / abs(true)
        if self.settings["baseline"] and self.problem.unknowns and hasattr(self.problem, "least_squares"):
            fit = self.problem.least_squares(dict(self.problem.unknowns))
            out["baseline"] = {"method": "nonlinear least squares on the simulator (scipy.optimize.least_squares)",
                               "values": fit["values"], "rel_error": fit["rel_error"], "simulations": fit["nfev"],
                               "wall_s": fit["wall_s"]}
        return out
