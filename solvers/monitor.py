"""Health monitoring with the PINN digital twin (Nath, Kumar, Smith & Karniadakis, arXiv 2412.11967; here our
own construction): the parameters named by ``identify`` are identified on consecutive windows of a long
measured run, each by few-shot transfer from a twin trained offline (:class:`sciml.solvers.ode_pinn.ODEPinn`
with ``freeze_body``), by an ensemble of ``members`` twins whose measurements carry independent noise draws
(``noise_seed`` + k), each window starting from the previous window's estimates.

Per window and parameter: the ensemble's mean and its interval, mean +- t s (s the members' standard
deviation, t Student's quantile at ``level`` with members - 1 degrees of freedom: the spread of single
estimates, not the narrower interval of their mean). The first ``reference_windows`` windows set the healthy
baseline (the mean of their means); a later window's drift is its mean over the baseline, less one, and it is
flagged when the drift's interval (the window's and the baseline's half-widths added in quadrature) leaves
out zero. Windows are aligned on the problem's time: a window that contains the fault time has two true values
and is left out of the drift and coverage figures.

MC dropout (the paper's second source of spread) is not used: the ensemble over data noise is the interval.

The monitored problem provides the ode-pinn interface (:data:`sciml.solvers.ode_pinn.REQUIRED`), parameters
``window_start``, ``duration``, ``noise_seed`` and ``true_params()`` (see
:class:`sciml.problems.diesel.DieselEngine`, whose ``fault`` makes the parameters drift).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sciml import storage
from sciml.odesolver import ODESolver
from sciml.solver import Result
from sciml.solvers.ode_pinn import ODEPinn, REQUIRED

WINDOW_PARAMETERS = ("window_start", "duration", "noise_seed")
"""Problem parameters the monitor sets for each window and ensemble member."""
SOURCE_SHAPE = ("width", "depth", "delta", "algebraic")
"""Network settings each window's twin takes from the offline twin it starts from."""


class DropoutTwin(ODEPinn):
    """A few-shot twin (``freeze_body``) whose transferred body drops the last hidden features where ``keep``
    (width,) is False: their incoming weights and bias are zeroed, so each is tanh(0) = 0 with a zero time
    derivative at every time, and the heads (fitted on the features, then trained) cannot use it. One dropout
    mask held for the whole fit; no rescaling of the kept features is needed, as the heads are refitted."""

    def __init__(self, problem, keep: Tensor, **settings):
        super().__init__(problem, **settings)
        self.keep = keep.to(torch.float64)

    def load_initial_weights(self, path: str | Path) -> None:
        super().load_initial_weights(path)
        nets = self.model.nets
        with torch.no_grad():
            nets.weights[-2].mul_(self.keep)
            nets.biases[-2].mul_(self.keep)


class Estimates(nn.Module):
    """The last complete window's ensemble means (what :attr:`sciml.Result.identified` reports)."""

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = list(names)
        self.register_buffer("value", torch.full((len(self.names),), math.nan, dtype=torch.float64))

    def floats(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.value)}


class MonitorModel(nn.Module):
    """One twin per window (the first ensemble member's), each answering for the times of its window:
    ``forward(points)`` takes points (M, 1 + d) of (t, initial state) in the monitored problem's time and
    returns every state (M, d)."""

    def __init__(self, twins: list[nn.Module], window: float, names: list[str]):
        super().__init__()
        self.twins = nn.ModuleList(twins)
        self.window = float(window)
        self.unknowns = Estimates(names)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        which = torch.clamp((points[:, 0] / self.window).floor().long(), 0, len(self.twins) - 1)
        out = None
        for k, twin in enumerate(self.twins):
            rows = which == k
            if rows.any():
                local = points[rows].clone()
                local[:, 0] -= k * self.window
                states = twin(local)
                if out is None:
                    out = torch.empty(len(points), states.shape[1], dtype=states.dtype)
                out[rows] = states
        return out


