"""Fields out to VTU (meshio) for ParaView: vectors as vectors, time-dependent fields as a time series."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import meshio
import numpy as np

from .problem import Problem, Reference


def _grid_cells(shape: tuple[int, ...]) -> list[tuple[str, np.ndarray]]:
    """Line (1-D), quad (2-D) or hexahedron (3-D) cells of a C-ordered tensor-product grid of the given shape."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    if len(shape) == 1:
        return [("line", np.stack([idx[:-1], idx[1:]], axis=-1))]
    if len(shape) == 2:
        quads = np.stack([idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]], axis=-1)
        return [("quad", quads.reshape(-1, 4))]
    if len(shape) == 3:
        a = idx
        hexes = np.stack([a[:-1, :-1, :-1], a[:-1, :-1, 1:], a[:-1, 1:, 1:], a[:-1, 1:, :-1],
                          a[1:, :-1, :-1], a[1:, :-1, 1:], a[1:, 1:, 1:], a[1:, 1:, :-1]], axis=-1)
        return [("hexahedron", hexes.reshape(-1, 8))]
    raise ValueError(f"grid cells are defined for 1-D, 2-D and 3-D grids, got shape {shape}")


def point_data(problem: Problem, reference: Reference, prediction: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays a VTU file holds at the reference points (M of them): each output of the
    prediction under its own name, the reference as ``NAME_reference`` and the difference as
    ``NAME_error`` where the reference has that output. The outputs a problem groups into a vector
    (:attr:`Problem.vectors`, e.g. velocity from u and v) are written as one (M, 3) vector each
    (missing components zero), the same way, instead of as separate scalars."""
    cols = reference.columns(problem.outputs)
    ref = {problem.outputs[c]: reference.values[:, k] for k, c in enumerate(cols)}
    pred = {name: prediction[:, k] for k, name in enumerate(problem.outputs)}
    data: dict[str, np.ndarray] = {}
    grouped = {c for comps in problem.vectors.values() for c in comps}

    def vector(values: dict[str, np.ndarray], comps: tuple[str, ...]) -> np.ndarray:
        v = np.zeros((len(reference.points), 3))
        for k, c in enumerate(comps):
            v[:, k] = values[c]
        return v

    for name, comps in problem.vectors.items():
        data[name] = vector(pred, comps)
        if all(c in ref for c in comps):
            data[f"{name}_reference"] = vector(ref, comps)
            data[f"{name}_error"] = data[name] - data[f"{name}_reference"]
    for name in problem.outputs:
        if name in grouped:
            continue
        data[name] = pred[name]
        if name in ref:
            data[f"{name}_reference"] = ref[name]
            data[f"{name}_error"] = pred[name] - ref[name]
    return data


def _mesh(points: np.ndarray, shape: tuple[int, ...] | None, data: dict[str, np.ndarray]) -> meshio.Mesh:
    coords = np.zeros((len(points), 3))
    coords[:, : min(3, points.shape[1])] = points[:, :3]
    cells = _grid_cells(shape) if shape and 1 <= len(shape) <= 3 else [("vertex", np.arange(len(points))[:, None])]
    return meshio.Mesh(coords, cells, point_data=data)


def write_fields(out: str | Path, problem: Problem, reference: Reference, prediction: np.ndarray) -> Path:
    """Write the prediction (M, n_out) at the reference points, with the reference and the error
    (:func:`point_data`), into the folder ``out`` for ParaView; returns the file to open.

    A time-dependent problem whose reference is a grid with a time axis becomes a time series:
    ``fields.pvd`` (a ParaView collection with each file's time) over ``fields/fields_NNNN.vtu``, one
    file per time with the spatial grid (the spatial inputs as x, y, z). Otherwise one
    ``fields.vtu``; tensor-product grids get line/quad/hexahedron cells, scattered points vertex cells.
    """
    out = Path(out)
    pts = np.asarray(reference.points, float)
    data = point_data(problem, reference, prediction)
    grid = reference.grid
    if problem.time is None or grid is None or problem.time not in grid:
        return _write_vtu(out / "fields.vtu", _mesh(pts, reference.grid_shape, data))
    names = list(grid)
    t_axis = names.index(problem.time)
    shape = reference.grid_shape
    spatial = [problem.inputs.index(n) for n in names if n != problem.time]
    series = out / "fields"
    series.mkdir(parents=True, exist_ok=True)
    for old in series.glob("fields_*.vtu"):
        old.unlink()
    entries = []
    for k, t in enumerate(grid[problem.time]):
        index = np.moveaxis(np.arange(len(pts)).reshape(shape), t_axis, 0)[k].ravel()
        mesh = _mesh(pts[index][:, spatial], tuple(s for j, s in enumerate(shape) if j != t_axis),
                     {key: value[index] for key, value in data.items()})
        entries.append((float(t), _write_vtu(series / f"fields_{k:04d}.vtu", mesh)))
    return write_pvd(out / "fields.pvd", entries)


def _write_vtu(path: Path, mesh: meshio.Mesh) -> Path:
    meshio.write(path, mesh)
    return path


def write_pvd(path: str | Path, entries: list[tuple[float, Path]]) -> Path:
    """A ParaView collection (.pvd) of VTU files at times: ``entries`` is [(time, file)], the files
    referenced relative to the collection's folder."""
    path = Path(path)
    root = ET.Element("VTKFile", type="Collection", version="0.1")
    collection = ET.SubElement(root, "Collection")
    for t, file in entries:
        ET.SubElement(collection, "DataSet", timestep=repr(float(t)), part="0",
                      file=Path(file).relative_to(path.parent).as_posix())
    ET.indent(root)
    ET.ElementTree(root).write(path, xml_declaration=True, encoding="utf-8")
    return path


def read_pvd(path: str | Path) -> list[tuple[float, meshio.Mesh]]:
    """The (time, mesh) pairs of a ``.pvd`` collection written by :func:`write_pvd`, in file order."""
    path = Path(path)
    sets = ET.parse(path).getroot().iter("DataSet")
    return [(float(d.get("timestep")), meshio.read(path.parent / d.get("file"))) for d in sets]
