"""What the ODE solvers (neural-ode, hypersolver, controller) share: the checks of an ODE problem
and a CPU/float64 device, and training through :class:`sciml.training.Trainer` (checkpoints,
resume, divergence guard, Ctrl-C) into a :class:`sciml.solver.Result`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from .odeproblem import ODEProblem
from .solver import Result, Solver
from .training import TrainConfig, Trainer


class ODESolver(Solver):
    """Base of solvers of :class:`ODEProblem` s; they run on the CPU in float64 (small networks,
    long sequential solves: the GPU does not pay off). ``defaults`` must hold ``iterations``,
    ``lr``, ``schedule``, ``device``, ``checkpoint_every``, ``checkpoint_minutes`` and ``progress``."""

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        if s["device"] not in (None, "auto", "cpu"):
            raise ValueError(f"solver {self.name!r} runs on the CPU in float64, got device {s['device']!r}")
        self.device = torch.device("cpu")
        self.config = TrainConfig(iterations=s["iterations"], lr=s["lr"], schedule=s["schedule"],
                                  checkpoint_every=s["checkpoint_every"],
                                  checkpoint_minutes=s["checkpoint_minutes"], progress=s["progress"])

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        if not issubclass(problem_cls, ODEProblem):
            return "it is not an ODE problem (this solver learns dx/dt = f(t, x) from a time and an initial state)"
        return None

    def fit(self, model: nn.Module, loss: Callable[[], dict[str, Tensor]], out, resume: bool, callbacks,
            description: str, get_extra: Callable[[], Any] | None = None,
            set_extra: Callable[[Any], None] | None = None, **timings: float) -> Result:
        """Minimise ``loss`` over ``model``'s trainable parameters with the Trainer; checkpoints go
        to ``out/checkpoint.pt`` and ``resume`` continues from there. ``get_extra``/``set_extra``
        save and restore the solver's own state with each checkpoint (e.g. a private random
        generator's). ``timings`` are added to the result's (e.g. time spent before training)."""
        checkpoint = Path(out) / "checkpoint.pt" if out is not None else None
        trainer = Trainer(model, loss, self.config, checkpoint=checkpoint, get_extra=get_extra, set_extra=set_extra,
                          callbacks=callbacks, description=description)
        return self.run_trainer(trainer, model, checkpoint, resume, **timings)
