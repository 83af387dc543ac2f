"""Causal training of physics-informed networks (Wang, Sankaran & Perdikaris, "Respecting causality
is all you need for training physics-informed neural networks", arXiv:2203.07404, 2022; Comput.
Methods Appl. Mech. Engrg. 421, 116813, 2024).

The time axis is split into M equal chunks; with L_k the mean squared residual of chunk k, the loss is

    L = (1/M) Σ_i w_i L_i,     w_i = exp(-ε (L_ic + Σ_{k<i} L_k))   (w under stop-gradient),

so a chunk only counts once every *earlier* chunk (and, with ``causal_initial``, the initial
condition) is fitted: the sum runs over k < i, never over the chunk itself. ε follows a schedule:
when min_i w_i exceeds δ the next ε of the list is taken.

With ``windows`` > 1 the time interval is also marched: one network per window, trained in turn,
each starting exactly from the previous window's solution at its first time (the hard constraint
u_k(x, t) = u_{k-1}(x, t_k) + d(x, t - t_k) N_k(x, t), with d the problem's constraint distance,
or t - t_k when the problem has none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sciml import geometry
from sciml.geometry import dde
from sciml.networks import HardConstraint, Network
from sciml.solver import Result
from sciml.training import seed_everything

from .pinn import PINN


def causal_weights(chunk_losses: torch.Tensor, epsilon: float, initial: torch.Tensor | float = 0.0) -> torch.Tensor:
    """w_i = exp(-ε (initial + Σ_{k<i} L_k)) for chunk losses L (M,), detached; w_0 = exp(-ε initial).

    The sum is over the chunks strictly before i (an exclusive cumulative sum).
    """
    losses = chunk_losses.detach()
    earlier = torch.cumsum(losses, 0) - losses
    return torch.exp(-epsilon * (earlier + initial))


def chunk_losses(squared: torch.Tensor, chunk: torch.Tensor, n_chunks: int) -> torch.Tensor:
    """Mean of ``squared`` (N,) over the points of each chunk (``chunk`` (N,) indices) -> (M,)."""
    total = squared.new_zeros(n_chunks).index_add(0, chunk, squared)
    count = squared.new_zeros(n_chunks).index_add(0, chunk, torch.ones_like(squared))
    return total / count.clamp_min(1)


class Windows(nn.Module):
    """One network per time window: points (N, d) go to the network of the window their time lies in.

    ``edges`` (W + 1,) are the window bounds; a time on an inner edge belongs to the later window
    (both agree there by construction).
    """

    def __init__(self, parts: list[Network], edges: list[float], time_index: int):
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.register_buffer("inner", torch.as_tensor(edges[1:-1], dtype=torch.get_default_dtype()))
        self.time_index = time_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        which = torch.searchsorted(self.inner.to(x.dtype), x[:, self.time_index].contiguous(), right=True)
        outs = [part(x[which == k]) for k, part in enumerate(self.parts)]
        out = x.new_empty(x.shape[0], outs[0].shape[1])
        for k, y in enumerate(outs):
            out[which == k] = y
        return out


class CausalPINN(PINN):
    """PINN with causal residual weights (Wang, Sankaran & Perdikaris 2022/2024).

    Settings beyond :class:`PINN`'s: ``chunks`` M (32), ``epsilon`` — one ε or a schedule (list,
    default (1e-2, 1e-1, 1, 10, 100)) advanced when min w > ``delta`` (0.99), ``causal_initial``
    (True: the loss of conditions on the initial time enters every weight), ``log_weights_every``
    (100: every so many steps the history stores all M weights; ε and min w are stored every step),
    ``windows`` (1: none) time-marching windows of equal length, each trained for ``iterations``
    Adam (and ``lbfgs_iterations``) steps with its own chunks and ε schedule. Needs a time-dependent problem.
    """

    name = "causal"
    inverse = False  # builds its own networks and conditions: no observations or unknowns yet
    defaults: dict[str, Any] = {
        **PINN.defaults, "chunks": 32, "epsilon": (1e-2, 1e-1, 1.0, 10.0, 100.0), "delta": 0.99,
        "causal_initial": True, "log_weights_every": 100, "windows": 1,
    }

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        reason = super().unsuitable(problem_cls)
        if reason is None and problem_cls.time is None:
            return "it has no time input (causal weights order the residual in time)"
        return reason

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        if int(s["chunks"]) != s["chunks"] or s["chunks"] < 1:
            raise ValueError(f"chunks must be a positive integer, got {s['chunks']!r}")
        eps = s["epsilon"]
        self.epsilons = [float(e) for e in (eps if isinstance(eps, (list, tuple)) else [eps])]
        if not self.epsilons or any(not e > 0 for e in self.epsilons):
            raise ValueError(f"epsilon must be a positive number or a non-empty list of them, got {eps!r}")
        if not 0 < s["delta"] < 1:
            raise ValueError(f"delta must lie in (0, 1), got {s['delta']!r}")
        if int(s["windows"]) != s["windows"] or s["windows"] < 1:
            raise ValueError(f"windows must be a positive integer, got {s['windows']!r}")
        self.time_index = problem.inputs.index(problem.time)
        self.eps_index = 0
        self.weights_now = None
        lo, hi = geometry.bounds(problem.geometry())
        self.edges = np.linspace(lo[self.time_index], hi[self.time_index], s["windows"] + 1).tolist()
        self.window: int | None = None
        """The window being trained (None: the whole interval)."""

    @property
    def epsilon(self) -> float:
        return self.epsilons[self.eps_index]

    def _prepare(self) -> None:
        super()._prepare()
        lo, hi = geometry.bounds(self.geom)
        t0, t1 = lo[self.time_index], hi[self.time_index]
        t = self.sets[0].x[:, self.time_index]
        m = self.settings["chunks"]
        self.sets[0].aux["chunk"] = ((t - t0) / (t1 - t0) * m).long().clamp(0, m - 1)

    def _interior_terms(self, residuals, aux):
        m = self.settings["chunks"]
        return {f"chunks:{k}": self.weights.get(k, 1.0) * chunk_losses(v ** 2, aux["chunk"], m)
                for k, v in residuals.items()}

    def loss(self) -> dict[str, torch.Tensor]:
        """Causally weighted residual terms and the condition terms."""
        raw = super().loss()
        chunked = {k.split(":", 1)[1]: raw.pop(k) for k in list(raw) if k.startswith("chunks:")}
        per_chunk = sum(chunked.values())
        initial = sum(raw[c.name].detach() for c in self.conditions
                      if getattr(c, "on", "") == "initial") if self.settings["causal_initial"] else 0.0
        w = causal_weights(per_chunk, self.epsilon, initial)
        self.weights_now = w
        return {**{k: (w * v).mean() for k, v in chunked.items()}, **raw}

    def _track(self, trainer, record) -> None:
        """History and progress bar get ε and min w; the ε schedule advances once min w > δ."""
        if self.weights_now is None:
            return
        w = self.weights_now
        entry = {"epsilon": self.epsilon, "min_w": float(w.min())}
        if record["phase"] != "adam" or record["step"] % self.settings["log_weights_every"] == 0:
            entry["w"] = w.tolist()
        record["causal"] = entry
        trainer.status.update(eps=self.epsilon, min_w=entry["min_w"])
        if entry["min_w"] > self.settings["delta"] and self.eps_index < len(self.epsilons) - 1:
            self.eps_index += 1

    def _get_extra(self) -> dict:
        return {**super()._get_extra(), "eps_index": self.eps_index}

    def _set_extra(self, extra: dict) -> None:
        super()._set_extra(extra)
        self.eps_index = extra["eps_index"]

    # -- time-marching windows ------------------------------------------------------------------------
    def domain(self):
        geom = self.problem.geometry()
        if self.window is None:
            return geom
        g = dde()
        return g.GeometryXTime(geom.geometry, g.TimeDomain(self.edges[self.window], self.edges[self.window + 1]))

    def active_conditions(self) -> list:
        """The problem's conditions; in later windows without those on the initial time (built in)."""
        conditions = super().active_conditions()
        if not self.window:
            return conditions
        return [c for c in conditions if getattr(c, "on", "") != "initial"]

    def _shifted(self, fn, start: float):
        """``fn`` evaluated with the time input replaced by t - start (``fn`` None: t - start itself)."""
        it = self.time_index

        def shifted(x):
            moved = x.clone()
            moved[:, it] = x[:, it] - start
            return moved[:, it:it + 1] if fn is None else fn(moved)
        return shifted

    def _window_constraint(self, previous: Network, start: float) -> HardConstraint:
        """u(x, t) = previous(x, start) + d(x, t - start) N(x, t): the window starts from the last one."""
        it = self.time_index

        def particular(x):
            at_start = x.clone()
            at_start[:, it] = start
            return previous(at_start)
        base = self.problem.constraint()
        return HardConstraint(particular, self._shifted(base.distance if base is not None else None, start))

    def build_model(self):
        if self.settings["windows"] == 1:
            return super().build_model()
        if self.window is not None:
            return self.full.parts[self.window]
        parts: list[Network] = []
        for k in range(self.settings["windows"]):
            self.window = k
            constraint = self.problem.constraint() if k == 0 else self._window_constraint(parts[-1], self.edges[k])
            parts.append(Network(self.mlp(len(self.problem.outputs)), constraint))
        self.window = None
        return Windows(parts, self.edges, self.time_index).to(self.device, self.dtype)

    def predictor(self) -> nn.Module:
        """While marching: the whole model (windows not trained yet give their untrained guess)."""
        return self.full if self.window is not None else self.model

    def train(self, out=None, resume=False, callbacks=None) -> Result:
        """Train (each window in turn, with ``windows`` > 1); checkpoints go to ``out/checkpoint.pt``,
        or ``out/window-K/checkpoint.pt`` per window, and ``resume`` continues from them."""
        callbacks = [self._track, *(callbacks or [])]
        if self.settings["windows"] == 1:
            self.eps_index = 0
            return super().train(out=out, resume=resume, callbacks=callbacks)
        seed_everything(self.settings["seed"])
        self.full = self.build_model()
        history, timings, interrupted = [], {"train_s": 0.0, "this_session_s": 0.0}, False
        steps = self.config.iterations + self.config.second_steps
        for k in range(self.settings["windows"]):
            self.window, self.eps_index = k, 0
            if self.settings["compile"] is not False:  # a fresh compile per window network, not a pile of recompiles
                torch._dynamo.reset()
            folder = None if out is None else Path(out) / f"window-{k}"
            again = resume and folder is not None and (folder / "checkpoint.pt").is_file()
            part = super().train(out=folder, resume=again, callbacks=callbacks)
            for r in part.history:  # one step axis across the windows; the window is noted with the weights
                r["causal"] = {**r.get("causal", {}), "window": k}
            history += [{**r, "step": r["step"] + k * steps} for r in part.history if r["phase"] == "adam"]
            history += [r for r in part.history if r["phase"] != "adam"]
            for key in timings:
                timings[key] += part.timings[key]
            if part.interrupted:
                interrupted = True
                break
        self.window = None
        self.model = self.full
        return Result(self, self.full, history, timings, self.device, interrupted)

    # -- figures -----------------------------------------------------------------------------------
    def figures(self, history: list[dict], prefix: Path) -> dict[str, Path]:
        """``PREFIX-causal-weights.png``: the weights w_i over training (chunk time vs step) and min w
        with ε vs step. Returns {"causal weights": path}."""
        from sciml.plotting import save_figure, subplots

        m = self.settings["chunks"]
        window = [r.get("causal", {}).get("window", 0) for r in history]
        span = [(self.edges[k], self.edges[k + 1]) for k in window]
        logged = [(r["step"], a, b, r["causal"]["w"]) for r, (a, b) in zip(history, span)
                  if r.get("phase") == "adam" and "w" in r.get("causal", {})]
        tracked = [(r["step"], r["causal"]["min_w"], r["causal"]["epsilon"]) for r in history
                   if r.get("phase") == "adam" and "causal" in r]
        fig, (left, right) = subplots(1, 2, figsize=(13, 4.2))
        if logged:
            steps = np.repeat([s for s, *_ in logged], m)
            times = np.concatenate([a + (b - a) * (np.arange(m) + 0.5) / m for _, a, b, _ in logged])
            dots = left.scatter(steps, times, c=np.concatenate([w for *_, w in logged]), marker="s", s=6,
                                cmap="viridis", vmin=0, vmax=1)
            fig.colorbar(dots, ax=left, label="causal weight w_i [–]")
        left.set_xlabel("Adam step")
        left.set_ylabel(f"chunk time {self.problem.time} [{self.problem.unit(self.problem.time)}]")
        left.set_title(f"causal weights of the {m} time chunks")
        if tracked:
            s_, w_, e_ = zip(*tracked)
            right.plot(s_, w_, color="C0", lw=1, label="min_i w_i")
            right.axhline(self.settings["delta"], color="C0", ls=":", lw=1, label=f"δ = {self.settings['delta']:g}")
            right.set_ylim(0, 1.02)
            other = right.twinx()
            other.semilogy(s_, e_, color="C3", lw=1.2, label="ε")
            other.set_ylabel("ε [–]", color="C3")
            right.legend(loc="lower right", fontsize=8)
        right.set_xlabel("Adam step")
        right.set_ylabel("min w [–]", color="C0")
        right.set_title("smallest weight and the ε schedule")
        path = Path(f"{prefix}-causal-weights.png")
        save_figure(fig, path, dpi=110)
        return {"causal weights": path}