class TwinMonitor(ODESolver):
    """Health monitoring (see the module docstring): few-shot twins on consecutive windows, an ensemble over
    data noise per window, drift against a healthy baseline and fault flags.

    Settings: ``init`` (required) the folder of an ode-pinn result trained with ``shared_body`` on another
    run, whose body every window's twin keeps; ``window`` [s] (the problem's duration a whole number of them);
    ``members`` per window (>= 2); ``reference_windows`` (>= 1) that set the baseline; ``level`` of the
    intervals; ``dropout`` in [0, 1), the share of the body's features each member drops (see the module
    docstring); each twin's ``iterations`` Adam steps then ``lbfgs_iterations`` of ``optimizer``, at
    ``data_weight``; ``seed``, ``device`` (CPU), ``progress``.
    """

    name = "twin-monitor"
    inverse = True
    defaults: dict[str, Any] = {
        "init": None, "window": 20.0, "members": 4, "reference_windows": 2, "level": 0.95, "dropout": 0.1,
        "iterations": 200, "lbfgs_iterations": 600, "optimizer": "ssbroyden", "data_weight": 10.0, "lr": 3e-3,
        "schedule": "exponential", "seed": 0, "device": None, "checkpoint_every": 0, "checkpoint_minutes": 0.0,
        "progress": True,
    }

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        for key, least in (("members", 2), ("reference_windows", 1)):
            if isinstance(s[key], bool) or int(s[key]) != s[key] or s[key] < least:
                raise ValueError(f"{key} must be an integer >= {least}, got {s[key]!r}")
        if not (isinstance(s["window"], (int, float)) and math.isfinite(s["window"]) and s["window"] > 0):
            raise ValueError(f"window must be a positive number of seconds, got {s['window']!r}")
        if not 0 < s["level"] < 1:
            raise ValueError(f"level must be in (0, 1), got {s['level']!r}")
        if not (isinstance(s["dropout"], (int, float)) and 0 <= s["dropout"] < 1):
            raise ValueError(f"dropout must be a share of the body's features in [0, 1), got {s['dropout']!r}")
        if s["init"] is None:
            raise ValueError("twin-monitor starts every window from a twin trained offline with shared_body: give "
                             "init='FOLDER' (--init FOLDER), an ode-pinn result")
        count = problem.duration / s["window"]
        if abs(count - round(count)) > 1e-9 or round(count) <= s["reference_windows"]:
            raise ValueError(f"the problem's duration {problem.duration:g} s must be a whole number of windows of "
                             f"{s['window']:g} s, more than reference_windows = {s['reference_windows']}")
        self.count = int(round(count))

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        missing = [n for n in REQUIRED + ("true_params",) if not hasattr(problem_cls, n)]
        missing += [n for n in WINDOW_PARAMETERS if n not in getattr(problem_cls, "parameters", {})]
        if missing:
            return f"it is not a measured run that can be cut into windows (it lacks {', '.join(missing)})"
        return None

    def window_problem(self, k: int, member: int, guesses: dict[str, float]):
        """The problem of window ``k`` (its own time from 0) for ensemble member ``member``, identifying the
        unknowns from ``guesses``."""
        p, w = self.problem, self.settings["window"]
        params = {**p.params, "window_start": p.window_start + k * w, "duration": w,
                  "noise_seed": p.noise_seed + member}
        return type(p)(**params).identify(list(guesses), guesses)

    def twin_settings(self, member: int) -> dict[str, Any]:
        """Settings of each window's few-shot twin."""
        s = self.settings
        saved = storage.read(Path(s["init"]) / "result.pt", "result", required=("spec",), map_location="cpu")
        shape = {k: saved["spec"]["settings"].get(k, ODEPinn.defaults[k]) for k in SOURCE_SHAPE}
        return {**shape, "init": s["init"], "shared_body": True, "freeze_body": True, "baseline": False,
                "iterations": s["iterations"], "lbfgs_iterations": s["lbfgs_iterations"], "lr": s["lr"],
                "optimizer": s["optimizer"], "data_weight": s["data_weight"], "seed": s["seed"] + member,
                "progress": False, "checkpoint_every": 0, "checkpoint_minutes": 0.0}

    def keep(self, k: int, member: int, width: int) -> Tensor:
        """The body features (width,) that member ``member`` of window ``k`` keeps: each dropped with
        probability ``dropout``, drawn from the seed, the window and the member."""
        rng = np.random.default_rng([self.settings["seed"], k, member])
        return torch.as_tensor(rng.random(width) >= self.settings["dropout"])

    def twin(self, k: int, member: int, guesses: dict[str, float]) -> DropoutTwin:
        """Member ``member``'s few-shot twin of window ``k``, its dropout mask drawn (:meth:`keep`)."""
        settings = self.twin_settings(member)
        return DropoutTwin(self.window_problem(k, member, guesses), self.keep(k, member, settings["width"]),
                           **settings)

    def build_model(self) -> MonitorModel:
        guesses = dict(self.problem.unknowns)
        twins = [self.twin(k, 0, guesses).build_model() for k in range(self.count)]
        return MonitorModel(twins, self.settings["window"], list(guesses))

    def train(self, out=None, resume: bool = False, callbacks=None) -> Result:
        """Identify the unknowns window by window (see the module docstring); ``windows.json`` in ``out``
        holds every finished window, written after each."""
        if resume:
            raise ValueError("twin-monitor has no checkpoint to resume from: its finished windows are in windows.json")
        s, p = self.settings, self.problem
        if not p.unknowns:
            raise ValueError("twin-monitor tracks the parameters named by identify; none are given")
        began = time.perf_counter()
        model = self.build_model()
        guesses = dict(p.unknowns)
        self.windows: list[dict[str, Any]] = []
        history, interrupted = [], False
        for k in range(self.count):
            values, losses, dropped = [], [], []
            for member in range(s["members"]):
                twin = self.twin(k, member, guesses)
                dropped.append(int((twin.keep == 0).sum()))
                result = twin.train()
                if result.interrupted:
                    interrupted = True
                    break
                if member == 0:
                    model.twins[k].load_state_dict(result.model.state_dict())
                values.append([result.identified[n] for n in guesses])
                losses.append(result.history[-1]["loss"])
            if interrupted:
                break
            window = {**self.summarise(k, np.array(values), list(guesses)), "dropped": dropped}
            self.windows.append(window)
            guesses = dict(window["mean"])
            model.unknowns.value.copy_(torch.tensor([guesses[n] for n in model.unknowns.names]))
            history.append({"phase": "adam", "step": k + 1, "loss": float(np.mean(losses)), "lr": 0.0,
                            "time": time.perf_counter() - began, "identified": dict(guesses)})
            if s["progress"]:
                print(f"{p.name}/{self.name}: window {k + 1}/{self.count} "
                      + ", ".join(f"{n} {window['mean'][n]:.4g} +- {window['half_width'][n]:.2g}" for n in guesses),
                      flush=True)
            if out is not None:
                Path(out).mkdir(parents=True, exist_ok=True)
                with storage.atomic(Path(out) / "windows.json", "w") as f:
                    json.dump(self.windows, f, indent=1)
        self.flag()
        if out is not None and self.windows:
            self.figure(Path(out) / "monitor.png")
        timings = {"train_s": time.perf_counter() - began}
        return MonitorResult(self, model, history, timings, self.device, interrupted)

    def summarise(self, k: int, values: np.ndarray, names: list[str]) -> dict[str, Any]:
        """Window ``k``'s ensemble (members x parameters ``values``): mean, interval half-width, true values."""
        from scipy.stats import t as student

        p, w = self.problem, self.settings["window"]
        start = p.window_start + k * w
        half = student.ppf(0.5 + self.settings["level"] / 2, len(values) - 1) * values.std(axis=0, ddof=1)
        fault = getattr(p, "fault", "none") != "none" and start < p.fault_time < start + w
        truth = self.truth(k)
        return {"start": start, "end": start + w, "members": values.tolist(),
                "mean": dict(zip(names, values.mean(axis=0).tolist())), "half_width": dict(zip(names, half.tolist())),
                "true": {n: float(truth[n]) for n in names}, "mixed": bool(fault)}

    def truth(self, k: int) -> dict[str, Any]:
        """The parameter values in force during window ``k``: ``true_params()`` (the values at a window's end)
        of the window less a nanosecond, so that a fault at the window's end is not in it."""
        p, w = self.problem, self.settings["window"]
        return type(p)(**{**p.params, "window_start": p.window_start + k * w, "duration": w - 1e-9}).true_params()

    def flag(self) -> None:
        """Each window's drift against the baseline of the first ``reference_windows`` and its flag."""
        if len(self.windows) < self.settings["reference_windows"]:
            return
        base = self.windows[:self.settings["reference_windows"]]
        for window in self.windows:
            window["drift"], window["drift_half_width"], window["flagged"] = {}, {}, {}
            for n, mean in window["mean"].items():
                level = float(np.mean([b["mean"][n] for b in base]))
                spread = float(np.mean([b["half_width"][n] for b in base]))
                drift = mean / level - 1.0
                half = math.hypot(window["half_width"][n], spread) / level
                window["drift"][n], window["drift_half_width"][n] = drift, half
                window["flagged"][n] = bool(abs(drift) > half) and window not in base

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """``windows`` (each window's ensemble, the features each member dropped, interval, truth, drift and
        flag); ``coverage``: the share of (window, parameter) intervals that hold the true value (windows that
        contain the fault time left out); per parameter ``drift_NAME``: the mean drift of the windows after the
        fault time (or of all after the baseline without a fault) and ``true_drift_NAME`` its true value;
        ``flags_before_fault`` and ``flags_after_fault``: flagged (window, parameter) pairs among those before
        and after it, and ``windows_after_fault`` x parameters the number of pairs after it."""
        windows = getattr(self, "windows", [])
        p = self.problem
        clean = [w for w in windows if not w["mixed"]]
        names = list(p.unknowns)
        held = [abs(w["mean"][n] - w["true"][n]) <= w["half_width"][n] for w in clean for n in names]
        fault_time = p.fault_time if getattr(p, "fault", "none") != "none" else math.inf
        base = windows[:self.settings["reference_windows"]]
        after = [w for w in clean[len(base):] if w["start"] >= fault_time] if math.isfinite(fault_time) \
            else clean[len(base):]
        before = [w for w in clean[len(base):] if w["end"] <= fault_time]
        out: dict[str, Any] = {"windows": windows, "coverage": float(np.mean(held)) if held else None}
        healthy = {n: float(np.mean([b["true"][n] for b in base])) for n in names} if base else {}
        for n in names:
            out[f"drift_{n}"] = float(np.mean([w["drift"][n] for w in after])) if after and "drift" in after[0] else None
            out[f"true_drift_{n}"] = float(np.mean([w["true"][n] / healthy[n] - 1 for w in after])) if after else None
        out["flags_before_fault"] = sum(w["flagged"][n] for w in before for n in names if "flagged" in w)
        out["flags_after_fault"] = sum(w["flagged"][n] for w in after for n in names if "flagged" in w)
        out["windows_after_fault"] = len(after) if math.isfinite(fault_time) else 0
        return out

    def figure(self, path: Path) -> Path:
        """``monitor.png``: each tracked parameter over time, the window means with their intervals (red where
        flagged), the true value, the baseline and the fault time."""
        from sciml.plotting import save_figure, subplots

        p, names = self.problem, list(self.problem.unknowns)
        fig, axes = subplots(1, len(names), figsize=(5.5 * len(names), 3.8), squeeze=False)
        for ax, n in zip(axes[0], names):
            mid = [(w["start"] + w["end"]) / 2 for w in self.windows]
            for w, x in zip(self.windows, mid):
                bad = w.get("flagged", {}).get(n, False)
                ax.errorbar(x, w["mean"][n], yerr=w["half_width"][n], fmt="o", color="C3" if bad else "C0", capsize=3)
            edges = [w["start"] for w in self.windows] + [self.windows[-1]["end"]]
            ax.stairs([w["true"][n] for w in self.windows], edges, baseline=None, color="k", label="true")
            base = self.windows[:self.settings["reference_windows"]]
            ax.axhline(np.mean([b["mean"][n] for b in base]), color="C2", ls=":", label="baseline")
            if getattr(p, "fault", "none") != "none":
                ax.axvline(p.fault_time, color="C3", ls="--", label=f"fault at {p.fault_time:g} s")
            ax.set_xlabel("time [s]")
            ax.set_ylabel(f"{n} [{p.parameters[n].unit}]")
            ax.set_title(f"{n}: ensemble mean, {self.settings['level']:.0%} interval (red: flagged)")
            ax.legend(fontsize=8)
        return save_figure(fig, path)


class MonitorResult(Result):
    """A monitor's result: its figure of the parameters over time beside the standard ones."""

    def own_figures(self) -> list[str]:
        return ["monitor.png"] if getattr(self.solver, "windows", None) else []
