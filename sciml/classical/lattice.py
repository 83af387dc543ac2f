"""Dynamic brittle fracture of a 2-D triangular spring lattice: crack movies for forecasting/backcasting.

Model (lattice units: spacing a, spring stiffness k, particle mass m; times in sqrt(m/k))
-----------------------------------------------------------------------------------------
Particles sit on a triangular lattice of spacing ``a``, rotated by ``orientation`` (degrees; the
lattice's bond directions are orientation + 0, 60, 120 degrees from the strip axis x; by the six-fold
symmetry and the mirror, 0..30 degrees covers every distinct orientation), cut to the strip
0 <= x <= ``length``, 0 <= y <= ``height``. Each pair of nearest neighbours is joined by a central
harmonic spring, force k (r - a) along the current bond (geometrically exact), plus an optional bond
dashpot ``damping`` * (relative velocity along the bond) [sqrt(k m)]. A bond whose strain (r - a)/a
exceeds ``critical_strain`` breaks for good (brittle, irreversible).

Elasticity of the lattice (linear, isotropic): lambda = mu = sqrt(3) k / 4 (per unit area of the
plane), area density rho = 2 m / (sqrt(3) a^2), so the shear speed c_s = sqrt(mu/rho) =
a sqrt(k/m) sqrt(3/8), the longitudinal speed c_l = sqrt(3) c_s, the Rayleigh speed c_R = 0.9194 c_s
and the Yoffe speed (the hoop-stress maximum leaves the crack line) 0.631 c_s for c_l/c_s = sqrt(3)
(E. H. Yoffe, "The moving Griffith crack", Phil. Mag. 42, 739 (1951); L. B. Freund, "Dynamic
Fracture Mechanics", Cambridge 1990). :func:`measured_moduli` checks
lambda and mu against a homogeneous deformation of the lattice.

Strip and drive (Marder & Gross 1995, "Origin of crack tip instabilities", J. Mech. Phys. Solids 43, 1)
-----------------------------------------------------------------------------------------------------
The atoms within sqrt(3) a / 2 of the top and bottom edges are the grips: they are
displaced by u_y = eps (y - y_mid) and held there (clamped in x and y). A seed crack is cut along the
mid-line y_mid from the left edge to x = ``seed_crack`` (every bond crossing the line there is removed).

Griffith strain. Far ahead of the tip the strip is in uniaxial strain eps_yy = eps, energy per area
(lambda + 2 mu) eps^2 / 2 with the plane (uniaxial-strain) modulus lambda + 2 mu = 3 sqrt(3) k / 4;
far behind it both halves hang unstrained from their grips. A crack advancing by dx along the strip
therefore releases (lambda + 2 mu) eps^2 H dx / 2, H = the distance between the grips (mean y of the
top grip atoms minus that of the bottom ones; exact for orientation 0, where the grips are single
atom rows). It costs 2 gamma dx, the surface energy of the two new faces: every bond cut stores
k (critical_strain a)^2 / 2 when it snaps, and a straight cut along x crosses
n(theta) = 2 / (sqrt(3) a^2) * a * sum_j |sin(theta + 60 j)| bonds per unit length (n = 2/a at
theta = 0, the close-packed row; 4/(sqrt(3) a) at 30 degrees), so 2 gamma = n(theta) k a^2 eps_c^2 / 2.
Balance gives the Griffith strain

    eps_G = eps_c sqrt( 4 n(theta) a^2 / (3 sqrt(3) H) ),   = eps_c sqrt(8 a / (3 sqrt(3) H)) at theta = 0,

and the load is given as the drive Delta = eps / eps_G (Marder & Gross's Delta). Below Delta = 1 a crack
cannot run (energy); a static seed crack is trapped by the lattice far above it (to Delta = 1.82 at
orientation 0), so :func:`simulate` starts the crack moving by cutting a few bonds ahead of the seed at a
set speed; from there it arrests below a dynamic threshold, runs straight at a speed that rises with
Delta and stays below c_R, and at higher drive breaks bonds off the crack line (branching), the
onset being near the Yoffe speed — the checks of ``tests/test_lattice.py``; measured numbers in
data/lattice_fracture.md. The energy release at Delta = 1 equals 2 gamma to 1e-5 at orientation 0 and
1 % at 30 degrees (static solves, tested).

Time stepping. The strip starts in the static equilibrium of the linearised lattice with the seed crack
(sparse solve, geometric nonlinearity O(eps^2) left out), then moves by velocity Verlet (the dashpot
uses the half-step velocity). Verlet is stable for dt < 2 / omega_max; the largest phonon frequency
of the triangular lattice is omega_max = sqrt(6 k / m) (M point of the zone), so dt < 0.816 sqrt(m/k);
the default dt = 0.1 sqrt(m/k) keeps omega_max dt = 0.24 (phase error omega^2 dt^2 / 24 < 0.3 %).
Bonds break at the step their strain first exceeds eps_c.

Outputs. :func:`simulate` returns the break time of every bond; everything else follows from it: the
crack tip x_tip(t) (the largest x of a broken bond's midpoint), the steady crack speed
(:func:`crack_speed`), the off-line damage (:func:`branch_width`) and crack masks on a coarse pixel
grid (:func:`crack_masks`): a pixel is cracked at time t when a bond whose midpoint lies in it has
broken by t, so masks are irreversible by construction. :func:`generate_dataset` and the command

    python -m sciml.classical.lattice --movies N --seed S --out data/lattice_fracture.npz

write movies over a range of drives and orientations. This module depends on numpy and scipy only.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

SQRT3 = math.sqrt(3.0)
RAYLEIGH = 0.9194
"""c_R / c_s for c_l / c_s = sqrt(3) (the root of the Rayleigh equation for Poisson ratio 1/4 in plane strain)."""
YOFFE = 0.631
"""The Yoffe speed / c_s for c_l / c_s = sqrt(3): above it the hoop stress peaks off the crack line."""
FLOPPY_SPRING = 1e-9
"""Stiffness [k] of the spring that holds an atom's loose direction in :func:`static_displacement`."""


