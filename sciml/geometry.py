"""Geometry and sampling, by way of DeepXDE's geometry module (CSG, boundary sampling, normals).

DeepXDE's import has side effects we do not want in a library: it announces its backend and, on a
machine with CUDA, makes CUDA the process-wide default torch device. :func:`dde` imports it once,
quietly, with the pytorch backend, and puts the default device back as it was.
"""

from __future__ import annotations

import contextlib
import io
import os
from functools import lru_cache

import numpy as np
import torch

from .device import set_default_device


@lru_cache(maxsize=1)
def dde():
    """The ``deepxde.geometry`` module (imported once, without side effects on torch defaults)."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    device = torch.get_default_device()
    dtype = torch.get_default_dtype()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import deepxde.geometry as geometry
    if torch.get_default_device() != device:
        set_default_device(device)
    torch.set_default_dtype(dtype)
    return geometry


def bounds(geom) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box (lower, upper) of a DeepXDE geometry, time appended as the last coordinate."""
    if hasattr(geom, "timedomain"):
        lo, hi = bounds(geom.geometry)
        return np.append(lo, geom.timedomain.t0), np.append(hi, geom.timedomain.t1)
    if hasattr(geom, "bbox"):
        lo, hi = geom.bbox
        return np.atleast_1d(np.asarray(lo, float)), np.atleast_1d(np.asarray(hi, float))
    return np.array([geom.t0], float), np.array([geom.t1], float)


def sample(geom, n: int, where: str = "interior") -> np.ndarray:
    """``n`` pseudo-random points (n, d) in the interior, on the boundary, or at the initial time.

    Draws from NumPy's global generator, which the trainer seeds and checkpoints.
    """
    if n <= 0:
        raise ValueError(f"number of points must be positive, got {n}")
    if where == "interior":
        pts = geom.random_points(n)
    elif where == "boundary":
        pts = geom.random_boundary_points(n)
    elif where == "initial":
        if not hasattr(geom, "random_initial_points"):
            raise ValueError("initial points need a space-time geometry (deepxde GeometryXTime)")
        pts = geom.random_initial_points(n)
    else:
        raise ValueError(f"unknown sampling location {where!r}; use 'interior', 'boundary' or 'initial'")
    return np.asarray(pts, dtype=np.float64)
