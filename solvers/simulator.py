"""The lattice simulator as a predictor of crack movies: ``sciml run lattice-fracture --solver simulator``.

It predicts a movie by running the lattice simulator (:func:`sciml.classical.lattice.simulate`) again
at the movie's orientation and at its drive changed by a relative ``perturbation``, on the strip,
frame times and pixel grid the movie file records; the given frame is imposed as the sequence network
imposes it (:mod:`sciml.solvers.sequence`: before it a pixel is cracked only where both the run and the
given frame have it, at it the given frame, after it where either has it). It is the forecast of a
model that is the physics itself and knows the drive only to that precision: with ``perturbation`` 0
it reproduces the simulated movies exactly, and at a perturbation finer than the training movies'
drives are spaced its metrics show how far the movies can be forecast from their conditions at all
(where a crack branches, small changes of the drive can change the pattern).

With ``members`` M > 1 it runs an ensemble instead: M runs at drives spread evenly over
drive (1 +- ``perturbation``), at drive (1 + u_i ``perturbation``) with u_i = (2 i + 1) / M - 1 (for even
M none at the movie's own drive). From a given frame it reads the runs that agree with it: those whose crack
tip in that frame lies nearest the given frame's tip (all M from the first frame, where every run starts
from the same seed crack); the cracked probability of a pixel is the share of those runs that crack it, read
into masks as the sequence solver reads its network's (``decoding``). A run started anew does not sit where
the given frame's crack is (one whose crack runs ahead of it or lags behind it forecasts from the wrong
place), and the given frame tells which of the drives in the spread are still likely. It is a model that is
the physics and knows of the drive only that it lies within the spread: the runs' common outcome where the
crack does not depend on where in the spread the drive lies, their majority where it does. At the spread of
the drive over which a held-out movie's nearest training movie lies, it measures, by one simple reading of
the physics (a finer one could read more of the given frame than its tip), how far the movies can be
forecast from conditions known as finely as the training movies resolve them.

Its "training" simulates the held-out movies (the ones every metric is over) once and keeps them in
the result, so the result saves and loads like a trained one; a movie of other conditions is
simulated when it is asked for. A problem this solver takes provides what the sequence solver needs
(``movies``, ``split()``, ``shape``, ``pixel``) and ``data``: the movie file (empty: the bundled
``data/lattice_fracture.npz``), which must hold the simulator's settings as
``python -m sciml.classical.lattice`` writes them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sciml.classical import lattice
from sciml.solver import Result, Solver
from sciml.solvers.sequence import REQUIRED, MovieField, check_decoding, impose_given, tip_column

SETTINGS = ("length", "height", "seed_crack", "initiation", "critical_strain", "dt", "damping")
"""The simulator's settings a movie file records (scalars), passed to :func:`~sciml.classical.lattice.simulate`."""


def simulation_settings(problem) -> dict[str, Any]:
    """The strip, material and time-stepping settings and the frame ``times`` [sqrt(m/k)] of the
    problem's movie file (``problem.data``, or the bundled set)."""
    if problem.data:
        with np.load(problem.data) as f:
            arrays = {k: f[k] for k in f.files}
    else:
        from sciml import data as bundled

        arrays = bundled.load("lattice_fracture")
    missing = [k for k in (*SETTINGS, "times") if k not in arrays]
    if missing:
        raise ValueError(f"the movie file {problem.data or 'lattice_fracture.npz'!r} lacks the simulator's settings "
                         f"{missing}: the simulator solver needs a file written by python -m sciml.classical.lattice")
    return {**{k: float(arrays[k]) for k in SETTINGS}, "times": np.asarray(arrays["times"], float)}


