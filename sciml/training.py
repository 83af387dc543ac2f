"""The training loop every solver uses: Adam with a learning-rate schedule, then optionally a phase
of a second-order optimiser: L-BFGS (torch's), or from :mod:`sciml.optim` the self-scaled
quasi-Newton methods SSBroyden and SSBFGS (and plain BFGS) or energy natural gradient descent.

It owns what makes long runs safe: a tqdm bar showing the loss terms, checkpoints every so many
steps and every so many minutes, written atomically and read without running code
(:mod:`sciml.storage`), exact resume (model, optimiser, schedule, every random generator and the
solver's own state such as its collocation points), a guard that stops on NaN or divergence and
restores the last good state, and a Ctrl-C that saves and stops cleanly (a second Ctrl-C aborts at
once).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import storage
from .optim import METHODS, NaturalGradient, QuasiNewton

OPTIMIZERS = ("adam-lbfgs", *METHODS, "engd")
"""Values of :attr:`TrainConfig.optimizer`."""

LossFn = Callable[[], dict[str, Tensor]]
"""Returns the weighted loss terms by name; the loss is their sum."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf or grew past the divergence bound; the last good state is restored."""


class StopTraining(Exception):
    """Raise from a callback to end training early (the result is kept)."""


@dataclass
class TrainConfig:
    """Settings of :class:`Trainer` (all plain values, so they can be saved and compared).

    iterations: Adam steps. lr: initial learning rate. schedule: "exponential" (lr · decay_rate^(k /
    decay_steps)), "cosine" (to 0 at the last step) or "constant". lbfgs_iterations: L-BFGS
    iterations after Adam at most, run in chunks of ``lbfgs_chunk`` (one history entry and one
    checkpoint opportunity each); the phase ends early, and the history's last L-BFGS step says
    where, once a chunk stops on L-BFGS's own tolerances without lowering the loss.
    checkpoint_every: steps between checkpoints (0: none by step count). checkpoint_minutes: also
    write one once this many minutes [min] have passed since the last (0: none by time), so a hard
    kill loses at most that much work. Either way one is written at the end and on interruption.
    resample_every: call the solver's resampler every this many Adam steps (0: never).
    divergence: stop when the loss exceeds this factor times the best loss so far (a negative best
    loss, an energy's: when it exceeds the best by this factor less one times the best's size).

    optimizer: what follows Adam: "adam-lbfgs" (L-BFGS, ``lbfgs_iterations`` steps, with a
    strong-Wolfe line search unless ``lbfgs_line_search`` is None), or ``second_order_iterations``
    steps (None: ``lbfgs_iterations``) of "ssbroyden", "ssbfgs", "bfgs" (dense inverse Hessian,
    strong-Wolfe line search, :class:`sciml.optim.QuasiNewton`) or "engd" (energy natural gradient,
    :class:`sciml.optim.NaturalGradient`; needs the residual Jacobian from the solver). These phases
    record one history entry per ``lbfgs_chunk`` steps, its "lr" being the last step length, resample
    every ``resample_every`` steps counted from the start of training (the estimate H is kept) and end
    early when a step finds no lower loss (for "engd": at its largest damping).
    """

    iterations: int = 10000
    lr: float = 1e-3
    schedule: str = "exponential"
    decay_rate: float = 0.9
    decay_steps: int = 1000
    lbfgs_iterations: int = 0
    lbfgs_chunk: int = 50
    lbfgs_history: int = 50
    checkpoint_every: int = 1000
    checkpoint_minutes: float = 5.0
    resample_every: int = 0
    divergence: float = 1e8
    progress: bool = True
    optimizer: str = "adam-lbfgs"
    second_order_iterations: int | None = None
    lbfgs_line_search: str | None = "strong_wolfe"

    def __post_init__(self):
        for name in ("iterations", "lbfgs_iterations", "checkpoint_every", "resample_every"):
            value = getattr(self, name)
            if int(value) != value or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.iterations + self.lbfgs_iterations + (self.second_order_iterations or 0) <= 0:
            raise ValueError(f"iterations must be positive, got {self.iterations} Adam and "
                             f"{self.lbfgs_iterations} L-BFGS iterations")
        if not (self.checkpoint_minutes >= 0 and math.isfinite(self.checkpoint_minutes)):
            raise ValueError(f"checkpoint_minutes must be a finite number >= 0, got {self.checkpoint_minutes!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be positive and finite, got {self.lr!r}")
        if self.schedule not in ("exponential", "cosine", "constant"):
            raise ValueError(f"schedule must be 'exponential', 'cosine' or 'constant', got {self.schedule!r}")
        if not 0 < self.decay_rate <= 1 or self.decay_steps <= 0:
            raise ValueError(f"need 0 < decay_rate <= 1 and decay_steps > 0, got {self.decay_rate}, {self.decay_steps}")
        if self.lbfgs_chunk <= 0:
            raise ValueError(f"lbfgs_chunk must be positive, got {self.lbfgs_chunk}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.second_order_iterations is not None:
            if self.optimizer == "adam-lbfgs":
                raise ValueError("second_order_iterations sets the steps of a second-order optimizer; with "
                                 "optimizer='adam-lbfgs' give lbfgs_iterations")
            n = self.second_order_iterations
            if int(n) != n or n < 0:
                raise ValueError(f"second_order_iterations must be a non-negative integer, got {n!r}")
        if self.lbfgs_line_search not in ("strong_wolfe", None):
            raise ValueError(f"lbfgs_line_search must be 'strong_wolfe' or None, got {self.lbfgs_line_search!r}")

    @property
    def second_phase(self) -> str:
        """The name of the phase after Adam, as the history and progress bar show it."""
        return "lbfgs" if self.optimizer == "adam-lbfgs" else self.optimizer

    @property
    def second_steps(self) -> int:
        """Steps of the phase after Adam."""
        if self.optimizer == "adam-lbfgs" or self.second_order_iterations is None:
            return self.lbfgs_iterations
        return self.second_order_iterations


@dataclass
class TrainState:
    """Where training stands: phase ("adam", the phase after it — "lbfgs" or the optimizer's name —
    or "done"), step within it, history, timings."""

    phase: str = "adam"
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    wall_time: float = 0.0
    interrupted: bool = False


def rng_state() -> dict[str, Any]:
    """The state of every global random generator, as tensors and plain values (a checkpoint holds
    nothing else, see :mod:`sciml.storage`)."""
    name, key, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": (name, key.tolist(), pos, has_gauss, cached),
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(key, dtype=np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy (DeepXDE's samplers draw from it) and torch."""
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Minimises ``loss_fn`` over ``module``'s parameters.

    ``get_extra``/``set_extra`` save and restore the solver's own state (collocation points, ...)
    with each checkpoint; ``resample(step)`` is called every ``resample_every`` Adam steps;
    ``callbacks`` are called as ``callback(trainer, record)`` after each step or L-BFGS chunk;
    ``after_backward()`` after every backward pass, before the optimiser uses the gradients (e.g. to
    sum them over processes, :mod:`sciml.distributed`). ``jacobian()`` returns the weighted residual
    vector r (M,) with Σ r² the loss and its Jacobian (M, P) by the parameters: optimizer "engd"
    needs it.
    """

    def __init__(self, module: nn.Module, loss_fn: LossFn, config: TrainConfig, *,
                 checkpoint: str | Path | None = None,
                 get_extra: Callable[[], Any] | None = None,
                 set_extra: Callable[[Any], None] | None = None,
                 resample: Callable[[int], None] | None = None,
                 callbacks: list[Callable[["Trainer", dict], None]] | None = None,
                 after_backward: Callable[[], None] | None = None,
                 jacobian: Callable[[], tuple[Tensor, Tensor]] | None = None,
                 description: str = "training"):
        self.module, self.loss_fn, self.config = module, loss_fn, config
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.get_extra, self.set_extra = get_extra, set_extra
        self.resample = resample
        self.callbacks = list(callbacks or [])
        self.after_backward = after_backward
        self.description = description
        self.status: dict[str, float] = {}
        """Numbers a callback wants on the progress bar beside the loss (e.g. a solver's own state)."""
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.state = TrainState()
        # The fused kernel updates every parameter in one pass: ~7% of a small PINN's step on a CPU.
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in self.params)
        self.adam = torch.optim.Adam(self.params, lr=config.lr, fused=fused)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.adam, self._lr_factor)
        self.lbfgs = torch.optim.LBFGS(self.params, lr=1.0, max_iter=config.lbfgs_chunk,
                                       history_size=config.lbfgs_history, line_search_fn=config.lbfgs_line_search,
                                       tolerance_grad=1e-12, tolerance_change=1e-15)
        self.jacobian = jacobian
        if config.optimizer == "engd" and jacobian is None:
            raise ValueError("optimizer 'engd' needs the residual Jacobian, which this solver does not provide")
        size = sum(p.numel() for p in self.params)
        self.quasi = QuasiNewton(size, config.optimizer, device=self.params[0].device) \
            if config.optimizer in METHODS else None
        self.natural = NaturalGradient() if config.optimizer == "engd" else None
        self._best = math.inf
        self._good: dict[str, Any] | None = None
        self._step_length = 1.0
        self._stop_requested = False

    def _lr_factor(self, step: int) -> float:
        c = self.config
        if c.schedule == "exponential":
            return c.decay_rate ** (step / c.decay_steps)
        if c.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(step, c.iterations) / max(c.iterations, 1)))
        return 1.0

    # -- checkpoints -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here, as tensors and plain values."""
        return {
            "module": copy.deepcopy(self.module.state_dict()),
            "adam": copy.deepcopy(self.adam.state_dict()),
            "scheduler": copy.deepcopy(self.scheduler.state_dict()),
            "lbfgs": copy.deepcopy(self.lbfgs.state_dict()),
            "state": dataclasses.asdict(self.state),
            "rng": rng_state(),
            "extra": copy.deepcopy(self.get_extra()) if self.get_extra else None,
            "best": self._best,
            "second_order": self._second_order().state_dict() if self._second_order() is not None else None,
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.module.load_state_dict(snap["module"])
        self.adam.load_state_dict(snap["adam"])
        self.scheduler.load_state_dict(snap["scheduler"])
        self.lbfgs.load_state_dict(snap["lbfgs"])
        self.state = TrainState(**copy.deepcopy(snap["state"]))
        set_rng_state(snap["rng"])
        if self.set_extra and snap["extra"] is not None:
            self.set_extra(snap["extra"])
        self._best = snap["best"]
        if self._second_order() is not None:
            if snap.get("second_order") is None:
                raise ValueError(f"the checkpoint holds no {self.config.optimizer} state")
            self._second_order().load_state_dict(snap["second_order"])

    def save(self) -> None:
        """Remember the current state as the last good one and write it (atomically) if asked to."""
        self._good = self.snapshot()
        self._saved_at = time.monotonic()
        if self.checkpoint is not None:
            storage.write(self.checkpoint, self._good, "checkpoint")

    def load(self, path: str | Path) -> None:
        """Continue from a checkpoint written by :meth:`save`. It is read without running code from
        it (:func:`sciml.storage.read`); a damaged, foreign or unsafe file, or one of another run, is a
        :class:`sciml.storage.SavedFileError` and is left as it is."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path} to resume from")
        snap = storage.read(path, "checkpoint", map_location="cpu",
                            required=("module", "adam", "scheduler", "lbfgs", "state", "rng", "extra", "best"))
        try:
            self.restore(snap)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
            raise storage.SavedFileError(f"{path} does not hold the state of this run (written by a run with "
                                         f"other settings?): {storage.first_line(err)}") from None
        self._good = self.snapshot()

    # -- the loop --------------------------------------------------------------------------------
    def _evaluate(self) -> tuple[Tensor, dict[str, Tensor]]:
        terms = self.loss_fn()
        total = sum(terms.values())
        return total, terms

    def _check(self, loss: float, terms: dict[str, float]) -> None:
        c = self.config
        # divergence x best for a positive best; an energy (deep-energy solver) can be negative: then the
        # loss may rise above the best by (divergence - 1) times its size.
        limit = self._best + (c.divergence - 1) * abs(self._best)
        if math.isfinite(loss) and loss <= limit:
            self._best = min(self._best, loss)
            return
        where = f"{self.state.phase} step {self.state.step}"
        detail = ", ".join(f"{k}={v:.3g}" for k, v in terms.items())
        reason = "is not finite" if not math.isfinite(loss) else (
            f"exceeds {c.divergence:g} times the best loss {self._best:.3g}" if self._best >= 0 else
            f"exceeds {limit:.3g}, the best loss {self._best:.3g} raised by {c.divergence - 1:g} times its size")
        if self._good is not None:
            good = self._good["state"]
            self.restore(self._good)
            kept = (f"the last good state ({good['phase']} step {good['step']}) is restored"
                    + (f" and kept at {self.checkpoint}" if self.checkpoint else ""))
        else:
            kept = "no good state was saved yet"
        raise TrainingDiverged(f"training stopped: the loss {loss:.6g} {reason} at {where} ({detail}); "
                               f"{kept}. Lower the learning rate or check the problem's scaling.")

    def _record(self, loss: float, terms: dict[str, float], bar, started: float) -> dict:
        phase = self.state.phase
        lr = self.adam.param_groups[0]["lr"] if phase == "adam" else 1.0 if phase == "lbfgs" else self._step_length
        record = {"phase": phase, "step": self.state.step, "loss": loss, **terms, "lr": lr,
                  "time": self.state.wall_time + time.perf_counter() - started}
        self.state.history.append(record)
        for callback in self.callbacks:
            callback(self, record)
        if bar is not None:
            shown = {k: v for k, v in {"loss": loss, **terms}.items() if len(terms) > 1 or k == "loss"}
            bar.set_postfix_str(" ".join(f"{k}={v:.2e}" for k, v in {**shown, **self.status}.items()),
                                refresh=False)
        return record

    def _backward(self, total: Tensor) -> None:
        total.backward()
        if self.after_backward is not None:
            self.after_backward()

    def adam_step(self) -> tuple[float, dict[str, float]]:
        """One Adam iteration, as :meth:`run` does it: resample when due, loss, divergence check,
        backward, optimiser and schedule step. Returns the loss and its terms before the step."""
        c = self.config
        if self.resample and c.resample_every and self.state.step and self.state.step % c.resample_every == 0:
            self.resample(self.state.step)
        self.adam.zero_grad(set_to_none=True)
        total, terms = self._evaluate()
        loss = total.item()
        values = {k: v.item() for k, v in terms.items()}
        self._check(loss, values)
        self._backward(total)
        self.adam.step()
        self.scheduler.step()
        return loss, values

    def _lbfgs_chunk(self) -> tuple[float, dict[str, float], int]:
        """Up to ``lbfgs_chunk`` L-BFGS iterations; returns the loss at the parameters they end on.

        A trial point of the line search where the loss is not finite (a step into states where the
        model is undefined) is reported to it as ten times the largest loss it has seen in this chunk,
        with no gradient, so that it brackets and shortens the step. Torch's strong-Wolfe search takes a
        NaN for neither a rise nor a slope and extrapolates further, onto parameters that are NaN; the
        quasi-Newton phases' own line search (:mod:`sciml.optim`) counts a non-finite loss as +inf for
        the same reason. Where the chunk still ends on a non-finite loss, the check after it stops
        training as before."""
        largest = 0.0

        def closure():
            nonlocal largest
            self.lbfgs.zero_grad(set_to_none=True)
            total, _ = self._evaluate()
            value = total.item()
            if not math.isfinite(value):  # the gradients stay None: torch reads them as zero
                return torch.tensor(10.0 * largest, dtype=total.dtype)
            largest = max(largest, abs(value))
            self._backward(total)
            return total

        before = self.lbfgs.state[self.params[0]].get("n_iter", 0) if self.lbfgs.state else 0
        self.lbfgs.step(closure)
        after = self.lbfgs.state[self.params[0]]["n_iter"]
        # One more forward pass: the line search's last evaluation need not be the accepted point.
        total, terms = self._evaluate()
        values = {k: v.item() for k, v in terms.items()}
        loss = total.item()
        self._check(loss, values)
        return loss, values, after - before

    # -- second-order phases (sciml.optim) ----------------------------------------------------------
    def _second_order(self) -> QuasiNewton | NaturalGradient | None:
        return self.quasi if self.quasi is not None else self.natural

    def _flat(self) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self.params]).double()

    def _set_flat(self, x: Tensor) -> None:
        with torch.no_grad():
            start = 0
            for p in self.params:
                p.copy_(x[start:start + p.numel()].view_as(p))
                start += p.numel()

    def _loss_and_gradient(self, x: Tensor) -> tuple[float, Tensor]:
        """The loss and its gradient (P,) in float64 at parameters ``x`` (which it leaves set)."""
        self._set_flat(x)
        for p in self.params:
            p.grad = None
        total, _ = self._evaluate()
        self._backward(total)
        g = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self.params])
        return total.item(), g.double()

    def _loss_at(self, x: Tensor) -> float:
        self._set_flat(x)
        with torch.no_grad():
            return self._evaluate()[0].item()

    def _second_order_chunk(self, n: int) -> tuple[float, dict[str, float], int, bool]:
        """Up to ``n`` steps of the quasi-Newton or natural-gradient phase; returns the loss and its
        terms at the end, the steps taken and whether a step found no lower loss."""
        c, s = self.config, self.state
        stalled, taken = False, 0
        for i in range(n):
            overall = c.iterations + s.step + i  # resampling counts steps from the start of training
            if self.resample and c.resample_every and overall and overall % c.resample_every == 0:
                self.resample(overall)
                if self.quasi is not None:
                    self.quasi.restart()
            x = self._flat()
            if self.quasi is not None:
                if self.quasi.g is None:
                    f, g = self._loss_and_gradient(x)
                    if not (math.isfinite(f) and bool(torch.isfinite(g).all())):
                        self._check(math.nan if math.isfinite(f) else f, {"gradient": math.nan})
                    self.quasi.f, self.quasi.g = f, g
                x_new = self.quasi.step(x, self._loss_and_gradient)
                self._step_length = self.quasi.last.alpha
            else:
                r, J = self.jacobian()
                r, J = r.double(), J.double()
                if not (bool(torch.isfinite(r).all()) and bool(torch.isfinite(J).all())):
                    self._check(math.nan, {"residuals": math.nan})
                x_new = self.natural.step(x, r, J, self._loss_at)
                self._step_length = self.natural.eta
            self._set_flat(x_new)
            taken += 1
            # No lower loss: quasi-Newton has already tried the gradient direction; ENGD damps more
            # and tries again until its damping is at its largest.
            if self._step_length == 0 and (self.natural is None or self.natural.damping >= 1.0):
                stalled = True
                break
        with torch.no_grad():
            total, terms = self._evaluate()
        values = {k: v.item() for k, v in terms.items()}
        loss = total.item()
        self._check(loss, values)
        return loss, values, taken, stalled

    def _on_sigint(self, signum, frame):
        if self._stop_requested:
            raise KeyboardInterrupt
        self._stop_requested = True

    def run(self) -> TrainState:
        """Train from the current state to the end of both phases (or until interrupted)."""
        c = self.config
        total = c.iterations + c.second_steps
        done = self.state.step + (c.iterations if self.state.phase != "adam" else 0)
        if self.state.phase == "done":
            return self.state
        interactive = sys.stderr.isatty()  # in logs, a line every 10 s instead of a redraw every 0.1 s
        bar = tqdm(total=total, initial=min(done, total), desc=f"{self.description} [{self.state.phase}]",
                   disable=not c.progress,
                   dynamic_ncols=True, leave=True, mininterval=0.1 if interactive else 10.0)
        handler = None
        if threading.current_thread() is threading.main_thread():
            handler = signal.signal(signal.SIGINT, self._on_sigint)
        started = time.perf_counter()
        self._saved_at = time.monotonic()
        self._stop_requested = False
        self.state.interrupted = False
        if self._good is None:
            self._good = self.snapshot()
        try:
            self._loop(bar, started)
        except StopTraining:
            self.state.phase = "done"
        finally:
            self.state.wall_time += time.perf_counter() - started
            if handler is not None:
                signal.signal(signal.SIGINT, handler)
            bar.close()
        self.save()
        if self.state.interrupted:
            where = f" and saved to {self.checkpoint}" if self.checkpoint else ""
            print(f"Interrupted at {self.state.phase} step {self.state.step}; state kept{where}. "
                  "Resume to continue exactly from here.")
        return self.state

    def _loop(self, bar, started: float) -> None:
        c = self.config
        while True:
            s = self.state
            if s.phase == "adam":
                if s.step >= c.iterations:
                    s.phase, s.step = c.second_phase, 0
                    bar.set_description(f"{self.description} [{s.phase}]", refresh=False)
                    continue
                loss, terms = self.adam_step()
                s.step += 1
                advanced = 1
            elif s.phase == "lbfgs":
                if s.step >= c.lbfgs_iterations:
                    s.phase = "done"
                    return
                chunk = min(c.lbfgs_chunk, c.lbfgs_iterations - s.step)
                for group in self.lbfgs.param_groups:
                    group["max_iter"] = chunk
                    group["max_eval"] = 25 * chunk  # the line search's own cap per iteration
                before = s.history[-1]["loss"] if s.history else math.inf
                loss, terms, advanced = self._lbfgs_chunk()
                s.step += advanced
                if advanced == 0 or (advanced < chunk and loss >= before):
                    # L-BFGS stopped on its own tolerances without lowering the loss: it has converged.
                    # Another chunk would start from the same point and stop again after one
                    # iteration, each a full line search (measured: 616 such chunks, 2 minutes, on the
                    # Burgers defaults, loss and error unchanged to the last digit).
                    s.phase = "done"
                    bar.total = bar.n + advanced
            elif s.phase != "done":
                if s.step >= c.second_steps:
                    s.phase = "done"
                    return
                chunk = min(c.lbfgs_chunk, c.second_steps - s.step)
                if c.resample_every:  # a history entry (and checkpoint chance) at every resampling
                    chunk = min(chunk, c.resample_every - (c.iterations + s.step) % c.resample_every)
                loss, terms, advanced, stalled = self._second_order_chunk(chunk)
                s.step += advanced
                if stalled:
                    s.phase = "done"
                    bar.total = bar.n + advanced
            else:
                return
            self._record(loss, terms, bar, started)
            bar.update(advanced)
            if (c.checkpoint_every and self._crossed_checkpoint(advanced)) or (
                    c.checkpoint_minutes and time.monotonic() - self._saved_at >= 60 * c.checkpoint_minutes):
                self.save()
            if self._stop_requested:
                self.state.interrupted = True
                return

    def _crossed_checkpoint(self, advanced: int) -> bool:
        step, every = self.state.step, self.config.checkpoint_every
        return step // every != (step - advanced) // every