def wave_speeds(a: float = 1.0, k: float = 1.0, m: float = 1.0) -> dict[str, float]:
    """Closed-form speeds of the lattice [a sqrt(k/m)]: shear ``c_s``, longitudinal ``c_l``,
    Rayleigh ``c_R`` and Yoffe ``c_Y``."""
    c_s = a * math.sqrt(k / m) * math.sqrt(3.0 / 8.0)
    return {"c_s": c_s, "c_l": SQRT3 * c_s, "c_R": RAYLEIGH * c_s, "c_Y": YOFFE * c_s}


def lame_constants(k: float = 1.0) -> tuple[float, float]:
    """(lambda, mu) = (sqrt(3) k / 4, sqrt(3) k / 4) of the triangular spring lattice [k per unit depth]."""
    return SQRT3 * k / 4.0, SQRT3 * k / 4.0


def bonds_per_length(orientation: float, a: float = 1.0) -> float:
    """Bonds a straight cut along x crosses per unit length [1/a] for a lattice rotated by
    ``orientation`` degrees: 2/(sqrt(3) a) * sum_j |sin(theta + 60 j)|, 2/a at 0 degrees."""
    theta = np.radians(orientation + np.array([0.0, 60.0, 120.0]))
    return float(2.0 / (SQRT3 * a) * np.abs(np.sin(theta)).sum())


def griffith_strain(height: float, critical_strain: float, orientation: float = 0.0, a: float = 1.0) -> float:
    """Griffith grip strain of the strip (module docstring): eps_c sqrt(4 n(theta) a^2 / (3 sqrt(3) H)),
    H = ``height`` the grip-to-grip distance [a]."""
    if height <= 0:
        raise ValueError(f"height must be positive, got {height}")
    return critical_strain * math.sqrt(4.0 * bonds_per_length(orientation, a) * a * a / (3.0 * SQRT3 * height))


@dataclass
class Strip:
    """A triangular-lattice strip: reference ``positions`` (n, 2) [a], ``bonds`` (nb, 2) atom indices,
    boolean ``grip_bottom`` / ``grip_top`` (n,), ``grip_distance`` H [a], ``y_mid`` [a], and its size
    ``length`` x ``height`` [a], ``orientation`` [degrees], ``a``."""

    positions: np.ndarray
    bonds: np.ndarray
    grip_bottom: np.ndarray
    grip_top: np.ndarray
    grip_distance: float
    y_mid: float
    length: float
    height: float
    orientation: float
    a: float

    @property
    def midpoints(self) -> np.ndarray:
        """Reference midpoints of the bonds, (nb, 2) [a]."""
        return 0.5 * (self.positions[self.bonds[:, 0]] + self.positions[self.bonds[:, 1]])


