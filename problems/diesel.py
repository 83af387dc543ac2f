"""A heavy-duty diesel engine with VGT and EGR: the mean-value engine model of Wahlström & Eriksson (2011,
Proc. IMechE Part D 225(7):960-986) as an ODE problem, its commands known functions of time.

States (p_im, p_em, X_Oim, X_Oem, omega_t, ut_egr1, ut_egr2, ut_vgt): manifold pressures [Pa], oxygen mass
fractions [-], turbocharger speed [rad/s], actuator states [%]. Commands: fuel u_delta [mg/cycle], EGR valve
u_egr [%], VGT u_vgt [%] and engine speed n_e [rpm], by scenario:

- ``constant``: the operating point --u-delta, --u-egr, --u-vgt, --n-e held;
- ``step``: that operating point, then --step-input stepped to --step-value at --step-time;
- ``random`` (default): all four commands drawn anew every --hold seconds (by --command-seed) in
  :data:`sciml.classical.diesel.RANDOM_RANGES`;
- ``csv``: a user's own commands, a CSV file (--csv) with columns t, u_delta, u_egr, u_vgt, n_e, linear
  between rows.

The engine starts at absolute time 0 from the steady state of the commands at time 0. A problem covers the
time window [--window-start, --window-start + --duration] of its scenario, in its own time t = absolute time
- window_start: the engine runs unobserved through the earlier part, and the window starts from the state
simulated there (from the steady state itself when window_start is 0, the default).

Health monitoring: ``--fault vgt-egr`` fouls the VGT and clogs the EGR valve from absolute time --fault-time
on (:data:`FAULTS`); the simulated engine uses the problem's parameter values (the healthy ones) before it and
the faulty ones after, continuing from the state at the fault time. :meth:`DieselEngine.true_params` gives
the values in force at the end of the window.

The equations, the parameter values (each a flag with its unit) and the reference simulator (SciPy LSODA,
actuator delays and the model's saturations) are in :mod:`sciml.classical.diesel`.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np
import torch

from sciml.classical import diesel
from sciml.odeproblem import REFERENCE_SEED, ODEProblem, trajectory_points
from sciml.problem import Parameter, Problem, Reference

POSITIVE = {"c_pa", "c_pe", "c_va", "R_a", "R_e", "gamma_a", "gamma_e", "T_amb", "p_amb", "V_im", "T_im", "V_em",
            "r_c", "V_d", "q_HV", "AFs", "n_cyl", "X_Oc", "T_w", "d_pipe", "l_pipe", "n_pipe", "eta_sc", "A_egrmax",
            "K_egr", "tau_egr1", "tau_egr2", "A_vgtmax", "K_t", "c_vgt1", "tau_vgt", "R_t", "eta_tmmax", "J_t",
            "R_c", "eta_cmax"}
"""Model parameters that must be > 0; the time delays and h_tot must be >= 0; the others (fitted coefficients
of the empirical maps) take any value."""
NON_NEGATIVE = {"tau_degr", "tau_dvgt", "h_tot", "x_cv"}
FAULTS = {"vgt-egr": {"A_vgtmax": 0.9, "A_egrmax": 0.8}}
"""The fault scenarios of ``--fault``: name -> factors (model parameter -> factor) applied to the problem's
(healthy) parameter values from ``fault_time`` on. ``vgt-egr``: VGT fouling (A_vgtmax 10 % lower) and EGR
clogging (A_egrmax 20 % lower), issue 15's health-monitoring case."""


def _model_parameter(name: str) -> Parameter:
    value, unit, doc = diesel.PARAMETERS[name]
    if name in POSITIVE:
        return Parameter(value, unit=unit, doc=doc, minimum=0, exclusive_minimum=True)
    return Parameter(value, unit=unit, doc=doc, minimum=0 if name in NON_NEGATIVE else None)


def _command(name: str, default: float, doc: str) -> Parameter:
    lo, hi, unit = diesel.COMMAND_RANGES[name]
    return Parameter(default, unit=unit, doc=doc, minimum=lo, maximum=hi)


