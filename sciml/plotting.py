"""Figures for papers: reference vs prediction vs error, with labelled axes and colourbars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .problem import Problem, Reference  # noqa: E402


def _label(problem: Problem, name: str) -> str:
    unit = problem.unit(name)
    return f"{name} [{unit}]" if unit != "1" else f"{name} [–]"


def plot_comparison(problem: Problem, reference: Reference, prediction: np.ndarray, path: str | Path,
                    title: str = "") -> Path:
    """One row per output: reference, prediction, |error| on the reference grid (2-D grids), plus
    profiles at a few values of the slowest axis (e.g. times) comparing reference and prediction."""
    path = Path(path)
    shape = reference.grid_shape
    if shape is None or len(shape) != 2:
        raise ValueError("plot_comparison needs a reference on a 2-D grid")
    (slow, a_slow), (fast, a_fast) = reference.grid.items()
    n_out = len(problem.outputs)
    fig, axes = plt.subplots(n_out, 4, figsize=(17, 3.6 * n_out), squeeze=False)
    for k, name in enumerate(problem.outputs):
        ref = reference.values[:, k].reshape(shape)
        pred = prediction[:, k].reshape(shape)
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
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