def make_strip(length: float, height: float, orientation: float = 0.0, a: float = 1.0,
               grip: float | None = None) -> Strip:
    """The lattice sites of a triangular lattice rotated by ``orientation`` degrees inside
    [0, length] x [0, height] [a] and their nearest-neighbour bonds; atoms left with fewer than three
    bonds at the cut edges are dropped (repeatedly), so every atom is held in the plane."""
    if not 0.0 <= orientation <= 30.0:
        raise ValueError(f"orientation must lie in [0, 30] degrees (the others are equivalent), got {orientation}")
    if length <= 0 or height <= 2 * a:
        raise ValueError(f"the strip must have length > 0 and height > 2a, got {length} x {height}")
    theta = math.radians(orientation)
    e1 = a * np.array([math.cos(theta), math.sin(theta)])
    e2 = a * np.array([math.cos(theta + math.pi / 3), math.sin(theta + math.pi / 3)])
    reach = int(math.ceil(2.0 * (length + height) / a)) + 2
    idx = np.arange(-reach, reach + 1)
    i, j = np.meshgrid(idx, idx, indexing="ij")
    # centre the lattice; at orientation 0 an odd number of row gaps puts the mid-line between two rows
    gaps = int(math.floor(height / (a * SQRT3 / 2)))
    gaps -= 1 - gaps % 2
    offset = np.array([0.0, 0.5 * (height - gaps * a * SQRT3 / 2)])
    pts = i[..., None] * e1 + j[..., None] * e2 + offset
    tol = 1e-9 * a
    inside = ((pts[..., 0] >= -tol) & (pts[..., 0] <= length + tol)
              & (pts[..., 1] >= -tol) & (pts[..., 1] <= height + tol))
    number = -np.ones(inside.shape, dtype=np.int64)
    while True:
        number[:] = -1
        number[inside] = np.arange(int(inside.sum()))
        pairs = []
        for di, dj in ((1, 0), (0, 1), (-1, 1)):
            src = number[max(0, -di):number.shape[0] - max(0, di), :number.shape[1] - dj]
            dst = number[max(0, di):number.shape[0] + min(0, di) or None, dj:]
            ok = (src >= 0) & (dst >= 0)
            pairs.append(np.stack([src[ok], dst[ok]], axis=1))
        bonds = np.concatenate(pairs)
        degree = np.bincount(bonds.ravel(), minlength=int(inside.sum()))
        if degree.min() >= 3:
            break
        weak = np.zeros(inside.shape, dtype=bool)
        weak[inside] = degree < 3
        inside &= ~weak
    positions = pts[inside]
    y = positions[:, 1]
    band = (a * SQRT3 / 2 if grip is None else grip) - 1e-6 * a
    bottom = y <= y.min() + band
    top = y >= y.max() - band
    return Strip(positions=positions, bonds=bonds, grip_bottom=bottom, grip_top=top,
                 grip_distance=float(y[top].mean() - y[bottom].mean()), y_mid=0.5 * height,
                 length=float(length), height=float(height), orientation=float(orientation), a=float(a))


def seed_bonds(strip: Strip, seed: float) -> np.ndarray:
    """Boolean (nb,): the bonds crossing the mid-line y = y_mid with midpoint x < ``seed`` [a]."""
    y = strip.positions[strip.bonds, 1]
    crosses = (y.min(axis=1) < strip.y_mid) & (y.max(axis=1) >= strip.y_mid)
    return crosses & (strip.midpoints[:, 0] < seed)


def _stiffness(strip: Strip, alive: np.ndarray, k: float) -> sp.csr_matrix:
    """Linearised stiffness matrix (2n x 2n) of the intact bonds ``alive``: k n n^T per bond."""
    p, q = strip.bonds[alive, 0], strip.bonds[alive, 1]
    d = strip.positions[q] - strip.positions[p]
    nvec = d / np.linalg.norm(d, axis=1, keepdims=True)
    rows, cols, vals = [], [], []
    for s in range(2):
        for t in range(2):
            kst = k * nvec[:, s] * nvec[:, t]
            for a_, b_, sign in ((p, p, 1.0), (q, q, 1.0), (p, q, -1.0), (q, p, -1.0)):
                rows.append(2 * a_ + s)
                cols.append(2 * b_ + t)
                vals.append(sign * kst)
    n2 = 2 * len(strip.positions)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n2, n2))


def static_displacement(strip: Strip, strain: float, alive: np.ndarray, k: float = 1.0) -> np.ndarray:
    """Static equilibrium displacement (n, 2) [a] of the linearised lattice with the intact bonds
    ``alive`` and the grips displaced by u = (0, strain (y - y_mid)).

    An atom whose intact bonds all lie along one line (the seed cut can leave an atom at the strip's
    left end hanging by a single bond) has no stiffness across that line in the linearised lattice,
    which would make the system singular. Such an atom gets a spring of ``FLOPPY_SPRING`` * k to its
    reference place: it holds the loose direction at zero displacement and leaves the bond's
    direction to the bond (whose force stays zero to that ratio). Strips without such atoms solve
    exactly as before. A solve that still fails (a larger loose cluster) is a ``RuntimeError``."""
    n = len(strip.positions)
    fixed_atoms = strip.grip_bottom | strip.grip_top
    u = np.zeros((n, 2))
    u[fixed_atoms, 1] = strain * (strip.positions[fixed_atoms, 1] - strip.y_mid)
    fixed = np.repeat(fixed_atoms, 2)
    K = _stiffness(strip, alive, k)
    diagonal = K.diagonal().reshape(n, 2)
    determinant = diagonal[:, 0] * diagonal[:, 1] - np.asarray(K[2 * np.arange(n), 2 * np.arange(n) + 1]).ravel() ** 2
    loose = np.repeat((determinant <= FLOPPY_SPRING * k * k) & ~fixed_atoms, 2)
    if loose.any():
        K = K + sp.diags(np.where(loose, FLOPPY_SPRING * k, 0.0))
    free_idx, fixed_idx = np.flatnonzero(~fixed), np.flatnonzero(fixed)
    rhs = -K[free_idx][:, fixed_idx] @ u.ravel()[fixed_idx]
    flat = u.ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", spla.MatrixRankWarning)
        flat[free_idx] = spla.spsolve(K[free_idx][:, free_idx].tocsc(), rhs)
    if not np.all(np.isfinite(flat)):
        raise RuntimeError(f"the static solve of the {strip.length:g} x {strip.height:g} strip at orientation "
                           f"{strip.orientation:g} degrees is singular: a cluster of atoms is not held in the plane")
    return flat.reshape(n, 2)


