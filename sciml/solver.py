"""Solver base class and the result every solver returns."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from . import registry
from .problem import Problem, relative_l2


class Solver:
    """Base of every solver: settings with defaults, merged with the problem's suggestions.

    Settings resolve as: the solver's ``defaults``, then the problem's ``solver_defaults`` (its shared
    keys the solver knows, then the dict under the solver's ``name``, if any), then the keyword
    arguments given. An unknown keyword, or an unknown key in the problem's dict for this solver, is a
    ``ValueError``.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    inverse: ClassVar[bool] = False
    """Whether this solver takes a problem's observations, unknown parameters and a choice of which
    of its conditions apply (:mod:`sciml.inverse`)."""

    def __init__(self, problem: Problem, **settings: Any):
        if not isinstance(problem, Problem):
            raise TypeError(f"a solver needs a Problem instance, got {type(problem).__name__}")
        self.require(type(problem))
        if not self.inverse and (problem.observations is not None or problem.unknowns or problem.applies != "all"):
            able = [n for n in registry.names("sciml.solvers") if registry.solver(n).inverse]
            raise ValueError(f"solver {self.name!r} does not take observations, unknown parameters or a choice of "
                             f"conditions; solvers that do: {', '.join(able) or 'none registered'}")
        own = problem.solver_defaults.get(self.name, {})
        for where, given in (("", settings), (f" in {type(problem).__name__}.solver_defaults[{self.name!r}]", own)):
            unknown = set(given) - set(self.defaults)
            if unknown:
                raise ValueError(f"unknown setting(s) {sorted(unknown)}{where} for solver {self.name!r}; "
                                 f"its settings are: {', '.join(sorted(self.defaults))}")
        shared = {k: v for k, v in problem.solver_defaults.items() if k in self.defaults}
        self.problem = problem
        self.settings = {**self.defaults, **shared, **own, **settings}

    @classmethod
    def unsuitable(cls, problem_cls: type[Problem]) -> str | None:
        """Why this solver cannot take problems of class ``problem_cls`` (None when it can)."""
        return None

    @classmethod
    def require(cls, problem_cls: type[Problem]) -> None:
        """A ``ValueError`` naming the solver, the problem, why, and the registered solvers that can
        take it, when this solver cannot."""
        reason = cls.unsuitable(problem_cls)
        if reason is not None:
            able = [name for name in registry.names("sciml.solvers")
                    if registry.solver(name).unsuitable(problem_cls) is None]
            raise ValueError(f"solver {cls.name!r} cannot solve problem {problem_cls.name!r}: {reason}; "
                             f"solvers that can: {', '.join(able) or 'none registered'}")

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> "Result":  # pragma: no cover
        raise NotImplementedError

    def run_trainer(self, trainer, model: torch.nn.Module, checkpoint: Path | None, resume: bool,
                    **timings: float) -> "Result":
        """Run ``trainer`` (a :class:`sciml.training.Trainer` over ``model``), first continuing from
        ``checkpoint`` when ``resume``, and wrap what it trained in a :class:`Result`. ``timings``
        (seconds, e.g. time spent before training) are added to the result's."""
        if resume:
            if checkpoint is None:
                raise ValueError("resume=True needs the output directory that holds the checkpoint")
            trainer.load(checkpoint)
        started = time.perf_counter()
        state = trainer.run()
        timings = {"train_s": state.wall_time, "this_session_s": time.perf_counter() - started, **timings}
        return Result(self, model, state.history, timings, self.device, state.interrupted)

    def extra_metrics(self, result: "Result") -> dict[str, Any]:
        """Figures beyond the error against the reference that this solver reports (name -> number),
        stored in metrics.json and the validation report; none by default."""
        return {}


class Result:
    """A trained model with its problem, settings, loss history and timings.

    ``predict(points)`` evaluates it at points (N, d) in the problem's input units and returns
    (N, n_out) as NumPy; ``save(dir)``/``sciml.load(dir)`` round-trip it.
    """

    def __init__(self, solver: Solver, model: torch.nn.Module, history: list[dict], timings: dict[str, float],
                 device: torch.device, interrupted: bool = False):
        self.solver = solver
        self.problem = solver.problem
        self.model = model
        self.history = history
        self.timings = timings
        self.device = device
        self.interrupted = interrupted

    @property
    def settings(self) -> dict[str, Any]:
        return self.solver.settings

    def predict(self, points: np.ndarray, batch: int = 65536) -> np.ndarray:
        """Model outputs (N, n_out) at ``points`` (N, d)."""
        points = np.asarray(points, dtype=float)
        d = len(self.problem.inputs)
        if points.ndim != 2 or points.shape[1] != d:
            raise ValueError(f"points must have shape (N, {d}) for inputs {self.problem.inputs}, "
                             f"got {points.shape}")
        dtype = next(self.model.parameters()).dtype
        outs = []
        with torch.no_grad():
            for start in range(0, len(points), batch):
                x = torch.as_tensor(points[start:start + batch], dtype=dtype, device=self.device)
                outs.append(self.model(x).double().cpu().numpy())
        return np.concatenate(outs)

    def errors(self, reference=None) -> dict[str, Any]:
        """Relative L2 error against the problem's reference, overall and by output."""
        ref = reference if reference is not None else self.problem.reference()
        cols = ref.columns(self.problem.outputs)
        pred = self.predict(ref.points)[:, cols]
        by_output = {self.problem.outputs[c]: relative_l2(pred[:, k], ref.values[:, k]) for k, c in enumerate(cols)}
        return {"rel_l2": relative_l2(pred, ref.values), "rel_l2_by_output": by_output}

    @property
    def identified(self) -> dict[str, float]:
        """The learned values of the problem's unknown parameters (name -> value; empty when none)."""
        unknowns = getattr(self.model, "unknowns", None)
        return {} if unknowns is None else unknowns.floats()

    def spec(self) -> dict[str, Any]:
        """What rebuilds this result: problem, parameters, solver, settings and, for an inverse
        problem, its unknowns (name -> initial guess), which conditions applied and a description
        of its observations (plain values only)."""
        p = self.problem
        inverse = {"unknowns": dict(p.unknowns), "conditions": p.applies,
                   "observations": None if p.observations is None else p.observations.summary()}
        return {"problem": p.name, "params": p.params, "solver": self.solver.name,
                "settings": self.solver.settings, "inverse": inverse}

    def save(self, directory: str | Path) -> Path:
        """Write ``result.pt`` (model weights, spec and identified parameters) and ``history.json``;
        returns the directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save({"spec": self.spec(), "model": self.model.state_dict(), "timings": self.timings,
                    "interrupted": self.interrupted, "identified": self.identified}, directory / "result.pt")
        (directory / "history.json").write_text(json.dumps(self.history))
        return directory


def load(directory: str | Path, device: str | None = None) -> Result:
    """Bring back a result saved by :meth:`Result.save` (or ``sciml run``), ready for ``predict``."""
    from .device import resolve_device

    path = Path(directory) / "result.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no saved result in {directory} (expected {path})")
    saved = torch.load(path, map_location="cpu", weights_only=False)
    spec = saved["spec"]
    problem = registry.problem(spec["problem"])(**spec["params"])
    inverse = spec.get("inverse") or {}
    problem.identify(list(inverse.get("unknowns", {})), inverse.get("unknowns"))
    problem.given(None, inverse.get("conditions", "all"))
    settings = dict(spec["settings"])
    dev = resolve_device(device)
    settings["device"] = str(dev)
    solver = registry.solver(spec["solver"])(problem, **settings)
    model = solver.build_model()
    model.load_state_dict(saved["model"])
    history_file = Path(directory) / "history.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    return Result(solver, model, history, saved["timings"], dev, saved["interrupted"])
