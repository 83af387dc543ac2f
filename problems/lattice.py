"""Learning crack growth from lattice fracture movies: forecasting and backcasting (DyFraNet-style;
Hsu & Buehler, "DyFraNet: Forecasting and backcasting dynamic fracture mechanics in space and time
using a 2D-to-3D deep neural network", APL Machine Learning 1, 026105, 2023; issue 16).

The movies come from our own dynamic lattice simulator (:mod:`sciml.classical.lattice`; the bundled
set ``data/lattice_fracture.npz`` is described in ``data/lattice_fracture.md``): F = 9 frames of an
R x C = 30 x 40 bool crack mask per movie, pixel [f, i, j] cracked when a bond in row i, column j
(pixels 3 a wide, 1 a high on the 120 a x 30 a strip) has broken by frame f; irreversible. Each movie
has its conditions ``drive`` (strain over the Griffith strain) and ``orientation`` [degrees] and the
simulator's ``branched`` flag.

The task: given one frame k of a movie and its conditions, predict all F frames (k = 0: pure
forecasting; k = F - 1: pure backcasting). A fixed split keeps ``held_out`` of the movies (drawn by
``numpy.random.default_rng(split_seed)``) out of training; every metric is over those.

Metrics (:func:`sequence_metrics`), for every held-out movie predicted from every given frame k:

- forecast N (N = 1 ... F - 1): the pairs (given k, target k + N) for every k with k + N < F;
  backcast N: the pairs (k, k - N) with k - N >= 0. Per N:

  - ``iou``: intersection over union of the cracked pixels of the target frame, pooled over all the
    pairs and held-out movies: sum |predicted ∩ simulated| / sum |predicted ∪ simulated| (pooled, so
    that a movie whose crack did not move weighs by its size, not as one ratio of tiny counts);
  - ``iou_baseline``: the same for the trivial prediction "the given frame repeated";
  - ``tip_error_px``: mean over the pairs of |tip(predicted) - tip(simulated)| of the target frame,
    tip = the largest column index j of a cracked pixel (:func:`tip_px`), in pixels (3 a);
  - ``speed_rel_error``: the crack speed over the N frames from the tip, v = (tip(later frame) -
    tip(earlier frame)) / N [pixels per frame], the given frame's tip being the simulated one; the
    error pooled as sum |v_predicted - v_simulated| / sum |v_simulated| over the pairs.

- ``branching_accuracy``: the fraction of held-out movies whose predicted movie from frame 0 (pure
  forecasting: whether the crack will branch) is classified as the simulator's ``branched`` flag,
  the class read off the predicted last frame by :func:`branched` (a column whose cracked pixels span
  >= :data:`BRANCH_ROWS` rows). ``branching_accuracy_all_frames`` is the same over every given
  frame k; ``branching_rule_accuracy`` the rule applied to the simulated last frames (its ceiling).

``metrics.json`` holds the single numbers below and the branching accuracies at its top level, and
the tables ``forecast`` and ``backcast`` by N under ``extra_metrics`` (the command line prints every
top-level problem metric as a number). Summary figures for bounds: ``iou_min`` (the smallest ``iou`` over both directions and all N),
``tip_error_px_max_n4`` (the largest tip error for N <= 4), ``tip_error_px_n8`` (the larger of
forecast and backcast at N = F - 1), ``speed_rel_error_max`` and ``backcast_ratio_max`` (the largest
over N of backcast error / forecast error, for 1 - iou and the tip error, each ratio counted only
where the forecast error is positive).

Points for ``predict`` are rows (movie, given, frame, x, y): a movie index into the data set, the
given frame k, the predicted frame f, and a position [a] on the strip (the pixel that holds it); the
output ``crack`` is 1 where that pixel is cracked. The reference shown (comparison figure, VTU
series) is the first held-out movie forecast from frame 0.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from sciml.problem import Parameter, Problem, Reference

PIXEL = (3.0, 1.0)
"""(width, height) [a] of a mask pixel of the bundled movies: 120 a x 30 a on 40 x 30 pixels."""
BRANCH_ROWS = 4
"""A movie is classified as branched when in some pixel column its cracked pixels span at least
this many rows (max row - min row): the rule that best reproduces the simulator's ``branched`` flag
(branch width > 3 a) on the simulated last frames of the bundled set's training movies (95.4 %; 3
rows: 94.2 %, 5 rows: 93.8 %)."""
DATA_KEYS = ("masks", "drive", "orientation", "branched")
"""Arrays a movie file must hold (see ``data/lattice_fracture.md``)."""


def split_movies(n: int, held_out: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (sorted) of the training and the held-out movies among ``n``: a permutation by
    ``numpy.random.default_rng(seed)``, its last ceil(held_out n) entries (at least 1, at most n - 1) held out."""
    held = min(n - 1, max(1, int(np.ceil(held_out * n))))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:n - held]), np.sort(order[n - held:])