class SimulatedMovies(nn.Module):
    """Movies of the lattice simulator at (drive (1 + ``perturbation``), orientation), or with ``members``
    M > 1 the share of those of M runs spread over drive (1 +- ``perturbation``) that agree with the given frame
    (module docstring), called like :class:`~sciml.solvers.sequence.SequenceNet`: (given frames (P, R, C), their
    indices (P,), drives (P,), orientations (P,)) -> cracked probabilities (P, F, R, C) (0 and 1 for one run), the
    given frame imposed (module docstring).

    ``conditions`` (K, 2) and ``movies`` (K, M, F, R, C) of 0 and 1 are the runs kept for K conditions (frozen
    parameters, so they save with the result); other conditions are simulated when asked for.
    ``condition_mean`` is the mean (drive, orientation) of the kept conditions."""

    def __init__(self, settings: dict[str, Any], shape: tuple[int, int, int], perturbation: float, kept: int,
                 members: int = 1):
        super().__init__()
        self.settings = settings
        self.changes = [perturbation] if members == 1 else [perturbation * ((2 * i + 1) / members - 1)
                                                            for i in range(members)]
        self.frames, self.rows, self.columns = shape
        self.conditions = nn.Parameter(torch.zeros(kept, 2, dtype=torch.float64), requires_grad=False)
        self.movies = nn.Parameter(torch.zeros(kept, len(self.changes), *shape), requires_grad=False)

    @property
    def condition_mean(self) -> Tensor:
        return self.conditions.mean(0)

    def simulate(self, drive: float, orientation: float) -> np.ndarray:
        """The masks (M, F, R, C) bool of the runs at ``drive`` (1 + change) for each change of the ensemble (one:
        ``perturbation``) and ``orientation`` [degrees]."""
        s = {k: v for k, v in self.settings.items() if k != "times"}
        return np.array([lattice.crack_masks(lattice.simulate(drive * (1.0 + change), orientation,
                                                              t_end=float(self.settings["times"][-1]),
                                                              stop_margin=-1.0, **s),
                                             self.settings["times"], (self.rows, self.columns))
                         for change in self.changes])

    def keep(self, drives: np.ndarray, orientations: np.ndarray, progress: bool = False) -> None:
        """Simulate and keep the runs of ``drives`` and ``orientations`` (K,), one condition after the other."""
        runs = [self.simulate(d, o) for d, o in tqdm(list(zip(drives, orientations)), desc="lattice-fracture/simulator",
                                                      disable=not progress)]
        self.conditions.data = torch.as_tensor(np.column_stack([drives, orientations]), dtype=torch.float64)
        self.movies.data = torch.as_tensor(np.array(runs), dtype=torch.float32)

    def forward(self, frame: Tensor, given: Tensor, drive: Tensor, orientation: Tensor) -> Tensor:
        kept = self.conditions.detach().cpu().numpy()
        cracked = (frame > 0.5).to(frame.dtype)
        out = []
        for g, k, d, o in zip(cracked, given.tolist(), drive.double().cpu().numpy(), orientation.double().cpu().numpy()):
            hit = np.flatnonzero((kept[:, 0] == d) & (kept[:, 1] == o))
            runs = self.movies[hit[0]] if len(hit) else torch.as_tensor(self.simulate(d, o))
            runs = runs.to(dtype=frame.dtype, device=frame.device)                            # (M, F, R, C)
            off = (tip_column(runs[:, k]) - tip_column(g[None])).abs()                        # (M,)
            out.append(runs[off == off.min()].mean(0))
        return impose_given(torch.stack(out), cracked, given.to(frame.device))


class Simulator(Solver):
    """The lattice simulator at a perturbed drive, as a predictor of crack movies (a ceiling for learnt ones)

    Settings: ``perturbation``, the relative change of the drive (0: the movies exactly), or with ``members``
    M > 1 (1 by default) the half-width of the ensemble's spread of drives (module docstring); ``decoding``, how the
    ensemble's probabilities become masks (:func:`~sciml.solvers.sequence.crack_masks`, ``"column"`` by default as
    for the sequence solver; one run's 0/1 movies read alike either way); ``progress``; ``seed`` and ``device`` are
    accepted for the common interface (the simulator is deterministic and runs on the CPU)."""

    name = "simulator"
    defaults: dict[str, Any] = {"perturbation": 1e-3, "members": 1, "decoding": "column", "seed": 0, "device": None,
                                "progress": True}

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        p = self.settings["perturbation"]
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not np.isfinite(p) or not -1 < p < 1:
            raise ValueError(f"perturbation must be a relative change of the drive in (-1, 1), got {p!r}")
        m = self.settings["members"]
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise ValueError(f"members must be an integer >= 1 (the runs of the ensemble), got {m!r}")
        check_decoding(self.settings["decoding"])

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        missing = [name for name in REQUIRED if not hasattr(problem_cls, name)]
        missing += [] if "data" in getattr(problem_cls, "parameters", {}) else ["a data parameter"]
        if missing:
            return f"it has no lattice movies to simulate again (it lacks {', '.join(missing)})"
        return None

    def build_model(self) -> MovieField:
        p = self.problem
        s = self.settings
        net = SimulatedMovies(simulation_settings(p), p.shape, float(s["perturbation"]), len(p.split()[1]),
                              int(s["members"]))
        return MovieField(net, p.movies, p.pixel, s["decoding"])

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> Result:
        """Simulate the held-out movies at the perturbed drive (or drives) and keep them."""
        if resume:
            raise ValueError("the simulator solver keeps no checkpoint to resume from: run it again without resume")
        began = time.perf_counter()
        model = self.build_model()
        held = self.problem.split()[1]
        movies = self.problem.movies
        model.net.keep(movies["drive"][held], movies["orientation"][held], self.settings["progress"])
        elapsed = time.perf_counter() - began
        return Result(self, model, [], {"train_s": elapsed, "this_session_s": elapsed}, torch.device("cpu"))

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """The held-out tables ``forecast`` and ``backcast`` by N (:func:`sciml.problems.lattice.sequence_metrics`),
        as the sequence solver reports them, and the number of held-out movies."""
        found = self.problem.evaluate(result.predict)
        return {"forecast": found["forecast"], "backcast": found["backcast"],
                "held_out_movies": len(self.problem.split()[1])}
