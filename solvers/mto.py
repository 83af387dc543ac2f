"""Multi-task optimisation (MTO) training of a physics-informed network: our version of the framework
of Wang, Qin et al. ("Physics-informed neural networks with multi-task optimisation", IJCNN 2023,
arXiv:2307.03920), whose exact algorithm is not published in full.

Auxiliary tasks T1..TK are trained together with the main task T0 (the plain PINN loss), each with
its own network and Adam optimiser, and what one task has found is offered to the others:

- T0 is the ``pinn`` solver's loss and network for the problem, observations and unknown parameters
  included (:mod:`sciml.inverse`); it is what the result holds, saves, predicts and is evaluated on.
- An auxiliary task changes the loss on the same data: a smoother physics (a problem parameter
  scaled, e.g. a viscosity ν_k = 2ν, 4ν: kind ``"smooth:F"``), a fresh collocation set (another seed:
  ``"points"``), or re-weighted terms (``"weights:TERM=W,..."``).
- Training runs in rounds of G Adam steps per task. After each round, for each task j in turn, a
  source task k ≠ j is drawn with probability proportional to the running success rate of past
  transfers k → j, (a + 1) / (a + r + 2) from a uniform Beta(1, 1) prior over a accepted and r
  rejected ones; the candidate θ' = (1 − α) θ_j + α θ_k (every trainable tensor, unknown parameters
  included) replaces θ_j only if it lowers task j's *own* training loss at its current points (never
  an error against the reference), and then task j's Adam state is reset (its moments describe the
  old point; the learning-rate schedule goes on). A rejected candidate leaves θ_j and its Adam state
  exactly as they were.
- All tasks start from T0's initial weights: a convex combination of two networks is only
  meaningful when they lie in one basin, which independently initialised networks need not
  (Frankle et al., "Linear mode connectivity and the lottery ticket hypothesis", ICML 2020).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sciml.solver import Result
from sciml.training import Trainer, TrainingDiverged, rng_state, set_rng_state

from .pinn import PINN

KINDS = ("smooth", "points", "weights")
"""Kinds of auxiliary task (see :class:`MTO`)."""


@dataclass
class Task:
    """One task of a multi-task run: ``label`` (e.g. "T1 smooth nu x2"), the PINN ``solver`` whose
    loss and model it trains, and the ``trainer`` stepping them (None for T0 until training runs)."""

    label: str
    solver: PINN
    trainer: Trainer | None = None
    rng: dict[str, Any] | None = None
    """An auxiliary task's own state of the global random generators (its resampling draws from
    them), swapped in while it trains so that T0's draws are those of a ``pinn`` run."""

    def loss(self) -> float:
        """The task's training loss at its current weights and points (no gradient step)."""
        return sum(self.solver.loss().values()).item()