def tip_px(masks: np.ndarray) -> np.ndarray:
    """Crack tip [pixels] of masks (..., R, C) bool: the largest column index j of a cracked pixel,
    -1 where no pixel is cracked; shape (...)."""
    columns = np.asarray(masks, bool).any(axis=-2)
    last = columns.shape[-1] - 1 - np.argmax(columns[..., ::-1], axis=-1)
    return np.where(columns.any(axis=-1), last, -1)


def branched(masks: np.ndarray) -> np.ndarray:
    """Whether masks (..., R, C) bool show a branched crack: some column's cracked pixels span at
    least :data:`BRANCH_ROWS` rows (largest minus smallest row index); shape (...)."""
    masks = np.asarray(masks, bool)
    rows = np.arange(masks.shape[-2])[:, None]
    top = np.where(masks, rows, -1).max(axis=-2)
    bottom = np.where(masks, rows, masks.shape[-2]).min(axis=-2)
    return (np.where(top >= 0, top - bottom, 0) >= BRANCH_ROWS).any(axis=-1)


def sequence_metrics(predicted: np.ndarray, simulated: np.ndarray, flags: np.ndarray) -> dict:
    """The metrics of the module docstring.

    ``predicted`` (M, F, F, R, C) bool: movie m predicted from its given frame k as
    ``predicted[m, k]`` (F frames); ``simulated`` (M, F, R, C) bool; ``flags`` (M,) bool, the
    simulator's branched flag. Returns {"forecast": {N: {...}}, "backcast": {N: {...}},
    "branching_accuracy", "branching_accuracy_all_frames", "branching_rule_accuracy"} with N = 1 ... F - 1.
    """
    predicted, simulated, flags = np.asarray(predicted, bool), np.asarray(simulated, bool), np.asarray(flags, bool)
    m, f = simulated.shape[:2]
    if predicted.shape != (m, f) + simulated.shape[1:]:
        raise ValueError(f"predicted must have shape {(m, f) + simulated.shape[1:]} (movie, given frame, frame, "
                         f"row, column) for simulated movies of shape {simulated.shape}, got {predicted.shape}")
    if flags.shape != (m,):
        raise ValueError(f"flags must have shape ({m},), one per movie, got {flags.shape}")
    tip_true, tip_pred = tip_px(simulated), tip_px(predicted)  # (M, F), (M, F, F)
    out: dict = {}
    for name, sign in (("forecast", 1), ("backcast", -1)):
        by_n = {}
        for n in range(1, f):
            given = np.arange(f) if sign > 0 else np.arange(f)[::-1]
            given = given[:f - n]
            target = given + sign * n
            pred = predicted[:, given, target]                          # (M, P, R, C)
            true = simulated[:, target]
            base = simulated[:, given]
            union = (pred | true).sum()
            iou = float((pred & true).sum() / union) if union else 1.0
            union_base = (base | true).sum()
            iou_base = float((base & true).sum() / union_base) if union_base else 1.0
            tips = tip_pred[:, given, target]
            error = np.abs(tips - tip_true[:, target])
            moved = np.abs(tip_true[:, target] - tip_true[:, given]).sum()
            by_n[n] = {"iou": iou, "iou_baseline": iou_base, "tip_error_px": float(error.mean()),
                       "speed_rel_error": float(error.sum() / moved) if moved else (0.0 if error.sum() == 0 else np.inf)}
        out[name] = by_n
    classes = branched(predicted[:, :, -1])                             # (M, F)
    out["branching_accuracy"] = float(np.mean(classes[:, 0] == flags))
    out["branching_accuracy_all_frames"] = float(np.mean(classes == flags[:, None]))
    out["branching_rule_accuracy"] = float(np.mean(branched(simulated[:, -1]) == flags))
    return out


