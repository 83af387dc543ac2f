"""Figures for papers: reference vs prediction vs error, with labelled axes and colourbars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .problem import Problem, Reference


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kwargs):
    """A new figure and its axes, as ``matplotlib.pyplot.subplots`` returns them, but detached from
    pyplot: writing figures selects no backend and leaves pyplot's state alone, so importing or using
    sciml never changes a notebook's backend or its open figures. ``kwargs`` go to ``Figure.subplots``."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_figure(fig, path, dpi: int = 120, **savefig_kwargs) -> Path:
    """Lay out ``fig`` (from :func:`subplots`), write it to ``path`` (PNG at ``dpi``); returns the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi, **savefig_kwargs)
    return Path(path)


def _label(problem: Problem, name: str) -> str:
    unit = problem.unit(name)
    return f"{name} [{unit}]" if unit != "1" else f"{name} [–]"


def plot_comparison(problem: Problem, reference: Reference, prediction: np.ndarray, path: str | Path,
                    title: str = "") -> Path:
    """One row per output: reference, prediction, |error| on the reference grid (2-D grids), plus
    profiles at a few values of the slowest axis (e.g. times) comparing reference and prediction.
    A 3-D grid is shown at the last value of its slowest axis (e.g. the final time)."""
    path = Path(path)
    shape = reference.grid_shape
    if shape is not None and len(shape) == 3:  # e.g. (t, x, y): the last slice of the slowest axis
        (slow, axis), *rest = reference.grid.items()
        last = slice((shape[0] - 1) * shape[1] * shape[2], None)
        plane = Reference(reference.points[last], reference.values[last], reference.source, grid=dict(rest),
                          outputs=reference.outputs)
        return plot_comparison(problem, plane, prediction[last], path, f"{title} ({slow} = {axis[-1]:g})")
    if shape is None or len(shape) != 2:
        raise ValueError("plot_comparison needs a reference on a 2-D grid (or a 3-D grid, shown at its last slice)")
    (slow, a_slow), (fast, a_fast) = reference.grid.items()
    cols = reference.columns(problem.outputs)
    fig, axes = subplots(len(cols), 4, figsize=(17, 3.6 * len(cols)), squeeze=False)
    for k, col in enumerate(cols):
        name = problem.outputs[col]
        ref = reference.values[:, k].reshape(shape)
        pred = prediction[:, col].reshape(shape)
        err = np.abs(pred - ref)
        vmin, vmax = ref.min(), ref.max()
        panels = [(ref, f"reference {name}", "RdBu_r", vmin, vmax), (pred, f"prediction {name}", "RdBu_r", vmin, vmax),
                  (err, f"|error| {name}", "magma", 0, err.max())]
        for ax, (field, label, cmap, lo, hi) in zip(axes[k, :3], panels):
            mesh = ax.pcolormesh(a_slow, a_fast, field.T, cmap=cmap, vmin=lo, vmax=hi, shading="auto")
            fig.colorbar(mesh, ax=ax, label=_label(problem, name))
            ax.set_xlabel(_label(problem, slow))
            ax.set_ylabel(_label(problem, fast))
            ax.set_title(label)
        ax = axes[k, 3]
        for j, idx in enumerate(np.linspace(0, shape[0] - 1, 4).round().astype(int)[1:]):
            color = f"C{j}"
            ax.plot(a_fast, ref[idx], color=color, lw=2, alpha=0.5, label=f"reference, {slow}={a_slow[idx]:.2f}")
            ax.plot(a_fast, pred[idx], color=color, ls="--", lw=1.2, label=f"prediction, {slow}={a_slow[idx]:.2f}")
        ax.set_xlabel(_label(problem, fast))
        ax.set_ylabel(_label(problem, name))
        ax.legend(fontsize=7)
        ax.set_title("profiles")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_solution(problem: Problem, grid: Reference, prediction: np.ndarray, path: str | Path, title: str = "") -> Path:
    """The prediction (M, n_out) on a grid without reference values (:meth:`Problem.solution_grid`):
    one row per output, the field (2-D grids; a 3-D grid at the last value of its slowest axis) and
    profiles at a few values of the slowest axis, or the curve of a 1-D grid. Points outside the
    domain are NaN in ``prediction`` and left blank."""
    path = Path(path)
    shape = grid.grid_shape
    if shape is not None and len(shape) == 3:
        (slow, axis), *rest = grid.grid.items()
        last = slice((shape[0] - 1) * shape[1] * shape[2], None)
        plane = Reference(grid.points[last], grid.values[last], grid.source, grid=dict(rest), outputs=())
        return plot_solution(problem, plane, prediction[last], path, f"{title} ({slow} = {axis[-1]:g})")
    if shape is None or len(shape) not in (1, 2):
        raise ValueError(f"plot_solution needs a grid of 1 to 3 axes, got {shape}")
    names = list(grid.grid)
    n_out = len(problem.outputs)
    fig, axes = subplots(n_out, 2 if len(shape) == 2 else 1, figsize=(11 if len(shape) == 2 else 6, 3.6 * n_out),
                         squeeze=False)
    for k, name in enumerate(problem.outputs):
        field = prediction[:, k].reshape(shape)
        if len(shape) == 1:
            ax = axes[k, 0]
            ax.plot(grid.grid[names[0]], field, color="C0")
            ax.set_xlabel(_label(problem, names[0]))
            ax.set_ylabel(_label(problem, name))
            ax.set_title(f"prediction {name}")
            continue
        (slow, a_slow), (fast, a_fast) = grid.grid.items()
        ax = axes[k, 0]
        mesh = ax.pcolormesh(a_slow, a_fast, field.T, cmap="RdBu_r", shading="auto")
        fig.colorbar(mesh, ax=ax, label=_label(problem, name))
        ax.set_xlabel(_label(problem, slow))
        ax.set_ylabel(_label(problem, fast))
        ax.set_title(f"prediction {name}")
        ax = axes[k, 1]
        for j, idx in enumerate(np.linspace(0, shape[0] - 1, 4).round().astype(int)[1:]):
            ax.plot(a_fast, field[idx], color=f"C{j}", label=f"{slow}={a_slow[idx]:.2f}")
        ax.set_xlabel(_label(problem, fast))
        ax.set_ylabel(_label(problem, name))
        ax.legend(fontsize=7)
        ax.set_title("profiles")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