class MTO(PINN):
    """Multi-task optimisation PINN trainer (ours, after Wang, Qin et al., IJCNN 2023, arXiv:2307.03920).

    Settings beyond :class:`PINN`'s:

    - ``tasks`` — the auxiliary tasks, a list of strings ([]: none, K = 0), each one of
      ``"smooth:F"`` (the problem's smoothing parameter multiplied by F > 0, e.g. F = 2 doubles a
      viscosity; F < 1 for a Reynolds number), ``"points"`` (the same loss on a fresh collocation
      set: seed ``seed + k`` for task k) and ``"weights:TERM=W,..."`` (loss term TERM weighted W,
      as the ``weights`` setting; e.g. ``"weights:data=10"``). Default ``"auto"``: ``["smooth:2",
      "smooth:4"]`` when a smoothing parameter is known, else ``["points", "points"]``.
    - ``smooth`` — the name of the problem parameter the ``smooth`` tasks scale (None: the
      problem's class attribute ``smoothing``, when it declares one). It must be a real parameter
      that is not identified.
    - ``round_steps`` G (100) — Adam steps per task between transfer rounds.
    - ``alpha`` α (0.5) in (0, 1] — how far a candidate moves towards the source: θ' = (1 − α) θ_j + α θ_k.

    The budget: ``iterations`` counts Adam steps over *all* tasks together, so a run compares with a
    ``pinn`` run of the same ``iterations`` at equal total gradient steps; each auxiliary task takes
    ``iterations // (K + 1)`` of them and T0 the rest (an equal share and the remainder), and T0 alone
    then runs the phase after Adam (``lbfgs_iterations`` L-BFGS iterations, or the ``optimizer``
    setting's), as the ``pinn`` solver does. Transfers cost forward evaluations of the loss only (two
    per task and round). ``metrics.json``'s ``extra_metrics`` holds both step counts and the transfers'
    counts and acceptance rates; the history's record at the end of each round lists that round's
    transfers under ``transfers``.

    T0 is set up and trained by the ``pinn`` solver's own code, and the auxiliary tasks draw from
    random streams of their own: with K = 0, or with auxiliary tasks whose transfers are all
    rejected, T0 is bit for bit the ``pinn`` run of T0's share of the steps with the same seed.
    Checkpoints hold every task, so an interrupted run resumes exactly.
    """

    name = "mto"
    defaults: dict[str, Any] = {**PINN.defaults, "tasks": "auto", "smooth": None, "round_steps": 100, "alpha": 0.5}

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        if isinstance(s["round_steps"], bool) or not isinstance(s["round_steps"], numbers.Integral) or s["round_steps"] < 1:
            raise ValueError(f"round_steps must be a positive integer (Adam steps per task between transfers), "
                             f"got {s['round_steps']!r}")
        if not (isinstance(s["alpha"], (int, float)) and 0 < s["alpha"] <= 1):
            raise ValueError(f"alpha must be a number in (0, 1] (the weight of the source task in a transfer), "
                             f"got {s['alpha']!r}")
        self.specs = self._parse_tasks(s["tasks"])
        n_tasks = len(self.specs) + 1
        self.aux_steps = s["iterations"] // n_tasks
        """Adam steps of each auxiliary task."""
        self.main_steps = s["iterations"] - (n_tasks - 1) * self.aux_steps
        """Adam steps of T0: an equal share and the remainder."""
        self.config.iterations = self.main_steps

    # -- the tasks -------------------------------------------------------------------------------
    def smoothing_parameter(self) -> str | None:
        """The parameter ``smooth`` tasks scale: the ``smooth`` setting, else the problem's
        ``smoothing`` attribute, else None."""
        return self.settings["smooth"] or self.problem.smoothing

    def _parse_tasks(self, tasks) -> list[tuple[str, Any]]:
        """(kind, argument) of each auxiliary task: a factor for "smooth", {term: weight} for
        "weights", None for "points"; a ``ValueError`` names a task that is not understood."""
        if tasks == "auto":
            tasks = ["smooth:2", "smooth:4"] if self.smoothing_parameter() else ["points", "points"]
        if isinstance(tasks, str) or not all(isinstance(t, str) for t in tasks):
            raise ValueError(f"tasks must be 'auto' or a list of task strings ('smooth:F', 'points', "
                             f"'weights:TERM=W,...'), got {tasks!r}")
        specs = []
        for task in tasks:
            kind, _, arg = task.partition(":")
            if kind not in KINDS or (kind == "points") == bool(_):
                raise ValueError(f"auxiliary task {task!r} is not one of 'smooth:F' (F > 0), 'points' or "
                                 f"'weights:TERM=W,...'")
            if kind == "smooth":
                specs.append((kind, self._smooth_factor(task, arg)))
            elif kind == "weights":
                specs.append((kind, self._task_weights(task, arg)))
            else:
                specs.append((kind, None))
        return specs

    def _smooth_factor(self, task: str, arg: str) -> float:
        try:
            factor = float(arg)
        except ValueError:
            factor = math.nan
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"auxiliary task {task!r}: the factor must be a positive number, got {arg!r}")
        p, name = self.problem, self.smoothing_parameter()
        reals = [n for n, spec in p.parameters.items() if spec.type is float]
        if name is None:
            raise ValueError(f"auxiliary task {task!r} scales the problem's smoothing parameter, but problem "
                             f"{p.name!r} names none: give smooth=NAME, one of its real parameters "
                             f"({', '.join(reals) or 'none'}), or use the task kinds 'points' and 'weights:TERM=W'")
        if name not in reals:
            raise ValueError(f"smooth={name!r} is not a real parameter of problem {p.name!r} "
                             f"(its real parameters: {', '.join(reals) or 'none'})")
        if name in p.unknowns:
            raise ValueError(f"smooth={name!r} is identified (an unknown learned with the network): a smoother "
                             f"task cannot scale a learned parameter; smooth another parameter or use 'points'")
        p.parameters[name].validate(name, p.params[name] * factor)
        return factor

    @staticmethod
    def _task_weights(task: str, arg: str) -> dict[str, float]:
        weights = {}
        for item in arg.split(","):
            term, sep, value = item.partition("=")
            try:
                weights[term.strip()] = float(value)
            except ValueError:
                sep = ""
            if not sep or not term.strip() or not weights[term.strip()] >= 0:
                raise ValueError(f"auxiliary task {task!r}: expected 'weights:TERM=W,...' with weights >= 0, "
                                 f"got {item!r}")
        return weights

    def _label(self, k: int, kind: str, arg: Any) -> str:
        if kind == "smooth":
            return f"T{k} smooth {self.smoothing_parameter()} x{arg:g}"
        if kind == "weights":
            return f"T{k} weights " + ",".join(f"{t}={w:g}" for t, w in arg.items())
        return f"T{k} points seed {self.settings['seed'] + k}"

    def _auxiliary(self, k: int, kind: str, arg: Any) -> Task:
        """Task k: a PINN on the (possibly smoothed) problem with this solver's settings, its network
        starting from T0's initial weights, and its trainer (no checkpoints or progress of its own)."""
        p, s = self.problem, self.settings
        problem = p
        if kind == "smooth":
            name = self.smoothing_parameter()
            problem = type(p)(**{**p.params, name: p.params[name] * arg})
            problem.given(p.observations, p.applies).identify(list(p.unknowns), p.unknowns)
        settings = {key: s[key] for key in PINN.defaults}
        settings.update(iterations=self.aux_steps, lbfgs_iterations=0, eval_every=0, progress=False, init=None,
                        checkpoint_every=0, checkpoint_minutes=0.0)
        if kind == "points":
            settings["seed"] = s["seed"] + k
        if kind == "weights":
            settings["weights"] = {**(s["weights"] or {}), **arg}
        label = self._label(k, kind, arg)
        solver = PINN(problem, **settings)
        try:
            solver.setup()
        except ValueError as err:
            raise ValueError(f"auxiliary task {label}: {err}") from None
        solver.model.load_state_dict(self.model.state_dict())
        trainer = Trainer(solver.model, solver.loss, solver.config, get_extra=solver._get_extra,
                          set_extra=solver._set_extra, resample=solver._resample, description=label)
        return Task(label, solver, trainer, rng_state())

    def setup(self) -> None:
        """T0 exactly as the ``pinn`` solver sets it up, then the auxiliary tasks; building them
        leaves every global random generator as T0's setup left it."""
        super().setup()
        if self.group is not None and self.specs:
            raise ValueError("solver 'mto' with auxiliary tasks trains in one process; run it without torchrun")
        state = rng_state()
        self.tasks = [Task("T0 main", self)] + [self._auxiliary(k, kind, arg)
                                                for k, (kind, arg) in enumerate(self.specs, start=1)]
        set_rng_state(state)
        n = len(self.tasks)
        self.counts = torch.zeros(2, n, n, dtype=torch.long)
        """counts[0, k, j] accepted and counts[1, k, j] rejected transfers from task k to task j."""
        self.generator = torch.Generator().manual_seed(self.settings["seed"])
        """Draws the source tasks (apart from the global generators, which sampling uses)."""

    # -- transfers -------------------------------------------------------------------------------
    def success_rates(self, target: int) -> torch.Tensor:
        """(a + 1) / (a + r + 2) of every task as a source for ``target`` (K + 1,), 0 for the target itself."""
        accepted, rejected = self.counts[0, :, target].double(), self.counts[1, :, target].double()
        rates = (accepted + 1) / (accepted + rejected + 2)
        rates[target] = 0.0
        return rates

    def pick_source(self, target: int) -> int:
        """A source task for ``target``, drawn with probability proportional to its success rate."""
        return int(torch.multinomial(self.success_rates(target), 1, generator=self.generator))

    def transfer(self, target: int, source: int) -> dict[str, Any]:
        """Offer task ``target`` the candidate θ' = (1 − α) θ_target + α θ_source; keep it (and reset
        the target's Adam state) only if it lowers the target's own training loss, else restore the
        target's weights exactly. Returns the transfer's record."""
        task, alpha = self.tasks[target], self.settings["alpha"]
        params = [q for q in task.solver.model.parameters() if q.requires_grad]
        sources = [q for q in self.tasks[source].solver.model.parameters() if q.requires_grad]
        before = task.loss()
        kept = [q.detach().clone() for q in params]
        with torch.no_grad():
            for q, q_source in zip(params, sources):
                q.lerp_(q_source, alpha)
        candidate = task.loss()
        accepted = candidate < before
        if accepted:
            task.trainer.adam.state.clear()
        else:
            with torch.no_grad():
                for q, old in zip(params, kept):
                    q.copy_(old)
        self.counts[0 if accepted else 1, source, target] += 1
        return {"source": source, "target": target, "loss_before": before, "loss_candidate": candidate,
                "accepted": bool(accepted)}

    def _round(self, trainer: Trainer, record: dict) -> None:
        """After every ``round_steps`` Adam steps of T0 (and after its last): the auxiliary tasks
        catch up to T0's step count (up to their own share), then one transfer into each task; the
        round's transfers go into T0's history record under ``transfers``."""
        step = record["step"]
        if record["phase"] != "adam" or (step % self.settings["round_steps"] and step != self.main_steps):
            return
        self.tasks[0].trainer = trainer
        main_rng = rng_state()
        for task in self.tasks[1:]:
            set_rng_state(task.rng)
            while task.trainer.state.step < min(step, self.aux_steps):
                try:
                    task.trainer.adam_step()
                except TrainingDiverged as err:
                    raise TrainingDiverged(f"auxiliary task {task.label}: {err}") from None
                task.trainer.state.step += 1
            task.rng = rng_state()
        set_rng_state(main_rng)
        n = len(self.tasks)
        record["transfers"] = [self.transfer(j, self.pick_source(j)) for j in range(n)] if n > 1 else []

    def _get_extra(self) -> dict:
        return {**super()._get_extra(), "tasks": [task.trainer.snapshot() for task in self.tasks[1:]],
                "rngs": [task.rng for task in self.tasks[1:]], "counts": self.counts.clone(),
                "generator": self.generator.get_state()}

    def _set_extra(self, extra: dict) -> None:
        super()._set_extra(extra)
        main_rng = rng_state()
        for task, snap, rng in zip(self.tasks[1:], extra["tasks"], extra["rngs"]):
            task.trainer.restore(snap)
            task.rng = rng
        set_rng_state(main_rng)
        self.counts = extra["counts"].clone()
        self.generator.set_state(extra["generator"])

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> Result:
        """Train T0 with the ``pinn`` solver's loop, the auxiliary tasks and transfers running at the
        end of each round (see :meth:`_round`); the result is T0's network."""
        return super().train(out, resume, callbacks=[self._round, *(callbacks or [])])

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """Adam steps (all tasks, T0), the tasks, and the transfers' counts and acceptance rates
        (all, into T0, by source → target), read from the history."""
        transfers = [t for r in result.history for t in r.get("transfers", [])]
        into_main = [t for t in transfers if t["target"] == 0]
        pairs: dict[str, list[int]] = {}
        for t in transfers:
            pair = pairs.setdefault(f"T{t['source']}->T{t['target']}", [0, 0])
            pair[0] += t["accepted"]
            pair[1] += 1

        def rate(items):
            return sum(t["accepted"] for t in items) / len(items) if items else None

        return {"adam_steps_total": self.main_steps + len(self.specs) * self.aux_steps, "adam_steps_main": self.main_steps,
                "tasks": [self._label(k, kind, arg) for k, (kind, arg) in enumerate(self.specs, start=1)],
                "transfers": len(transfers), "transfers_accepted": sum(t["accepted"] for t in transfers),
                "acceptance_rate": rate(transfers), "transfers_into_main": len(into_main),
                "accepted_into_main": sum(t["accepted"] for t in into_main), "acceptance_rate_main": rate(into_main),
                "accepted_by_pair": {pair: f"{a}/{n}" for pair, (a, n) in sorted(pairs.items())}}