def summary(metrics: dict) -> dict[str, float]:
    """The single figures of the module docstring (``iou_min``, ``tip_error_px_max_n4``,
    ``tip_error_px_n8``, ``speed_rel_error_max``, ``backcast_ratio_max``) from
    :func:`sequence_metrics`' output."""
    fore, back = metrics["forecast"], metrics["backcast"]
    last = max(fore)
    ratios = []
    for n in fore:
        for key, error in (("iou", lambda e: 1 - e["iou"]), ("tip", lambda e: e["tip_error_px"])):
            if error(fore[n]) > 0:
                ratios.append(error(back[n]) / error(fore[n]))
    both = [e for d in (fore, back) for e in d.values()]
    return {"iou_min": min(e["iou"] for e in both),
            "tip_error_px_max_n4": max(e["tip_error_px"] for d in (fore, back) for n, e in d.items() if n <= 4),
            "tip_error_px_n8": max(fore[last]["tip_error_px"], back[last]["tip_error_px"]),
            "speed_rel_error_max": max(e["speed_rel_error"] for e in both),
            "backcast_ratio_max": max(ratios) if ratios else 0.0}


class LatticeFracture(Problem):
    name = "lattice-fracture"
    description = ("DyFraNet-style forecasting and backcasting of lattice crack movies: all frames from any one "
                   "frame, the drive and the lattice orientation")
    inputs = ("movie", "given", "frame", "x", "y")
    outputs = ("crack",)
    units = {"movie": "1", "given": "frame", "frame": "frame", "x": "a", "y": "a", "crack": "1"}
    time = "frame"
    pixel = PIXEL
    """(width, height) [a] of a pixel: the scale of the points' x and y."""
    parameters = {
        "data": Parameter("", doc="an .npz of movies written by python -m sciml.classical.lattice (empty: the bundled "
                          "data/lattice_fracture.npz)"),
        "held_out": Parameter(0.2, doc="fraction of the movies held out of training", minimum=0.0, maximum=0.9,
                              exclusive_minimum=True),
        "split_seed": Parameter(0, doc="seed of the held-out split", minimum=0),
    }
    default_solver = "sequence"

    @cached_property
    def movies(self) -> dict[str, np.ndarray]:
        """The data set's arrays: ``masks`` (N, F, R, C) bool, ``drive`` (N,), ``orientation`` (N,)
        [degrees], ``branched`` (N,) bool (the bundled set after its checksum is checked)."""
        if self.data:
            path = Path(self.data)
            if not path.is_file():
                raise ValueError(f"data must be an .npz of lattice movies, got {self.data!r}, which is not a file")
            with np.load(path) as f:
                arrays = {k: f[k] for k in f.files}
        else:
            from sciml import data as bundled

            arrays = bundled.load("lattice_fracture")
        missing = [k for k in DATA_KEYS if k not in arrays]
        if missing:
            raise ValueError(f"the movie file {self.data or 'lattice_fracture.npz'!r} lacks the arrays {missing}")
        masks = np.asarray(arrays["masks"], bool)
        if masks.ndim != 4 or masks.shape[1] < 2 or len(masks) < 2:
            raise ValueError(f"masks must have shape (movies >= 2, frames >= 2, rows, columns), got {masks.shape}")
        return {"masks": masks, "drive": np.asarray(arrays["drive"], float),
                "orientation": np.asarray(arrays["orientation"], float), "branched": np.asarray(arrays["branched"], bool)}

    @property
    def shape(self) -> tuple[int, int, int]:
        """(frames F, rows R, columns C) of a movie."""
        return tuple(self.movies["masks"].shape[1:])

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices (sorted) of the training and the held-out movies (:func:`split_movies` with ``held_out``
        and ``split_seed``)."""
        return split_movies(len(self.movies["masks"]), self.held_out, self.split_seed)

    def points(self, movies: np.ndarray, given: int) -> np.ndarray:
        """Rows (movie, given, frame, x, y) (len(movies) F R C, 5) of every pixel centre of every frame
        of ``movies`` predicted from frame ``given``, in C order (movie, frame, row, column)."""
        f, r, c = self.shape
        mm, ff, ii, jj = np.meshgrid(np.asarray(movies), np.arange(f), np.arange(r), np.arange(c), indexing="ij")
        return np.column_stack([mm.ravel(), np.full(mm.size, given), ff.ravel(), (jj.ravel() + 0.5) * PIXEL[0],
                                (ii.ravel() + 0.5) * PIXEL[1]]).astype(float)

    def predicted_movies(self, predict, movies: np.ndarray) -> np.ndarray:
        """Every movie of ``movies`` (M,) predicted from each of its frames: (M, F, F, R, C) bool."""
        f, r, c = self.shape
        out = np.zeros((len(movies), f, f, r, c), bool)
        for k in range(f):
            out[:, k] = predict(self.points(movies, k))[:, 0].reshape(len(movies), f, r, c) > 0.5
        return out

    def reference(self) -> Reference:
        f, r, c = self.shape
        movie = int(self.split()[1][0])
        x, y = (np.arange(c) + 0.5) * PIXEL[0], (np.arange(r) + 0.5) * PIXEL[1]
        ff, xx, yy = np.meshgrid(np.arange(f), x, y, indexing="ij")
        points = np.column_stack([np.full(ff.size, movie), np.zeros(ff.size), ff.ravel(), xx.ravel(), yy.ravel()])
        values = self.movies["masks"][movie].transpose(0, 2, 1).reshape(-1, 1).astype(float)
        d = self.movies
        return Reference(points.astype(float), values,
                         f"simulated movie {movie} (held out; drive {d['drive'][movie]:.3f}, orientation "
                         f"{d['orientation'][movie]:.1f} deg), forecast from frame 0",
                         grid={"frame": np.arange(f, dtype=float), "x": x, "y": y})

    def plot(self, reference: Reference, prediction: np.ndarray, path, title: str = ""):
        """Simulated against predicted frames of the reference movie (forecast from frame 0), one
        column per frame, a third row marking the wrong pixels."""
        f, r, c = self.shape
        true = reference.values[:, 0].reshape(f, c, r).transpose(0, 2, 1) > 0.5
        pred = prediction[:, 0].reshape(f, c, r).transpose(0, 2, 1) > 0.5
        return _image_grid([("simulated", true), ("predicted from frame 0", pred),
                            ("wrong pixels", true ^ pred)], path, title or reference.source)

    def evaluate(self, predict) -> dict:
        """:func:`sequence_metrics` of ``predict`` (points (N, 5) -> (N, 1)) on the held-out movies."""
        held = self.split()[1]
        return sequence_metrics(self.predicted_movies(predict, held), self.movies["masks"][held],
                                self.movies["branched"][held])

    def metrics(self, predict) -> dict[str, float]:
        """The single figures (numbers) of :func:`summary` and the branching accuracies; the tables by N
        are the solver's to report (the ``sequence`` solver puts them in ``extra_metrics``)."""
        found = self.evaluate(predict)
        return {**summary(found), **{k: v for k, v in found.items() if k.startswith("branching")}}

    def figures(self, predict, out) -> list:
        """``frames.png``: four held-out movies (lowest to highest drive), each simulated, forecast
        from frame 0 and backcast from the last frame."""
        held = self.split()[1]
        picks = held[np.argsort(self.movies["drive"][held])][np.linspace(0, len(held) - 1, min(4, len(held))).astype(int)]
        movies = self.predicted_movies(predict, picks)
        rows = []
        for m, movie in zip(picks, movies):
            label = f"movie {m} (drive {self.movies['drive'][m]:.2f}, {self.movies['orientation'][m]:.0f}°)"
            rows += [(f"{label}\nsimulated", self.movies["masks"][m]), ("forecast from frame 0", movie[0]),
                     (f"backcast from frame {self.shape[0] - 1}", movie[-1])]
        return [_image_grid(rows, Path(out) / "frames.png", "held-out movies: simulated, forecast and backcast")]


def _image_grid(rows: list[tuple[str, np.ndarray]], path, title: str) -> Path:
    """One row per (label, frames (F, R, C) bool), one column per frame, cracked pixels dark,
    the strip drawn to scale (x, y [a])."""
    from sciml.plotting import save_figure, subplots

    f, r, c = rows[0][1].shape
    extent = (0, c * PIXEL[0], 0, r * PIXEL[1])
    fig, axes = subplots(len(rows), f, figsize=(1.9 * f, 0.75 * len(rows) + 0.6), squeeze=False)
    for i, (label, frames) in enumerate(rows):
        for k in range(f):
            ax = axes[i, k]
            ax.imshow(frames[k], origin="lower", cmap="Greys", vmin=0, vmax=1, extent=extent, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"frame {k}", fontsize=8)
            if i == len(rows) - 1:
                ax.set_xlabel(f"x [a], 0–{extent[1]:g}", fontsize=6)
            if k == 0:
                ax.set_ylabel(label, fontsize=6, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
