"""Fields out to VTU (meshio), for ParaView."""

from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np

from .problem import Problem, Reference


def _grid_cells(shape: tuple[int, ...]) -> list[tuple[str, np.ndarray]]:
    """Quad (2-D) or hexahedron (3-D) cells of a C-ordered tensor-product grid of the given shape."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    if len(shape) == 2:
        quads = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], axis=-1)
        return [("quad", quads.reshape(-1, 4))]
    if len(shape) == 3:
        a = idx
        hexes = np.stack([a[:-1, :-1, :-1], a[:-1, :-1, 1:], a[:-1, 1:, 1:], a[:-1, 1:, :-1],
                          a[1:, :-1, :-1], a[1:, :-1, 1:], a[1:, 1:, 1:], a[1:, 1:, :-1]], axis=-1)
        return [("hexahedron", hexes.reshape(-1, 8))]
    raise ValueError(f"grid cells are defined for 2-D and 3-D grids, got shape {shape}")


def write_fields(path: str | Path, problem: Problem, reference: Reference, prediction: np.ndarray) -> Path:
    """Write prediction, reference and |error| of every output at the reference points as VTU.

    Point coordinates are the problem's inputs (a time input becomes a coordinate axis: a
    space-time slab). Tensor-product grids get quad/hexahedron cells, scattered points vertex cells.
    """
    path = Path(path)
    pts = np.asarray(reference.points, float)
    coords = np.zeros((len(pts), 3))
    coords[:, : min(3, pts.shape[1])] = pts[:, :3]
    shape = reference.grid_shape
    cells = _grid_cells(shape) if shape and len(shape) in (2, 3) else [("vertex", np.arange(len(pts))[:, None])]
    data = {}
    cols = reference.columns(problem.outputs)
    for k, name in enumerate(problem.outputs):
        data[f"{name}_pred"] = prediction[:, k]
        if k in cols:
            data[f"{name}_ref"] = reference.values[:, cols.index(k)]
            data[f"{name}_abs_error"] = np.abs(prediction[:, k] - data[f"{name}_ref"])
    meshio.write(path, meshio.Mesh(coords, cells, point_data=data))
    return path