def measured_moduli(k: float = 1.0, a: float = 1.0, strain: float = 1e-3) -> tuple[float, float]:
    """(lambda, mu) [k] measured on a periodic patch of the lattice: the energy per area of a small
    homogeneous uniaxial strain eps_xx (= (lambda + 2 mu) eps^2 / 2) and of a pure shear eps_xy
    (= 2 mu eps^2), with the geometrically exact spring energy k (r - a)^2 / 2 of the three bonds per
    atom. By the lattice's symmetry no internal relaxation arises (one atom per cell)."""
    bonds = a * np.array([[1.0, 0.0], [0.5, SQRT3 / 2], [-0.5, SQRT3 / 2]])
    area = SQRT3 * a * a / 2

    def energy_density(grad):
        r = np.linalg.norm(bonds @ (np.eye(2) + grad).T, axis=1)
        return 0.5 * k * np.sum((r - a) ** 2) / area

    p_modulus = 2 * energy_density(np.array([[strain, 0.0], [0.0, 0.0]])) / strain ** 2
    mu = energy_density(np.array([[0.0, strain], [strain, 0.0]])) / (2 * strain ** 2)
    return p_modulus - 2 * mu, mu


def transverse_wave_speed(n_cells: int = 64, a: float = 1.0, k: float = 1.0, m: float = 1.0,
                          dt: float = 0.1, periods: int = 4) -> float:
    """Measured phase speed [a sqrt(k/m)] of a long transverse (shear) wave on a periodic strip of the
    lattice: u_y = 1e-4 a sin(2 pi x / (n_cells a)) along the close-packed rows, released from rest,
    integrated by velocity Verlet; the frequency is read from the zero crossings of the mode amplitude.
    The lattice's exact dispersion of this wave is omega = sqrt(6 k/m) sin(q a / 4), q = 2 pi / (n_cells a),
    a phase speed c_s (1 - (q a)^2 / 96 + ...) that tends to c_s for long waves."""
    rows = 2
    i, j = np.meshgrid(np.arange(n_cells), np.arange(rows), indexing="ij")
    x = a * (i + 0.5 * j)
    num = (i * rows + j)
    bonds, rest = [], []
    for di, dj in ((1, 0), (0, 1), (-1, 1)):
        # row `rows` is row 0 shifted by rows/2 cells along x
        wrap_i = (i + di + (j + dj) // rows * (rows // 2)) % n_cells
        bonds.append(np.stack([num.ravel(), (wrap_i * rows + (j + dj) % rows).ravel()], axis=1))
        rest.append(np.tile(a * np.array([di + 0.5 * dj, SQRT3 / 2 * dj]), (num.size, 1)))
    bonds, rest = np.concatenate(bonds), np.concatenate(rest)
    ref = x.ravel()[:, None]
    wave = np.sin(2 * np.pi * ref[:, 0] / (n_cells * a))
    u = np.zeros((num.size, 2))
    u[:, 1] = 1e-4 * a * wave
    v = np.zeros_like(u)
    c_guess = wave_speeds(a, k, m)["c_s"]
    steps = int(periods * n_cells * a / c_guess / dt) + 1
    amp = np.empty(steps + 1)

    def force(disp):
        d = rest + disp[bonds[:, 1]] - disp[bonds[:, 0]]
        r = np.linalg.norm(d, axis=1)
        f = (k * (r - a) / r)[:, None] * d
        out = np.zeros_like(disp)
        for s in range(2):
            out[:, s] = np.bincount(bonds[:, 0], f[:, s], len(disp)) - np.bincount(bonds[:, 1], f[:, s], len(disp))
        return out

    F = force(u)
    amp[0] = u[:, 1] @ wave
    for step in range(steps):
        v += 0.5 * dt * F / m
        u += dt * v
        F = force(u)
        v += 0.5 * dt * F / m
        amp[step + 1] = u[:, 1] @ wave
    sign = np.sign(amp)
    cross = np.flatnonzero(sign[:-1] * sign[1:] < 0)
    t_cross = (cross + amp[cross] / (amp[cross] - amp[cross + 1])) * dt  # linear interpolation
    half_period = np.diff(t_cross).mean()
    omega = np.pi / half_period
    return omega * n_cells * a / (2 * np.pi)


@dataclass
class Fracture:
    """Result of :func:`simulate`: the ``strip``, each bond's ``break_time`` (nb,) [sqrt(m/k)]
    (-inf for the seed crack, +inf if intact at the end), the run's ``t_end``, ``drive``, ``strain``
    (eps at the grips), ``griffith`` (eps_G), ``seed_crack`` and ``initiation`` lengths [a] and the lattice
    units ``k``, ``m``."""

    strip: Strip
    break_time: np.ndarray
    t_end: float
    drive: float
    strain: float
    griffith: float
    seed_crack: float
    initiation: float
    k: float
    m: float

    def tip(self, times: np.ndarray) -> np.ndarray:
        """Crack-tip position x_tip(t) [a] at ``times`` (T,): the largest midpoint x of the bonds
        broken by t (the seed included)."""
        mid_x = self.strip.midpoints[:, 0]
        order = np.argsort(self.break_time, kind="stable")
        running = np.maximum.accumulate(mid_x[order])
        count = np.searchsorted(self.break_time[order], np.asarray(times, dtype=float), side="right")
        return np.where(count > 0, running[np.maximum(count - 1, 0)], 0.0)

    @property
    def grew(self) -> float:
        """How far [a] the crack ran on its own: its advance by the end of the run beyond the seed
        tip and the forced initiation."""
        return float(self.tip(np.array([self.t_end]))[0] - self.tip(np.array([0.0]))[0] - self.initiation)


def simulate(drive: float, orientation: float = 0.0, length: float = 160.0, height: float = 24.0,
             seed_crack: float | None = None, critical_strain: float = 0.1, damping: float = 0.0,
             t_end: float | None = None, dt: float = 0.1, a: float = 1.0, k: float = 1.0, m: float = 1.0,
             stop_margin: float | None = None, initiation: float = 10.0, initiation_speed: float = 0.6,
             arrest_time: float | None = None, grip_layer: float = 3.0) -> Fracture:
    """Run the strip (module docstring) at grip strain ``drive`` * eps_G until ``t_end`` [sqrt(m/k)]
    (default: the time a crack at 0.3 c_s would take to cross from the seed to the end), until the
    crack tip is within ``stop_margin`` [a] (default height / 4; negative: never) of the right edge,
    or until the crack has arrested: no bond broke for ``arrest_time`` [sqrt(m/k)] (default
    4 height / c_s) after the start. The seed crack's length ``seed_crack`` [a] defaults to a quarter
    of the strip's. Bonds with their midpoint within ``grip_layer`` [a] of the top or bottom edge
    never break: the corners where the clamped grips meet the free ends concentrate stress and would
    otherwise break first at drives above about 2.

    Start. A static seed crack in this lattice is trapped up to drive ~1.8 (the static tip-bond strain
    reaches eps_c at drive 1.82 for orientation 0, H = 24 and 40: lattice trapping), far above Griffith. So the
    crack is started moving: the mid-line bonds ahead of the seed tip are cut at
    ``initiation_speed`` [c_s] over ``initiation`` [a] (default 10 a at 0.6 c_s); after that it runs
    free, or arrests. ``initiation`` = 0 gives the static start."""
    if not drive > 0:
        raise ValueError(f"drive must be positive, got {drive}")
    if not 0 < dt < 2.0 / math.sqrt(6.0 * k / m):
        raise ValueError(f"dt must lie in (0, 2/sqrt(6 k/m)) = (0, {2.0 / math.sqrt(6.0 * k / m):.3f}) "
                         f"for velocity Verlet to be stable, got {dt}")
    if not 0 < critical_strain < 1:
        raise ValueError(f"critical_strain must lie in (0, 1), got {critical_strain}")
    strip = make_strip(length, height, orientation, a)
    seed = 0.25 * length if seed_crack is None else seed_crack
    if not 0 < seed < length:
        raise ValueError(f"seed_crack must lie in (0, length = {length}), got {seed}")
    c_s = wave_speeds(a, k, m)["c_s"]
    t_end = (length - seed) / (0.3 * c_s) if t_end is None else t_end
    stop_x = length - (0.25 * height if stop_margin is None else stop_margin)
    arrest_time = 4.0 * height / c_s if arrest_time is None else arrest_time
    if initiation < 0 or not initiation_speed > 0:
        raise ValueError(f"initiation must be >= 0 and initiation_speed > 0, got {initiation} and {initiation_speed}")
    eps_g = griffith_strain(strip.grip_distance, critical_strain, orientation, a)
    strain = drive * eps_g

    broken = seed_bonds(strip, seed)
    break_time = np.full(len(strip.bonds), np.inf)
    break_time[broken] = -np.inf
    ref = strip.positions
    x = ref + static_displacement(strip, strain, ~broken, k)
    v = np.zeros_like(x)
    free = ~(strip.grip_bottom | strip.grip_top)
    mid_x = strip.midpoints[:, 0]
    mid_y = strip.midpoints[:, 1]
    breakable = (mid_y > grip_layer) & (mid_y < height - grip_layer)
    limit = np.where(breakable, a * (1.0 + critical_strain), np.inf)
    forced = seed_bonds(strip, seed + initiation) & ~broken
    forced_time = np.where(forced, (mid_x - seed) / (initiation_speed * c_s), np.inf)
    active = np.flatnonzero(~broken)
    n = len(x)

    def force(x, v):
        p, q = strip.bonds[active, 0], strip.bonds[active, 1]
        d = x[q] - x[p]
        r = np.sqrt(np.einsum("ij,ij->i", d, d))
        nvec = d / r[:, None]
        f = k * (r - a)
        if damping:
            f = f + damping * np.einsum("ij,ij->i", v[q] - v[p], nvec)
        fx, fy = f * nvec[:, 0], f * nvec[:, 1]
        out = np.empty_like(x)
        out[:, 0] = np.bincount(p, fx, n) - np.bincount(q, fx, n)
        out[:, 1] = np.bincount(p, fy, n) - np.bincount(q, fy, n)
        out[~free] = 0.0
        return out, r

    F, r = force(x, v)
    steps = int(round(t_end / dt))
    last_break = initiation / (initiation_speed * c_s)
    for step in range(1, steps + 1):
        v += (0.5 * dt / m) * F
        x += dt * v
        F, r = force(x, v)
        snapped = (r > limit[active]) | (forced_time[active] <= step * dt)
        if snapped.any():
            gone = active[snapped]
            break_time[gone] = step * dt
            active = active[~snapped]
            F, r = force(x, v)
            last_break = max(last_break, step * dt)
            if mid_x[gone].max() >= stop_x:
                v += (0.5 * dt / m) * F
                t_end = step * dt
                break
        v += (0.5 * dt / m) * F
        if step * dt > last_break + arrest_time:
            t_end = step * dt
            break
    else:
        t_end = steps * dt
    if not np.all(np.isfinite(x)):
        raise RuntimeError(f"the lattice diverged (non-finite positions by t = {t_end:g}) at drive {drive}, "
                           f"orientation {orientation} degrees")
    return Fracture(strip=strip, break_time=break_time, t_end=float(t_end), drive=float(drive),
                    strain=float(strain), griffith=float(eps_g), seed_crack=float(seed),
                    initiation=float(initiation), k=k, m=m)


def crack_speed(result: Fracture, window: tuple[float, float] = (0.25, 0.85)) -> float:
    """Mean crack speed [c_s] between the times the tip first passes the fractions ``window`` of the
    way from the seed tip to the right edge; 0 if it never passes the far one."""
    times = np.sort(result.break_time[np.isfinite(result.break_time)])
    if len(times) == 0:
        return 0.0
    tip = result.tip(times)
    start = result.seed_crack
    lo, hi = (start + f * (result.strip.length - start) for f in window)
    if tip[-1] < hi:
        return 0.0
    t_lo, t_hi = times[np.argmax(tip >= lo)], times[np.argmax(tip >= hi)]
    return float((hi - lo) / (t_hi - t_lo) / wave_speeds(result.strip.a, result.k, result.m)["c_s"])


def branch_width(result: Fracture, column: float = 2.0, until: float | None = None) -> float:
    """Off-line damage [a]: the largest vertical spread of the broken bonds (seed excluded) within any
    column of width ``column`` [a] (bonds broken by ``until``, default the end). A straight or
    gently deflected crack spreads about one row (< 2 a); a branch or off-line breaks spread more."""
    t = result.t_end if until is None else until
    sel = np.isfinite(result.break_time) & (result.break_time <= t)
    if not sel.any():
        return 0.0
    mid = result.strip.midpoints[sel]
    col = np.floor(mid[:, 0] / column).astype(np.int64)
    col -= col.min()
    hi = np.full(col.max() + 1, -np.inf)
    lo = np.full(col.max() + 1, np.inf)
    np.maximum.at(hi, col, mid[:, 1])
    np.minimum.at(lo, col, mid[:, 1])
    used = np.isfinite(hi)
    return float((hi[used] - lo[used]).max())


def crack_masks(result: Fracture, times: np.ndarray, shape: tuple[int, int] = (30, 40)) -> np.ndarray:
    """Crack masks (T, ny, nx) bool on a ``shape`` = (ny, nx) pixel grid covering the strip
    [0, length] x [0, height] (row 0 at y = 0): pixel cracked at ``times`` (T,) [sqrt(m/k)] when a bond
    with its reference midpoint in it has broken by then (seed crack included). Irreversible."""
    ny, nx = shape
    mid = result.strip.midpoints
    ix = np.clip((mid[:, 0] / result.strip.length * nx).astype(np.int64), 0, nx - 1)
    iy = np.clip((mid[:, 1] / result.strip.height * ny).astype(np.int64), 0, ny - 1)
    first = np.full(ny * nx, np.inf)
    np.minimum.at(first, iy * nx + ix, result.break_time)
    return (first[None, :] <= np.asarray(times, dtype=float)[:, None]).reshape(len(times), ny, nx)


DATASET_GEOMETRY = {"length": 120.0, "height": 30.0, "seed_crack": 30.0, "initiation": 10.0}
"""Strip of the bundled movies [a]: 120 x 30 with a 30 a seed crack and a 10 a moving start at 0.6 c_s."""


def generate_dataset(n_movies: int, seed: int = 0, drives: tuple[float, float] = (0.8, 2.4),
                     orientations: tuple[float, float] = (0.0, 30.0), frames: int = 9,
                     shape: tuple[int, int] = (30, 40), t_end: float = 240.0, n_tip: int = 81,
                     branch_threshold: float = 3.0, progress: bool = False,
                     **kwargs) -> dict[str, np.ndarray]:
    """``n_movies`` crack movies with drives and orientations drawn uniformly from ``drives`` and
    ``orientations`` [degrees] by ``numpy.random.default_rng(seed)``, on the strip
    :data:`DATASET_GEOMETRY` (``kwargs`` override it and go to :func:`simulate`).

    Returns arrays: ``masks`` (N, frames, ny, nx) bool; ``times`` (frames,) and ``tip_times`` (n_tip,)
    [sqrt(m/k)]; ``tip`` (N, frames) and ``tip_history`` (N, n_tip) crack-tip x [a]; ``speed`` (N,)
    [c_s] (0 where the crack did not cross the measuring window); ``branch_width`` (N,) [a];
    ``branched`` (N,) bool (branch_width > ``branch_threshold`` a); ``drive`` (N,); ``orientation`` (N,);
    and the run's scalars (strip size, seed, critical strain, dt, damping, wave speeds)."""
    if n_movies < 1:
        raise ValueError(f"n_movies must be at least 1, got {n_movies}")
    options = {**DATASET_GEOMETRY, **kwargs}
    rng = np.random.default_rng(seed)
    drive = rng.uniform(*drives, size=n_movies)
    orientation = rng.uniform(*orientations, size=n_movies)
    times, tip_times = np.linspace(0.0, t_end, frames), np.linspace(0.0, t_end, n_tip)
    masks = np.zeros((n_movies, frames) + tuple(shape), dtype=bool)
    tip, history = np.zeros((n_movies, frames)), np.zeros((n_movies, n_tip))
    speed, width = np.zeros(n_movies), np.zeros(n_movies)
    for i in range(n_movies):
        result = simulate(drive[i], orientation[i], t_end=t_end, stop_margin=-1.0, **options)
        masks[i] = crack_masks(result, times, shape)
        tip[i], history[i] = result.tip(times), result.tip(tip_times)
        speed[i], width[i] = crack_speed(result), branch_width(result)
        if progress:
            print(f"movie {i + 1}/{n_movies}: drive {drive[i]:.3f}, orientation {orientation[i]:.1f} deg, "
                  f"speed {speed[i]:.3f} c_s, branch width {width[i]:.1f} a", flush=True)
    speeds = wave_speeds(options.get("a", 1.0), options.get("k", 1.0), options.get("m", 1.0))
    return {"masks": masks, "times": times, "tip_times": tip_times, "tip": tip, "tip_history": history,
            "speed": speed, "branch_width": width, "branched": width > branch_threshold,
            "drive": drive, "orientation": orientation,
            "length": np.float64(options["length"]), "height": np.float64(options["height"]),
            "seed_crack": np.float64(options["seed_crack"]), "initiation": np.float64(options["initiation"]),
            "critical_strain": np.float64(options.get("critical_strain", 0.1)),
            "dt": np.float64(options.get("dt", 0.1)), "damping": np.float64(options.get("damping", 0.0)),
            "c_s": np.float64(speeds["c_s"]), "c_R": np.float64(speeds["c_R"])}


def describe(data: dict[str, np.ndarray]) -> list[str]:
    """What a data set of :func:`generate_dataset` holds, as sentences (the counts quoted in
    data/lattice_fracture.md): movies below the Griffith drive and how far their tips got beyond the
    forced start; movies whose crack neither crossed the speed window nor branched; branched movies
    and from which drive; unbranched cracks that crossed the window; measured speeds; damage at the
    right edge in the last frame; and the mean cracked pixels there."""
    drive, speed, branched = data["drive"], data["speed"], data["branched"]
    start = float(data["seed_crack"] + data["initiation"])
    below = drive < 1.0
    stopped = (speed == 0) & ~branched
    crossing = (speed > 0) & ~branched
    measured = speed > 0
    last = data["masks"][:, -1]
    lines = [f"{len(drive)} movies",
             f"{below.sum()} below drive 1: {(speed[below] > 0).sum()} cross the speed window, tips end at most "
             f"{float((data['tip'][below, -1] - start).max(initial=0.0)):.1f} a beyond the forced start",
             f"{stopped.sum()} neither cross the speed window nor branch",
             f"{branched.sum()} branched (from drive {drive[branched].min(initial=np.inf):.2f}; "
             f"{branched[drive > 2.0].sum()} of the {(drive > 2.0).sum()} above drive 2.0)",
             f"{crossing.sum()} unbranched cross the window"
             + (f" (drives {drive[crossing].min():.2f}-{drive[crossing].max():.2f}, orientations "
                f"{data['orientation'][crossing].min():.0f}-{data['orientation'][crossing].max():.0f} degrees, "
                f"{speed[crossing].min():.2f}-{speed[crossing].max():.2f} c_s)" if crossing.any() else ""),
             f"{measured.sum()} measured speeds"
             + (f", {speed[measured].min():.2f}-{speed[measured].max():.2f} c_s" if measured.any() else ""),
             f"{last[:, :, -1].any(axis=1).sum()} with damage at the right edge in the last frame",
             f"{last.sum(axis=(1, 2)).mean():.0f} of the {last[0].size} pixels cracked in the last frame on average"]
    return lines


def plot_movies(data: dict[str, np.ndarray], path: str, rows: int = 4) -> str:
    """Figure of the frames of ``rows`` movies of a data set (one movie per row, one frame per
    column), written to ``path`` (PNG)."""
    from sciml.plotting import save_figure, subplots

    picks = np.argsort(data["drive"])[np.linspace(0, len(data["drive"]) - 1, rows).astype(int)]
    frames = data["masks"].shape[1]
    fig, axes = subplots(rows, frames, figsize=(1.6 * frames, 1.6 * rows * 0.75 + 0.4), squeeze=False)
    for r, i in enumerate(picks):
        for f in range(frames):
            ax = axes[r, f]
            ax.imshow(data["masks"][i, f], origin="lower", cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t = {data['times'][f]:.0f}", fontsize=8)
            if f == 0:
                ax.set_ylabel(f"drive {data['drive'][i]:.2f}\n{data['orientation'][i]:.0f} deg", fontsize=8)
    return str(save_figure(fig, path))


SCAN_DRIVES = (0.9, 1.0, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4)
"""Drives of :func:`drive_scan` (the table in data/lattice_fracture.md)."""


def drive_scan(orientation: float = 0.0, drives: tuple[float, ...] = SCAN_DRIVES, **kwargs) -> list[dict[str, float]]:
    """One run per drive on the strip :data:`DATASET_GEOMETRY` (``kwargs`` override it): rows with
    ``drive``, ``grew`` [a], ``speed`` [c_s] and ``branch_width`` [a]."""
    options = {**DATASET_GEOMETRY, **kwargs}
    rows = []
    for drive in drives:
        result = simulate(drive, orientation, **options)
        rows.append({"drive": drive, "grew": result.grew, "speed": crack_speed(result),
                     "branch_width": branch_width(result)})
    return rows


def main(argv=None) -> int:
    """CLI: ``python -m sciml.classical.lattice --movies N --seed S --out data/lattice_fracture.npz``."""
    parser = argparse.ArgumentParser(description="Generate lattice crack movies (drive x orientation) to an .npz file.")
    parser.add_argument("--movies", type=int, default=300, help="number of movies (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the drives and orientations (default 0)")
    parser.add_argument("--out", default=os.path.join("data", "lattice_fracture.npz"), help="output .npz path")
    parser.add_argument("--figure", default=None, help="also write a PNG of a few movies here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--scan", type=float, nargs="*", metavar="ORIENTATION",
                        help="instead: print crack speed and branching against drive at these orientations")
    parser.add_argument("--height", type=float, default=DATASET_GEOMETRY["height"], help="strip height of --scan [a]")
    args = parser.parse_args(argv)
    if args.scan is not None:
        for orientation in args.scan or [0.0]:
            for row in drive_scan(orientation, height=args.height):
                print(f"height {args.height:g} a, orientation {orientation:g} deg, drive {row['drive']:.2f}: "
                      f"grew {row['grew']:.1f} a, speed {row['speed']:.3f} c_s, "
                      f"branch width {row['branch_width']:.2f} a",
                      flush=True)
        return 0
    start = time.perf_counter()
    data = generate_dataset(args.movies, args.seed, progress=not args.quiet)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as fh:
        np.savez_compressed(fh, **data)
    with open(args.out, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    if args.figure:
        plot_movies(data, args.figure)
    print(f"wrote {args.out}: {args.movies} movies, masks {data['masks'].shape}, "
          f"{time.perf_counter() - start:.0f} s")
    print(f"sha256 {digest}")
    print("\n".join(describe(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