def _float(value) -> float:
    """A parameter's value as a float (a trainable tensor's current value)."""
    return float(value.detach()) if torch.is_tensor(value) else float(value)


class DieselEngine(ODEProblem):
    name = "diesel-engine"
    description = ("diesel engine with VGT and EGR (Wahlström & Eriksson 2011 mean-value model), known commands "
                   "(constant, step, random transient or CSV); SciPy LSODA reference")
    state = diesel.STATES
    units = {"t": "s", **diesel.STATE_UNITS, **{f"{s}0": u for s, u in diesel.STATE_UNITS.items()}}
    autonomous = False
    n_reference = 1
    sample_rate = 10.0
    """Reference output times per second [Hz]."""
    parameters = {
        "scenario": Parameter("random", doc="how the commands evolve", choices=("random", "constant", "step", "csv")),
        "u_delta": _command("u_delta", 110.0, "fuel injected per cycle (constant/step scenarios)"),
        "u_egr": _command("u_egr", 80.0, "EGR valve position command (constant/step scenarios)"),
        "u_vgt": _command("u_vgt", 75.0, "VGT position command (constant/step scenarios)"),
        "n_e": _command("n_e", 1500.0, "engine speed (constant/step scenarios)"),
        "step_input": Parameter("u_vgt", doc="the command stepped (step scenario)", choices=diesel.COMMANDS),
        "step_value": Parameter(65.0, unit="command's unit", doc="value of the stepped command after the step"),
        "step_time": Parameter(1.0, unit="s", doc="time of the step", minimum=0.0),
        "hold": Parameter(4.0, unit="s", doc="time between changes of the random commands", minimum=0.0,
                          exclusive_minimum=True),
        "command_seed": Parameter(0, doc="seed of the random commands"),
        "csv": Parameter("", unit="path", doc="CSV file of commands with columns t, u_delta, u_egr, u_vgt, n_e "
                         "(csv scenario)"),
        "duration": Parameter(60.0, unit="s", doc="length of the time window (csv scenario: from window_start to "
                              "the file's last time unless given)", minimum=0.0, exclusive_minimum=True),
        "window_start": Parameter(0.0, unit="s", doc="absolute time where the window starts: the engine runs "
                                  "unobserved from its steady state at time 0 until then", minimum=0.0),
        "fault": Parameter("none", doc="fault scenario: vgt-egr lowers A_vgtmax by 10 % and A_egrmax by 20 % from "
                           "fault_time on", choices=("none",) + tuple(FAULTS)),
        "fault_time": Parameter(30.0, unit="s", doc="absolute time from which the fault is in force", minimum=0.0),
        "sensor_noise": Parameter(0.0, unit="1", doc="relative Gaussian noise of each measured sample (0.01: 1 %)",
                                  minimum=0.0),
        "noise_seed": Parameter(1, doc="seed of the measurement noise"),
        "actuators": Parameter("exact", unit="path", doc="the actuator states the twin takes as known: exact (their "
                               "closed form from the held commands) or the folder of a trained `sciml run "
                               "diesel-actuators --solver deeponet`, whose operator predicts them from the commands"),
        **{name: _model_parameter(name) for name in diesel.PARAMETERS},
    }
    default_solver = "ode-pinn"
    network_states = ("p_im", "p_em", "X_Oim", "X_Oem", "omega_t")
    """States the twin's networks represent (:mod:`sciml.solvers.ode_pinn`); the actuator states are known
    exactly from the commands."""
    network_scale = tuple(diesel.STATE_SCALE[[diesel.STATES.index(n) for n in network_states]])
    network_time_scales = (0.03, 0.03, 0.1, 0.1, 1.0)
    """Weights [s] of the twin's residuals, one per network state: about the pressures' own time constants
    (1 / |df/dx| along a transient: 0.03 s), the oxygen fractions' (0.1 s), and 1 s for the turbo speed,
    whose response to the exhaust's energy is slower than its own 0.14 s."""
    algebraic_states = ("x_r", "T_1")
    """The implicit unknowns of the exhaust temperature, (24) of the model, that a twin with ``algebraic`` learns
    as outputs with their own residual (:func:`sciml.classical.diesel.signals`); by default they are solved by
    fixed point at every evaluation, which the transfer and operator-infused cases need (README)."""
    algebraic_scale = (0.03, 300.0)
    """Typical sizes of x_r [1] and T_1 [K] along a transient (x_r 0.016-0.040 and T_1 307-323 K on a
    60 s random one): each output's scale, and what its residual is divided by."""

    def __init__(self, **params):
        super().__init__(**params)
        if self.scenario == "csv":
            if not self.csv:
                raise ValueError("the csv scenario needs a commands file: give csv='FILE' (--csv FILE)")
            self.commands = diesel.Commands.read_csv(self.csv)
            if self.commands.times[0] < 0:
                raise ValueError(f"commands file {self.csv!r} starts at t = {self.commands.times[0]:g} s; trajectories "
                                 "start at t = 0 s, so its times must be >= 0")
            if "duration" not in params:
                last = float(self.commands.times[-1])
                if self.window_start >= last:
                    raise ValueError(f"window_start = {self.window_start:g} s is not before the last time {last:g} s "
                                     f"of commands file {self.csv!r}: give a later file or the duration")
                self.duration = self.params["duration"] = last - self.window_start
        elif self.scenario == "random":
            self.commands = diesel.Commands.random(self.command_seed, self.window_start + self.duration, self.hold)
        else:
            start = {c: self.params[c] for c in diesel.COMMANDS}
            self.commands = (diesel.Commands.constant(**start) if self.scenario == "constant" else
                             diesel.Commands.step(start, self.step_input, self.step_value, self.step_time))
        self.horizon = self.duration
        self.n_times = int(round(self.duration * self.sample_rate)) + 1

    @property
    def model_params(self) -> dict:
        """The engine model's parameters (name -> value): the healthy engine's."""
        return {name: self.params[name] for name in diesel.PARAMETERS}

    @property
    def at_rest(self) -> bool:
        """Whether trajectories start from a steady state: only a window at the start (window_start 0)."""
        return self.window_start == 0

    def params_at(self, when) -> dict:
        """The model parameters (name -> value) in force at absolute times ``when`` [s] (a float or an array
        (T,)): the problem's values, times the fault's factors (:data:`FAULTS`) at times >= fault_time; a
        faulty parameter is an array (T,) when ``when`` is one."""
        p = self.model_params
        if self.fault == "none":
            return p
        faulty = np.asarray(when, dtype=float) >= self.fault_time
        for name, factor in FAULTS[self.fault].items():
            value = p[name] * np.where(faulty, factor, 1.0)
            p[name] = float(value) if value.ndim == 0 else value
        return p

    def true_params(self) -> dict:
        """The model parameters (name -> value) in force at the end of this problem's window (absolute time
        window_start + duration): the faulty values when the fault has happened by then, else the problem's
        own. A window that contains the fault time has the healthy values before it: these are the values a
        solver's identified parameters are compared with."""
        return self.params_at(self.window_start + self.duration)

    def _simulate(self, when: np.ndarray, x0: np.ndarray) -> np.ndarray:
        """States (T, 8) at the increasing absolute times ``when`` (T,) [s] from ``x0`` (8,) at when[0], with
        the parameters in force (:meth:`params_at`): across the fault time, the healthy run is restarted there
        with the faulty parameters from its state. The healthy run goes on to the end of the integrator's
        stretch that holds the fault time (the next breakpoint of the commands), so that its steps before the
        fault time are those of a run without the fault."""
        fault = self.fault_time if self.fault != "none" else math.inf
        if not when[0] < fault < when[-1]:
            return diesel.simulate(self.commands, when, self.params_at(when[0]), x0=x0)
        healthy = self.model_params
        cuts = self.commands.breakpoints(healthy)
        before, after = when[when < fault], when[when >= fault]
        end = cuts[cuts > fault].min(initial=when[-1])
        head = diesel.simulate(self.commands, np.concatenate([before, [fault, end]]), healthy, x0=x0)
        tail = diesel.simulate(self.commands, np.union1d([fault], after), self.params_at(fault), x0=head[len(before)])
        return np.concatenate([head[:len(before)], tail[-len(after):]])

    @cached_property
    def initial_state(self) -> np.ndarray:
        """The state (8,) at the start of the window, where every trajectory starts: the steady state of the
        commands at time 0 when window_start is 0, else the state simulated from it at window_start."""
        start = diesel.steady_state(self.commands(0.0), self.params_at(0.0))
        if not self.window_start:
            return start
        return self._simulate(np.array([0.0, self.window_start]), start)[-1]

    def rhs(self, t, x, u=None, params=None):
        """dx/dt (N, 8) at states ``x`` (N, 8) and window time ``t`` [s] (a scalar or (N,)), the commands (with
        the actuators' delays) of this problem's scenario and the parameters in force then (:meth:`params_at`);
        ``params`` overrides model parameters (tensors allowed)."""
        when = np.asarray(t.detach().cpu() if torch.is_tensor(t) else t, dtype=float) + self.window_start
        column = lambda values: torch.as_tensor(values, dtype=x.dtype, device=x.device).expand(x.shape[:-1])
        p = {name: column(v) if isinstance(v, np.ndarray) else v for name, v in self.params_at(when).items()}
        p.update(params or {})
        now = self.commands(when)
        u_delta, n_e = column(now[..., 0]), column(now[..., 3])
        u_egr = column(self.commands(when - _float(p["tau_degr"]))[..., 1])
        u_vgt = column(self.commands(when - _float(p["tau_dvgt"]))[..., 2])
        return torch.stack(diesel.derivatives(p, x.unbind(-1), u_delta, n_e, u_egr, u_vgt), dim=-1)

    # -- the digital twin's view (sciml.solvers.ode_pinn) ---------------------------------------------
    def breakpoints(self) -> np.ndarray:
        """Window times [s] in (0, duration) where the commands jump (the fuel and engine speed enter dx/dt
        directly)."""
        t = self.commands.times - self.window_start
        return t[(t > 0) & (t < self.duration)]

    def known(self, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """Fuel u_delta [mg/cycle], engine speed n_e [rpm] and the actuator states ut_egr1, ut_egr2, ut_vgt [%]
        (exact, or the trained operator's of ``actuators``) at window times ``t`` (N,) [s], as float64 tensors
        (N,)."""
        if not self.commands.hold:
            raise ValueError(f"the twin needs the actuator states exactly, which needs held commands; the "
                             f"{self.scenario} scenario's commands are interpolated between rows")
        when = np.asarray(t.detach().cpu(), dtype=float) + self.window_start
        now = self.commands(when)
        if self.actuators == "exact":
            act = diesel.actuators(self.commands, when, self.model_params)
        else:
            operator = self.actuator_operator
            act = operator.predict(operator.problem.operator_points(self.commands, when))
        columns = {"u_delta": now[:, 0], "n_e": now[:, 3], **{n: act[:, k] for k, n in enumerate(diesel.ACTUATORS)}}
        return {n: torch.as_tensor(v, dtype=torch.float64) for n, v in columns.items()}

    @cached_property
    def actuator_operator(self):
        """The trained actuator operator of ``actuators`` (a :class:`sciml.solver.Result` of the diesel-actuators
        problem), loaded once; its actuator time constants and delays must be this engine's."""
        from sciml.solver import load

        result = load(self.actuators, device="cpu")
        if not isinstance(result.problem, DieselActuators):
            raise ValueError(f"actuators={self.actuators!r} holds a {result.problem.name} result; the twin needs a "
                             "trained `sciml run diesel-actuators --solver deeponet`")
        differ = {n: (result.problem.params[n], self.params[n]) for n in DieselActuators.TIMES
                  if result.problem.params[n] != self.params[n]}
        if differ:
            raise ValueError(f"the actuator operator in {self.actuators!r} was trained for other actuator time "
                             "constants or delays than this engine's: "
                             + ", ".join(f"{n} = {a!r} s there, {b!r} s here" for n, (a, b) in differ.items()))
        return result

    def _signals(self, x, known, params, algebraic=None):
        p_im, p_em, _, _, omega_t = x.unbind(-1)
        return diesel.signals(params, p_im, p_em, omega_t, known["ut_egr1"], known["ut_egr2"], known["ut_vgt"],
                              known["u_delta"], known["n_e"], None if algebraic is None else algebraic.unbind(-1))

    def network_derivative(self, x, known, params, algebraic=None):
        """d/dt (N, 5) of the network states x (N, 5) (p_im, p_em, X_Oim, X_Oem, omega_t) given ``known``.
        The oxygen fractions' rates see the other states and the parameters detached: nothing depends on the
        unmeasured fractions, so their residuals must not move what the measurements determine.

        With ``algebraic`` (N, 2), the twin's x_r and T_1 (:attr:`algebraic_states`): the rates at those
        values, and what one pass of (24) makes of them (N, 2), as a pair."""
        s = self._signals(x, known, params, algebraic)
        p_im, p_em, xo_im, xo_em, omega_t = x.unbind(-1)
        d_im, d_em, d_w = diesel.gas_rates(params, s, omega_t)
        fixed = lambda table: {k: v.detach() if torch.is_tensor(v) else v for k, v in table.items()}
        d_xim, d_xem = diesel.oxygen_rates(fixed(params), fixed(s), p_im.detach(), p_em.detach(), xo_im, xo_em)
        rates = torch.stack([d_im, d_em, d_xim, d_xem, d_w], dim=-1)
        return rates if algebraic is None else (rates, torch.stack([s["x_r"], s["T_1"]], dim=-1))

    def measured(self, x, known, params, algebraic=None) -> torch.Tensor:
        """The measured signals (N, 4) of :data:`sciml.classical.diesel.MEASURED` from network states (N, 5)
        (and the twin's x_r and T_1 (N, 2), ``algebraic``, where it learns them)."""
        return torch.stack([x[:, 0], x[:, 1], x[:, 4], self._signals(x, known, params, algebraic)["W_egr"]], dim=-1)

    def algebraic_values(self, x, known, params) -> torch.Tensor:
        """x_r and T_1 (N, 2) solved by fixed point at network states x (N, 5): where a twin that learns them
        starts."""
        s = self._signals(x, known, params)
        return torch.stack([s["x_r"], s["T_1"]], dim=-1)

    def measurements(self) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """What the engine's sensors record: window times (T,) [s] at ``sample_rate`` over [0, duration], the
        signals (T, 4) of :data:`sciml.classical.diesel.MEASURED` simulated at the absolute times (window_start
        + t) with the parameters in force (:meth:`params_at`), each sample times (1 + sensor_noise e), e
        standard Gaussian (seed ``noise_seed``, drawn for this window), and the signals' names."""
        t = np.arange(0.0, self.duration + 0.5 / self.sample_rate, 1.0 / self.sample_rate)
        when = t + self.window_start
        x = self._simulate(when, self.initial_state)
        values = diesel.measured_signals(x, self.commands, when, self.params_at(when))
        return t, diesel.add_noise(values, self.sensor_noise, self.noise_seed), diesel.MEASURED

    def network_guess(self, t, values, signals) -> np.ndarray:
        """A first guess (T, 5) of the network states at the measurement times: the measured pressures and
        turbo speed, air's oxygen fraction in the intake and 0.1 in the exhaust."""
        values = np.asarray(values)
        column = lambda name: values[:, list(signals).index(name)]
        oxygen = np.full(len(values), self.params["X_Oc"])
        return np.stack([column("p_im"), column("p_em"), oxygen, np.full(len(values), 0.1), column("omega_t")], axis=1)

    def full_state(self, x, known) -> torch.Tensor:
        """All 8 states (N, 8) in :data:`sciml.classical.diesel.STATES` order from the network states (N, 5)."""
        return torch.cat([x, torch.stack([known[n].to(x.dtype) for n in diesel.ACTUATORS], dim=-1)], dim=-1)

    def metrics(self, predict) -> dict[str, float]:
        """``rel_l2_p_im``, ``rel_l2_p_em``, ``rel_l2_omega_t``: the relative L2 error of each measured state
        over the reference trajectory (the overall rel_l2 mixes pressures in Pa with fractions)."""
        from sciml.problem import relative_l2

        ref = self.reference()
        pred = predict(ref.points)
        columns = {name: diesel.STATES.index(name) for name in ("p_im", "p_em", "omega_t")}
        return {f"rel_l2_{name}": relative_l2(pred[:, k], ref.values[:, k]) for name, k in columns.items()}

    def least_squares(self, initial_guess: dict[str, float]) -> dict[str, Any]:
        """The classical baseline on this problem's measurements: nonlinear least squares on the simulator
        (:func:`sciml.classical.diesel.identify_least_squares`) from ``initial_guess``, the other parameters at
        :meth:`true_params`, every trial trajectory from the steady state at the trial parameters when
        :attr:`at_rest`, else from the window's initial state; returns its values, relative errors against
        :meth:`true_params`, simulations and wall time [s]."""
        t, values, _ = self.measurements()
        truth = self.true_params()
        fit = diesel.identify_least_squares(self.commands, t + self.window_start, values, initial_guess, truth,
                                            x0=None if self.at_rest else self.initial_state)
        fit["rel_error"] = {n: abs(v - truth[n]) / abs(truth[n]) for n, v in fit["values"].items()}
        return fit

    def sample_states(self, n, generator):
        """States (n, 8) around the window's initial state: pressures and turbo speed within ±10 %, oxygen
        fractions within ±0.02, actuator states within ±10 percentage points (clipped to [0, 100] %)."""
        x0 = torch.as_tensor(self.initial_state)
        r = torch.rand(n, len(self.state), generator=generator, dtype=torch.float64) * 2 - 1
        relative = torch.tensor([0.1, 0.1, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0], dtype=torch.float64)
        absolute = torch.tensor([0.0, 0.0, 0.02, 0.02, 0.0, 10.0, 10.0, 10.0], dtype=torch.float64)
        x = x0 * (1 + relative * r) + absolute * r
        x[:, 5:] = x[:, 5:].clamp(0.0, 100.0)
        return x

    def held_out(self, n=None):
        """The window's initial state, ``n`` times (n, 8)."""
        return torch.as_tensor(self.initial_state).repeat(n or self.n_reference, 1)

    def features(self, x):
        """The states scaled to order one: by :data:`sciml.classical.diesel.STATE_SCALE`."""
        return x / torch.as_tensor(diesel.STATE_SCALE, dtype=x.dtype)

    def trajectories(self, x0, t):
        """Trajectories (T, N, 8) from ``x0`` (N, 8) at window times ``t`` (T,) [s] by the reference simulator,
        with the parameters in force (:meth:`params_at`)."""
        when = np.asarray(torch.as_tensor(t).detach().cpu(), dtype=float) + self.window_start
        runs = [self._simulate(when, row) for row in np.asarray(x0, dtype=float)]
        return torch.as_tensor(np.stack(runs, axis=1))

    def reference(self):
        t = self.reference_times()
        x0 = self.initial_state
        x = self._simulate(t + self.window_start, x0)
        start = "the steady state at t = 0" if self.at_rest else f"the state at absolute time {self.window_start:g} s"
        fault = (f", fault {self.fault} from absolute time {self.fault_time:g} s" if self.fault != "none" else "")
        return Reference(trajectory_points(x0[None], t), x,
                         f"SciPy LSODA (rtol 1e-8) from {start}, {self.commands.source}{fault}, "
                         f"t in [0, {self.duration:g}] s")


class DieselActuators(Problem):
    """The engine's EGR and VGT actuators alone: their states as functions of time and of the held
    commands, for operator learning (the command history in, the actuator trajectories out)."""

    name = "diesel-actuators"
    description = ("the diesel engine's EGR and VGT actuators (delayed first-order lags, exact solution) under "
                   "random held commands: operator learning from command histories to actuator states")
    outputs = diesel.ACTUATORS
    time = "t"
    default_solver = "deeponet"
    n_reference = 100
    """Held-out command sequences of the reference."""
    n_times = 201
    """Reference times per sequence, evenly spaced over [0, duration]."""
    TIMES = ("tau_egr1", "tau_egr2", "tau_degr", "tau_vgt", "tau_dvgt")
    """The actuators' time constants and delays [s]: the parameters the operator is learned for."""
    parameters = {
        "duration": Parameter(2.0, unit="s", doc="length of each command sequence", minimum=0.0,
                              exclusive_minimum=True),
        "hold": Parameter(0.25, unit="s", doc="time each command value is held", minimum=0.0, exclusive_minimum=True),
        **{name: _model_parameter(name) for name in TIMES},
    }

    def __init__(self, **params):
        super().__init__(**params)
        self.pieces = int(math.ceil(self.duration / self.hold - 1e-9))
        self.inputs = ("t",) + tuple(f"{c}_{k}" for c in ("u_egr", "u_vgt") for k in range(1, self.pieces + 1))
        self.units = {"t": "s", **{name: "%" for name in self.inputs[1:] + self.outputs}}

    def commands(self, row) -> diesel.Commands:
        """The held commands of one row (2K,) of command values (u_egr_1..K, then u_vgt_1..K) [%]; fuel and
        engine speed, which the actuators do not see, at the README's operating point."""
        row = np.asarray(row, dtype=float)
        values = np.zeros((self.pieces, len(diesel.COMMANDS)))
        values[:, 0], values[:, 3] = 110.0, 1500.0
        values[:, 1], values[:, 2] = row[:self.pieces], row[self.pieces:]
        return diesel.Commands(np.arange(self.pieces) * self.hold, values, source=f"{self.name} commands")

    @property
    def horizon(self) -> float:
        """Trajectories cover t in [0, horizon] [s]: the duration."""
        return self.duration

    def sample_inputs(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` command sequences (n, 2K) float64, every held value uniform in its physical range: u_egr in
        [0, 100] %, u_vgt in [20, 100] %. The values are the commands sampled at the fixed sensor times
        0, hold, ..., (K - 1) hold (the operator's input for :mod:`sciml.solvers.deeponet`)."""
        lo, hi = (torch.tensor([diesel.COMMAND_RANGES[c][i] for c in ("u_egr", "u_vgt")], dtype=torch.float64)
                  .repeat_interleave(self.pieces) for i in (0, 1))
        return lo + (hi - lo) * torch.rand(n, 2 * self.pieces, generator=generator, dtype=torch.float64)

    def solution(self, commands, t) -> np.ndarray:
        """The exact actuator states (n, T, 3) for command sequences (n, 2K) at times ``t`` (T,) [s]."""
        params = {name: self.params[name] for name in self.TIMES}
        return np.stack([diesel.actuators(self.commands(row), t, params) for row in np.asarray(commands)])

    def operator_points(self, commands: diesel.Commands, when) -> np.ndarray:
        """Points (T, 1 + 2K) of this problem's inputs at which the operator gives the actuator states under
        the held engine ``commands`` at absolute times ``when`` (T,) [s].

        The operator knows command histories of ``duration`` seconds, held on its grid of ``hold`` seconds, from
        the steady state of their first values. Each time is therefore seen through a window that puts the
        last command change J before it on a grid time, as many holds after the window's start as the window
        leaves room for: the window starts at J - m hold and the point's time is t - J + m hold <= duration.
        When the change is more than duration - hold ago (m = 0), the window starts at J from the steady state
        of the new commands: the actuators' time constants and delays (about 0.2 s together) have taken the
        error that makes to ~1e-6 of the step by then. With no change in the last ``duration`` seconds, the
        window holds the present commands. The commands must change at most once per ``duration`` seconds
        (a ValueError otherwise): a window would hold two changes off its grid."""
        when = np.asarray(when, dtype=float).reshape(-1)
        if not commands.hold:
            raise ValueError("the actuator operator needs held commands (hold=True), not interpolated ones")
        changes = commands.times[1:]
        close = np.flatnonzero(np.diff(changes) < self.duration)
        if close.size:
            a, b = changes[close[0]], changes[close[0] + 1]
            raise ValueError(f"{commands.source} change at t = {a:g} s and {b:g} s, less than the actuator operator's "
                             f"window of {self.duration:g} s apart; it sees one change per window (use the exact "
                             "actuator states instead)")
        k = np.searchsorted(changes, when, side="right") - 1          # the last change at or before each time
        since = np.where(k >= 0, when - changes[np.clip(k, 0, None)], np.inf)
        m = np.clip(np.floor((self.duration - since) / self.hold + 1e-9), 0, self.pieces - 1)
        recent = since < self.duration
        start = np.where(recent, when - since - m * self.hold, when - self.duration)
        # each piece's value, read at its middle (its start may round to just before a change)
        u = commands(start[:, None] + self.hold * (np.arange(self.pieces) + 0.5))   # (T, K, 4)
        egr, vgt = (diesel.COMMANDS.index(c) for c in ("u_egr", "u_vgt"))
        return np.concatenate([(when - start)[:, None], u[..., egr], u[..., vgt]], axis=1)

    def held_out(self) -> np.ndarray:
        """The reference's command sequences (n_reference, 2K), by a fixed seed never used for training."""
        return self.sample_inputs(self.n_reference, torch.Generator().manual_seed(REFERENCE_SEED)).numpy()

    def reference(self):
        commands = self.held_out()
        t = np.linspace(0.0, self.duration, self.n_times)
        return Reference(trajectory_points(commands, t), self.solution(commands, t).reshape(-1, len(self.outputs)),
                         f"exact delayed first-order responses, {self.n_reference} held-out command sequences "
                         f"(seed {REFERENCE_SEED}) held {self.hold:g} s, t in [0, {self.duration:g}] s")

    def plot(self, reference: Reference, prediction: np.ndarray, path, title: str = "", n_show: int = 3):
        """Predicted (dashed) against exact (solid) actuator trajectories of the first ``n_show`` held-out
        command sequences, one row each, the held commands drawn as thin steps: EGR (u_egr, ut_egr1,
        ut_egr2) on the left, VGT (u_vgt, ut_vgt) on the right; each row's title gives its relative L2."""
        from sciml.plotting import save_figure, subplots
        from sciml.problem import relative_l2

        t = reference.points[:self.n_times, 0]            # points are sequence-major (trajectory_points)
        ref = reference.values.reshape(-1, self.n_times, len(self.outputs))
        pred = np.asarray(prediction).reshape(ref.shape)
        rows = min(n_show, len(ref))
        fig, axes = subplots(rows, 2, figsize=(11.0, 2.8 * rows), squeeze=False)
        for j in range(rows):
            u = reference.points[j * self.n_times:(j + 1) * self.n_times, 1:]
            commands = self.commands(u[0])(t)
            for ax, command, states in ((axes[j, 0], "u_egr", (0, 1)), (axes[j, 1], "u_vgt", (2,))):
                ax.step(t, commands[:, diesel.COMMANDS.index(command)], where="post", color="0.6", lw=0.8,
                        label=f"{command} (command)")
                for k in states:
                    name = self.outputs[k]
                    ax.plot(t, ref[j, :, k], color=f"C{k}", lw=2.0, alpha=0.5, label=f"{name} exact")
                    ax.plot(t, pred[j, :, k], color=f"C{k}", ls="--", lw=1.2, label=f"{name} predicted")
                ax.set_xlabel("t [s]")
                ax.set_ylabel("position [%]")
                ax.set_title(f"held-out sequence {j}: rel. L2 {relative_l2(pred[j][:, states], ref[j][:, states]):.2e}",
                             fontsize=9)
                if j == 0:
                    ax.legend(fontsize=7, ncol=2)
        if title:
            fig.suptitle(title)
        return save_figure(fig, path)
