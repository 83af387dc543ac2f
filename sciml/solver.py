"""Solver base class and the result every solver returns."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from . import registry, storage
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

    def own_metrics(self) -> dict[str, Any]:
        """Figures of merit the solver measured while solving (name -> number), e.g. the peak of a
        load-displacement curve traced by load stepping, put beside the problem's own metrics in
        metrics.json; none by default."""
        return {}

    def own_figures(self) -> list[str]:
        """File names of the figures the solver wrote into the run folder itself (e.g. a
        load-displacement curve), listed beside the problem's in metrics.json's ``extra_figures``;
        none by default."""
        return []

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
        """Write ``result.pt`` (the model's weights, the problem's and solver's registered names,
        parameters and settings, identified parameters, timings; tensors and plain values only, see
        :mod:`sciml.storage`) and ``history.json``, each atomically; returns the directory."""
        directory = Path(directory)
        storage.write(directory / "result.pt", {"spec": self.spec(), "model": self.model.state_dict(),
                                                "timings": self.timings, "interrupted": self.interrupted,
                                                "identified": self.identified}, "result")
        with storage.atomic(directory / "history.json", "w") as f:
            json.dump(self.history, f)
        return directory


def load(directory: str | Path, device: str | None = None, trusted: bool = False) -> Result:
    """Bring back a result saved by :meth:`Result.save` (or ``sciml run``), ready for ``predict``.

    Loading runs no code from the folder: ``result.pt`` is read with ``torch.load(...,
    weights_only=True)``, which builds tensors and plain values only, and the problem and solver are
    rebuilt from their registered names and recorded parameters and settings. A file that holds
    anything else, is damaged, names a problem or solver not registered here, or was written by a
    newer sciml is a :class:`sciml.storage.SavedFileError` (a ``ValueError``) naming the file.

    ``trusted=True`` (off by default) unpickles ``result.pt`` whatever it holds, which runs any code
    the file carries: use it only on files whose writer you trust, such as results of a sciml older
    than file format 1 whose settings held Python objects; ``load(folder, trusted=True).save(folder)``
    converts one to the safe format once. ``device`` chooses where the model lives (default: CUDA if
    present).
    """
    from .device import resolve_device

    folder = Path(directory)
    path = folder / "result.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no saved result in {directory} (expected {path})")
    saved = storage.read(path, "result", required=("spec", "model"), map_location="cpu", trusted=trusted)
    spec = saved["spec"]
    try:
        problem_name, solver_name = spec["problem"], spec["solver"]
        params, settings = dict(spec["params"]), dict(spec["settings"])
    except (KeyError, TypeError) as err:
        raise storage.SavedFileError(f"{path} is not a sciml result: its spec lacks the problem's or solver's name, "
                                     f"parameters or settings ({storage.first_line(err)})") from None
    for group, name in (("sciml.problems", problem_name), ("sciml.solvers", solver_name)):
        if name not in registry.names(group):
            kind = group.split(".")[1][:-1]
            raise storage.SavedFileError(
                f"{path} is a result of the {kind} {name!r}, which is not registered here (registered {kind}s: "
                f"{', '.join(registry.names(group))}): install the package that provides it")
    dev = resolve_device(device)
    try:
        problem = registry.problem(problem_name)(**params)
        inverse = spec.get("inverse") or {}
        problem.identify(list(inverse.get("unknowns", {})), inverse.get("unknowns"))
        problem.given(None, inverse.get("conditions", "all"))
        solver = registry.solver(solver_name)(problem, **{**settings, "device": str(dev)})
        model = solver.build_model()
        model.load_state_dict(saved["model"])
    except (TypeError, ValueError, KeyError, RuntimeError) as err:
        raise storage.SavedFileError(f"{path} does not fit the {problem_name!r} problem and {solver_name!r} solver "
                                     f"of this sciml: {storage.first_line(err)}") from None
    history_file = folder / "history.json"
    try:
        history = json.loads(history_file.read_text()) if history_file.exists() else []
    except (ValueError, UnicodeDecodeError) as err:
        raise storage.SavedFileError(f"{history_file} is damaged: {storage.first_line(err)}") from None
    return Result(solver, model, history, saved.get("timings", {}), dev, saved.get("interrupted", False))
