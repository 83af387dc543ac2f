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
- ``data``: the measured signals against the model's, each over its RMS; with ``self_adaptive``, each
  sample's square times lambda^2, a weight per sample and signal that gradient ascent raises where the
  misfit stays large during the Adam phase and that the second phase keeps fixed (self-adaptive PINNs,
  McClenny & Braga-Neto, J. Comput. Phys. 474, 111722, 2023; the twin papers found such weights on the data
  necessary);
- ``continuity``: the states at the end of one stretch against the next one's start;
- ``initial``: the networks' dx/dt at t = 0 when the problem starts at rest (its steady state), scaled as
  the residual (f itself at t = 0 is the residual's business: penalising f(x(0)) alone pulled x(0) towards
  spurious near-roots of f, far from the one measurement there, and diverged);
- ``algebraic`` (with the ``algebraic`` setting): where the model has implicit algebraic unknowns z, solved
  by the problem itself by default, the networks learn them as further outputs, and this term is
  (z - g(x, z)) / algebraic_scale at the collocation points, g the problem's one pass of their equations.
  They are not continuous across breakpoints (they follow the inputs' jumps), so continuity and the
  initial term see the states only.

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

and, for the ``algebraic`` setting, ``algebraic_states`` (names), ``algebraic_scale`` (a typical size of each),
``algebraic_values(x, known, params)`` (the unknowns (N, m) solved at states x: the start), and an
``algebraic=z`` keyword of ``network_derivative`` (which then returns dx/dt and g(x, z)) and ``measured``.

Unknown parameters (``problem.identify``) are learned as ``lower + exp(gain * theta)`` (:class:`FastUnknowns`),
so they need a lower bound.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sciml import storage
from sciml.inverse import Unknowns
from sciml.odesolver import ODESolver
from sciml.solver import Result
from sciml.training import TrainConfig, seed_everything

REQUIRED = ("breakpoints", "network_states", "network_scale", "network_time_scales", "known", "network_derivative",
            "measured", "measurements", "network_guess", "full_state", "at_rest")
"""What a problem provides for this solver (see the module docstring)."""
ALGEBRAIC = ("algebraic_states", "algebraic_scale", "algebraic_values")
"""What a problem further provides for the ``algebraic`` setting (see the module docstring)."""


HEAD_RIDGE = 1e-3
"""Ridge weight of the least-squares start of the heads on a transferred body (:meth:`ODEPinn.start_at_data`):
the features are tanh values of order one and a 4 s stretch holds about 40 measurements for about 50 head
weights per state, so a small ridge picks the smooth fit among many."""


class StretchNets(nn.Module):
    """K tanh MLPs of one input, run as one batched MLP: stretch k maps its stretched local time xi to the
    scaled network states (n_out,), starting nearly flat (a small last layer: each stretch begins at its
    output bias, :meth:`ODEPinn.start_at_data`). ``edges`` (K + 1,) [s] bound the stretches; ``delta`` [s] sets the
    stretching (see the module docstring). With ``shared``, the hidden layers (the body) are one MLP for
    every stretch and only the last layer (the heads) is per stretch: every stretch's states are then
    combinations of the same functions of xi, which a body trained on one trajectory gives another
    (few-shot transfer, :class:`ODEPinn`)."""

    def __init__(self, edges: np.ndarray, n_out: int, width: int, depth: int, delta: float, shared: bool = False):
        super().__init__()
        self.register_buffer("edges", torch.as_tensor(edges, dtype=torch.float64))
        self.delta = float(delta)
        k = len(edges) - 1
        dims = [1] + [width] * depth + [n_out]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for j, (n_in, n_o) in enumerate(zip(dims[:-1], dims[1:])):  # Glorot-normal weights (the last layer's / 10)
            head = j == depth
            rows = k if head or not shared else 1
            std = math.sqrt(2.0 / (n_in + n_o)) * (0.1 if head else 1.0)
            self.weights.append(nn.Parameter(torch.randn(rows, n_in, n_o, dtype=torch.float64) * std))
            self.biases.append(nn.Parameter(torch.zeros(rows, 1, n_o, dtype=torch.float64)))

    @property
    def count(self) -> int:
        return len(self.edges) - 1

    def body(self) -> list[nn.Parameter]:
        """The hidden layers' weights and biases (all but the heads)."""
        return [*self.weights[:-1], *self.biases[:-1]]

    def stretch(self, which: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Stretched local time xi and dxi/dt [1/s] of times ``t`` in stretches ``which`` (same shape)."""
        a, b = self.edges[which], self.edges[which + 1]
        span = torch.log1p((b - a) / self.delta)
        lag = (t - a).clamp_min(0.0)
        return 2.0 * torch.log1p(lag / self.delta) / span - 1.0, 2.0 / (span * (self.delta + lag))

    @staticmethod
    def _layer(h: Tensor, dh: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        w = w.expand(len(h), -1, -1)          # a shared layer's one matrix serves every stretch
        return torch.baddbmm(b, h, w), torch.bmm(dh, w)

    def features(self, xi: Tensor) -> tuple[Tensor, Tensor]:
        """The last hidden layer h (K, n, width) and dh/dxi at stretched times ``xi`` (K, n), row k in stretch k."""
        h = xi[..., None]
        dh = torch.ones_like(h)
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            z, dz = self._layer(h, dh, w, b)
            h = torch.tanh(z)
            dh = (1.0 - h * h) * dz
        return h, dh

    def head(self, h: Tensor, dh: Tensor) -> tuple[Tensor, Tensor]:
        """Outputs y (K, n, n_out) and dy/dxi from the last hidden layer (:meth:`features`)."""
        return self._layer(h, dh, self.weights[-1], self.biases[-1])

    def forward(self, xi: Tensor) -> tuple[Tensor, Tensor]:
        """Outputs y (K, n, n_out) and dy/dxi at stretched times ``xi`` (K, n), row k in stretch k."""
        return self.head(*self.features(xi))

    def place(self, t: Tensor) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor, Tensor]]:
        """Times ``t`` (M,) [s] laid out by stretch (a breakpoint starts the later stretch): stretched times
        xi (K, w) and dxi/dt (K, w), padded at each stretch's start, and where each time sits in them (for
        :meth:`pick`)."""
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
        return xi, rate, (order, rows, slot)

    @staticmethod
    def pick(y: Tensor, dy: Tensor, rate: Tensor, where: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Outputs (M, n_out) and their time derivatives [1/s] at the times :meth:`place` laid out, from the
        outputs y, dy/dxi (K, w, n_out) there."""
        order, rows, slot = where
        out = torch.empty(len(order), y.shape[-1], dtype=y.dtype)
        slope = torch.empty_like(out)
        out[order], slope[order] = y[rows, slot], (dy * rate[..., None])[rows, slot]
        return out, slope

    def at(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Outputs y (M, n_out) and dy/dt [1/s] at any times ``t`` (M,) [s], each in its stretch (a
        breakpoint starts the later stretch)."""
        xi, rate, where = self.place(t)
        return self.pick(*self(xi), rate, where)


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
    what maps the networks' outputs to the problem's states (and, with ``algebraic``, its algebraic
    unknowns: the last outputs). ``forward(points)`` takes points (M, 1 + d) of (t, initial state) and
    returns every state (M, d) at those times (the initial-state columns are not used: this model is one
    trajectory)."""

    def __init__(self, problem, nets: StretchNets, unknowns: Unknowns | None, algebraic: bool = False):
        super().__init__()
        self.problem = problem
        self.nets = nets
        self.unknowns = unknowns
        self.n_states = len(problem.network_states)
        scale = tuple(problem.network_scale) + (tuple(problem.algebraic_scale) if algebraic else ())
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64))

    def outputs(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Network states x (M, n), then the algebraic unknowns z (M, m) where learned, as one (M, n + m),
        and its time derivative at times ``t`` (M,) [s]."""
        y, dy = self.nets.at(t)
        return y * self.scale, dy * self.scale

    def states(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Network states x (M, n) and dx/dt at times ``t`` (M,) [s]."""
        x, dxdt = self.outputs(t)
        return x[:, :self.n_states], dxdt[:, :self.n_states]

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
    then ``lbfgs_iterations`` iterations of ``optimizer``'s second phase (:class:`sciml.training.TrainConfig`:
    L-BFGS by default; a dense quasi-Newton such as "ssbroyden" suits the few weights of a few-shot run); ``seed``, ``device`` (CPU, float64), ``checkpoint_every``,
    ``checkpoint_minutes``, ``progress``. ``baseline`` (on by default): also identify the unknowns by the problem's
    classical method, where it has one (``problem.least_squares(initial_guess)``), and report it beside the
    twin in ``extra_metrics``. ``shared_body``: one body for every stretch, a head each (:class:`StretchNets`).
    ``self_adaptive``: a trainable weight per measured sample and signal on the data term (module docstring),
    raised by its own Adam (gradient ascent, at ``lr``) in the Adam phase, fixed after it; their spread is in
    ``extra_metrics["self_adaptive_weights"]``. ``algebraic``: learn the problem's implicit algebraic
    unknowns as outputs with their own residual (the ``algebraic`` loss term) instead of having the problem
    solve them at every evaluation.

    Transfer learning (Nath, Kumar, Smith & Karniadakis, arXiv 2412.11967, its two strategies): ``init`` names
    a saved ode-pinn result (its folder or ``result.pt``, as ``sciml run --init``) on another trajectory (another
    operating window) with networks of the same shape; its weights start this run's (stretch k from the
    source's stretch k modulo its count; each head's bias then starts at the data, the unknowns at this run's
    initial guesses).

    - multi-stage: ``data_steps`` first Adam steps fit the networks to the data alone, the unknowns frozen;
      then the residual and the unknowns join;
    - few-shot (``freeze_body``, a ``shared_body`` source): the body is frozen, its features and their time
      derivatives at the residual, data and stretch-end points computed once, and only the heads and the
      unknowns are trained.
    """

    name = "ode-pinn"
    inverse = True
    defaults: dict[str, Any] = {
        "width": 48, "depth": 3, "delta": 0.1, "n_collocation": 300, "data_weight": 1.0, "continuity_weight": 10.0,
        "initial_weight": 1.0, "iterations": 15000, "lr": 3e-3, "parameter_lr": 1e-2, "decay_rate": 0.1,
        "schedule": "exponential", "lbfgs_iterations": 2000, "seed": 0, "device": None, "checkpoint_every": 1000,
        "checkpoint_minutes": 5.0, "progress": True, "baseline": True, "shared_body": False, "init": None,
        "data_steps": 0, "freeze_body": False, "optimizer": "adam-lbfgs", "self_adaptive": False,
        "algebraic": False,
    }

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        self.physics = True
        """Whether the residual and the unknowns are in the loss (off during a multi-stage start)."""
        for key, least in (("width", 1), ("depth", 1), ("n_collocation", 2), ("lbfgs_iterations", 0), ("data_steps", 0)):
            if isinstance(s[key], bool) or int(s[key]) != s[key] or s[key] < least:
                raise ValueError(f"{key} must be an integer >= {least}, got {s[key]!r}")
        for key in ("delta", "lr", "parameter_lr", "data_weight", "continuity_weight", "initial_weight"):
            positive = key in ("delta", "lr", "parameter_lr")
            if not (isinstance(s[key], (int, float)) and math.isfinite(s[key]) and (s[key] > 0 or not positive and s[key] == 0)):
                raise ValueError(f"{key} must be a finite number {'>' if positive else '>='} 0, got {s[key]!r}")
        for key in ("self_adaptive", "algebraic"):
            if not isinstance(s[key], bool):
                raise ValueError(f"{key} must be True or False, got {s[key]!r}")
        missing = [name for name in ALGEBRAIC if not hasattr(problem, name)]
        if s["algebraic"] and missing:
            raise ValueError(f"algebraic=True learns a problem's implicit algebraic unknowns; problem {problem.name!r} "
                             f"has none (it lacks {', '.join(missing)})")
        if s["data_steps"] > s["iterations"]:
            raise ValueError(f"data_steps must be at most iterations ({s['iterations']}): the data-only stage is the "
                             f"start of the Adam phase, got {s['data_steps']!r}")
        if s["freeze_body"] and not (s["shared_body"] and s["init"] is not None):
            raise ValueError("freeze_body keeps a trained body fixed: it needs shared_body=True and a saved result to "
                             f"start from (got shared_body={s['shared_body']!r}, init={s['init']!r})")
        if problem.observations is not None:
            raise ValueError(f"solver {self.name!r} fits the measurements of problem {problem.name!r} itself "
                             "(problem.measurements()); observations from a file or the reference are not taken")
        self.config = TrainConfig(iterations=s["iterations"], lr=s["lr"], schedule=s["schedule"],
                                  decay_rate=s["decay_rate"], decay_steps=s["iterations"],
                                  lbfgs_iterations=s["lbfgs_iterations"], optimizer=s["optimizer"],
                                  checkpoint_every=s["checkpoint_every"],
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
        n_out = len(p.network_states) + (len(p.algebraic_states) if s["algebraic"] else 0)
        nets = StretchNets(edges, n_out, s["width"], s["depth"], s["delta"], bool(s["shared_body"]))
        unknowns = None
        if p.unknowns:
            bad = [n for n in p.unknowns if p.parameters[n].minimum is None]
            if bad:
                raise ValueError(f"solver {self.name!r} learns parameters in log space and needs a lower bound; "
                                 f"{bad} of problem {p.name!r} have none")
            unknowns = FastUnknowns(p.unknowns, {n: p.parameters[n].minimum for n in p.unknowns},
                                    s["parameter_lr"] / s["lr"])
        return TwinModel(p, nets, unknowns, s["algebraic"])

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
        self.xi_data, self.rate_data, self.where_data = nets.place(self.t_data)
        self.xi_ends = torch.ones(k, 1, dtype=torch.float64)
        self.frozen = {}
        if self.settings["freeze_body"]:
            with torch.no_grad():
                self.frozen = {"colloc": nets.features(self.xi), "data": nets.features(self.xi_data),
                               "ends": nets.features(self.xi_ends)}
        self.data_rms = self.values.pow(2).mean(0).sqrt().clamp_min(1e-300)
        self.adaptive = None
        """The self-adaptive data weights lambda (T, m) and their gradient-ascent Adam, when asked for."""
        if self.settings["self_adaptive"]:
            lam = torch.ones_like(self.values, requires_grad=True)
            self.adaptive = (lam, torch.optim.Adam([lam], lr=self.settings["lr"], maximize=True))
        n = self.model.n_states
        self.weight = torch.as_tensor(p.network_time_scales, dtype=torch.float64) / self.model.scale[:n]

    def params(self) -> dict[str, Any]:
        """The problem's parameters with the unknowns' current values (trainable once the physics is on)."""
        p = dict(self.problem.params)
        if self.model.unknowns is not None:
            values = self.model.unknowns.values()
            p.update(values if self.physics else {n: v.detach() for n, v in values.items()})
        return p

    def outputs(self, points: str) -> tuple[Tensor, Tensor]:
        """The networks' outputs y and dy/dxi at the prepared ``points`` ("colloc", "data" or "ends"), from the
        frozen body's stored features when it has them."""
        nets = self.model.nets
        if points in self.frozen:
            return nets.head(*self.frozen[points])
        return nets({"colloc": self.xi, "data": self.xi_data, "ends": self.xi_ends}[points])

    def loss(self) -> dict[str, Tensor]:
        p, s, nets = self.problem, self.settings, self.model.nets
        params = self.params()
        n, scale = self.model.n_states, self.model.scale
        y, dy = self.outputs("colloc")
        out = (y * scale).reshape(-1, y.shape[-1])
        x, z = out[:, :n], (out[:, n:] if s["algebraic"] else None)
        dxdt = (dy[..., :n] * scale[:n]).reshape(-1, n) * self.rate
        data = nets.pick(*self.outputs("data"), self.rate_data, self.where_data)[0] * scale
        z_data = data[:, n:] if s["algebraic"] else None
        misfit = (p.measured(data[:, :n], self.known_data, params, **self._given(z_data)) - self.values) / self.data_rms
        squares = misfit.pow(2) if self.adaptive is None else self.adaptive[0].pow(2) * misfit.pow(2)
        end, _ = self.outputs("ends")
        terms = {}
        if self.physics:
            rates = p.network_derivative(x, self.known_colloc, params, **self._given(z))
            if s["algebraic"]:
                rates, implied = rates
                terms["algebraic"] = ((z - implied) / scale[n:]).pow(2).mean()
            residual = ((dxdt - rates) * self.weight).pow(2).mean()
        else:  # the multi-stage start: the networks follow the data first
            residual = torch.zeros((), dtype=torch.float64)
        terms = {"residual": residual, **terms, "data": s["data_weight"] * squares.mean()}
        if nets.count > 1:
            terms["continuity"] = s["continuity_weight"] * (end[:-1, 0, :n] - y[1:, 0, :n]).pow(2).mean()
        if p.at_rest:
            terms["initial"] = s["initial_weight"] * (dxdt[:1] * self.weight).pow(2).mean()
        return terms

    @staticmethod
    def _given(z: Tensor | None) -> dict[str, Tensor]:
        """The ``algebraic`` keyword of the problem's methods: the learned algebraic unknowns, where learned."""
        return {} if z is None else {"algebraic": z}

    def train(self, out=None, resume: bool = False, callbacks=None) -> Result:
        """Fit the stretch networks and the unknown parameters to the measurements and the equations."""
        s = self.settings
        seed_everything(s["seed"])
        began = time.perf_counter()
        self.model = self.build_model()
        if s["init"] is not None:
            self.load_initial_weights(s["init"])
        self.prepare()
        with torch.no_grad():  # each stretch starts at the mean of the measured network states in it
            self.start_at_data()
        self.physics = s["data_steps"] == 0
        callbacks = list(callbacks or [])
        if not self.physics:
            def release(trainer, record):  # the end of the multi-stage start
                self.physics = self.physics or trainer.state.phase != "adam" or trainer.state.step >= s["data_steps"]
            callbacks.insert(0, release)
        if self.model.unknowns is not None:
            def track(trainer, record):  # the identified parameters after each step, in the history
                record["identified"] = self.model.unknowns.floats()
            callbacks.insert(0, track)
        if self.adaptive is not None:
            def adapt(trainer, record):  # ascent on the data weights after each Adam step; fixed after
                lam, ascent = self.adaptive
                if trainer.state.phase == "adam" and lam.grad is not None:
                    ascent.step()
                    ascent.zero_grad(set_to_none=True)
                elif trainer.state.phase != "adam":
                    lam.requires_grad_(False)
                    lam.grad = None
            callbacks.insert(0, adapt)
        setup_s = time.perf_counter() - began
        return self.fit(self.model, self.loss, out, resume, callbacks, f"{self.problem.name}/{self.name}",
                        get_extra=self._own_state, set_extra=self._set_own_state, data_s=setup_s)

    def _own_state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the solver's own state: whether the physics is on, the data weights."""
        state: dict[str, Any] = {"physics": self.physics}
        if self.adaptive is not None:
            lam, ascent = self.adaptive
            state["adaptive"] = {"weights": lam.detach().clone(), "adam": ascent.state_dict()}
        return state

    def _set_own_state(self, state: dict[str, Any]) -> None:
        self.physics = bool(state["physics"])
        if self.adaptive is not None:
            lam, ascent = self.adaptive
            with torch.no_grad():
                lam.copy_(state["adaptive"]["weights"])
            ascent.load_state_dict(state["adaptive"]["adam"])

    def load_initial_weights(self, path: str | Path) -> None:
        """Start the networks from the saved result at ``path`` (its folder or ``result.pt``; see the class
        docstring), read without running code from it (:func:`sciml.storage.read`); with ``freeze_body``, fix
        the body."""
        s, nets = self.settings, self.model.nets
        path = Path(path)
        file = path / "result.pt" if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"init: no saved result at {str(path)!r} (expected a folder with result.pt "
                                    "or the file itself)")
        saved = storage.read(file, "result", required=("spec", "model"), map_location="cpu")
        spec = saved["spec"]
        if spec.get("solver") != self.name:
            raise ValueError(f"init: {str(file)!r} is a result of solver {spec.get('solver')!r}, not {self.name!r}")
        shape = ("width", "depth", "delta", "shared_body", "algebraic")
        theirs = {key: spec["settings"].get(key, self.defaults[key]) for key in shape}
        differ = {key: (theirs[key], s[key]) for key in shape if theirs[key] != s[key]}
        if differ:
            raise ValueError(f"init: the networks saved in {str(file)!r} differ from this run's "
                             "(setting: saved, this run's): "
                             + ", ".join(f"{key} {a!r}, {b!r}" for key, (a, b) in differ.items()))
        with torch.no_grad():
            for kind in ("weights", "biases"):
                for j, mine in enumerate(getattr(nets, kind)):
                    source = saved["model"][f"nets.{kind}.{j}"]
                    if source.shape[1:] != mine.shape[1:]:
                        raise ValueError(f"init: the saved layer {j} has shape {tuple(source.shape[1:])}, this "
                                         f"run's {tuple(mine.shape[1:])}: the problems' network states differ")
                    mine.copy_(source[torch.arange(len(mine)) % len(source)])
        if s["freeze_body"]:
            for weight in nets.body():
                weight.requires_grad_(False)

    def start_at_data(self) -> None:
        """Start each stretch at the scaled network states measured in it (states that are not measured at the
        problem's own estimate, ``problem.network_guess``): on a body transferred from a saved twin
        (``init`` with ``shared_body``), its head is the ridge least-squares fit (:data:`HEAD_RIDGE`) of those
        states on the body's features (the heads are linear in them); otherwise its output bias is shifted so
        that its mean over the measurement times in it is their mean."""
        p, nets = self.problem, self.model.nets
        which = torch.searchsorted(nets.edges, self.t_data, right=True).sub(1).clamp(0, nets.count - 1)
        guess = torch.as_tensor(p.network_guess(self.t_data, self.values, self.signals), dtype=torch.float64)
        if self.settings["algebraic"]:
            guess = torch.cat([guess, p.algebraic_values(guess, self.known_data, self.params())], dim=1)
        target = guess / self.model.scale
        fit_heads = self.settings["init"] is not None and self.settings["shared_body"]
        if fit_heads:
            h, _ = self.frozen["data"] if self.frozen else nets.features(self.xi_data)
            order, rows, slot = self.where_data
            features = torch.empty(len(self.t_data), h.shape[-1], dtype=h.dtype)
            features[order] = h[rows, slot]
            features = torch.cat([features, torch.ones(len(features), 1, dtype=h.dtype)], dim=1)
        else:
            y = nets.pick(*self.outputs("data"), self.rate_data, self.where_data)[0]
        for k in range(nets.count):
            rows = which == k
            if not rows.any():
                continue
            if fit_heads:
                a = features[rows]
                ridge = HEAD_RIDGE * torch.eye(a.shape[1], dtype=a.dtype)
                fit = torch.linalg.solve(a.T @ a + ridge, a.T @ target[rows])
                nets.weights[-1][k], nets.biases[-1][k, 0] = fit[:-1], fit[-1]
            else:
                nets.biases[-1][k, 0] += (target[rows] - y[rows]).mean(0)

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """The fit of the measured signals (relative L2 of each against the measurements); for each unknown
        parameter ``rel_error_NAME``, its identified value's relative error against the value the signals were
        simulated with (``problem.true_params()`` where the problem's parameters change in time, as in a fault,
        else the problem's own); with ``baseline``, the classical fit's."""
        trained = hasattr(self, "t_data")
        if not trained:
            self.model = result.model
            self.prepare()
        n = result.model.n_states
        with torch.no_grad():
            out, _ = result.model.outputs(self.t_data)
            z = out[:, n:] if self.settings["algebraic"] else None
            fit = self.problem.measured(out[:, :n], self.known_data, self.params(), **self._given(z)).numpy()
        values = self.values.numpy()
        out: dict[str, Any] = {
            f"measurement_rel_l2_{name}": float(np.linalg.norm(fit[:, j] - values[:, j]) / np.linalg.norm(values[:, j]))
            for j, name in enumerate(self.signals)}
        truth = self.problem.true_params() if hasattr(self.problem, "true_params") else self.problem.params
        for name, value in result.identified.items():
            out[f"rel_error_{name}"] = abs(value - float(truth[name])) / abs(float(truth[name]))
        if self.adaptive is not None and trained:  # a loaded result keeps no data weights
            lam = self.adaptive[0].detach()
            out["self_adaptive_weights"] = {
                name: {"min": float(lam[:, j].min()), "median": float(lam[:, j].median()), "max": float(lam[:, j].max())}
                for j, name in enumerate(self.signals)}
        if self.settings["baseline"] and self.problem.unknowns and hasattr(self.problem, "least_squares"):
            fit = self.problem.least_squares(dict(self.problem.unknowns))
            out["baseline"] = {"method": "nonlinear least squares on the simulator (scipy.optimize.least_squares)",
                               "values": fit["values"], "rel_error": fit["rel_error"], "simulations": fit["nfev"],
                               "wall_s": fit["wall_s"]}
        return out
