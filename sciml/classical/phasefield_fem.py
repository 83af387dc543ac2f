"""Phase-field fracture by finite elements: P1 triangles, AT2, staggered scheme with a history field.

Model (plane strain, units kN and mm; Bourdin, Francfort & Marigo 2000; Miehe, Hofacker &
Welschinger 2010, doi 10.1016/j.cma.2010.04.011): the energy of a displacement u and a damage
d in [0, 1] is

    E(u, d) = ∫ g(d) ψ(ε(u)) dA + G_c ∫ (d² / (2 l) + l |∇d|² / 2) dA,   g(d) = (1 - d)² + k,

per unit thickness (1 mm), with ψ = λ tr(ε)² / 2 + μ ε:ε the plane-strain elastic energy
density [kN/mm²], G_c the fracture toughness [kN/mm], l the length scale [mm] and k a small
residual stiffness. This is AT2 with c_w = 2 (the AT2 crack surface of a 1-D crack is
Γ = ∫ (d²/(2l) + l d'²/2) dx = 1).

Staggered scheme (Miehe et al. 2010, Box 1): at each load step, repeat (1) the displacement solve
with the damage fixed, (2) the history field H = max(H_previous_step, ψ⁺(ε(u))) per element, (3)
the damage solve of the linear AT2 equation

    (G_c / l + 2 H) d - G_c l ∇²d = 2 H   (natural boundary conditions),

until the largest change of d between two passes is below ``tol``. The history field is the
maximum over time of the tensile part ψ⁺ of the elastic energy, which makes the damage
irreversible: the damage matrix is an M-matrix on these meshes (right-angled triangles, lumped
reaction term), so a larger H gives a larger d everywhere (discrete maximum principle) and
d stays in [0, 1].

Energy splits for ψ⁺ (``split``): ``"none"`` (isotropic, ψ⁺ = ψ, Bourdin et al. 2000),
``"spectral"`` (Miehe et al. 2010, eq. 2.7: ψ⁺ = λ ⟨tr ε⟩₊² / 2 + μ Σ ⟨ε_i⟩₊² over the principal
strains; in plane strain ε_zz = 0 is a principal strain and adds nothing) or ``"amor"``
(volumetric–deviatoric, Amor, Marigo & Maurini 2009, J. Mech. Phys. Solids 57, 1209:
ψ⁺ = K ⟨tr ε⟩₊² / 2 + μ dev ε : dev ε with the 3-D deviator, K = λ + 2μ/3). With a split the
displacement equation keeps the isotropic degraded stiffness g(d) C: the "hybrid" formulation of
Ambati, Gerasimov & De Lorenzis (2015, Comput. Mech. 55, 383), which keeps step (1) linear.

Discretisation: linear (P1) triangles from a structured tensor-product grid graded towards the
expected crack path (:func:`sent_mesh`); g(d) per element by the three-edge-midpoint rule (exact
for the quadratic g of a linear d); the reaction term (G_c/l + 2H) d and the source 2H by a lumped
(nodal) mass. Assembly is vectorised (element matrices in one array, summed into a fixed CSR
pattern with ``np.bincount``); the linear systems are solved by SciPy's sparse LU (SuperLU).

The single-edge-notched tension test (:func:`sent`) models the notch as a geometric slit: the
nodes on y = 0 left of the tip are doubled, one copy for each face, so the faces are traction free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg, splu

SPLITS = ("none", "spectral", "amor")


@dataclass(frozen=True)
class Material:
    """Elastic and fracture constants: Young's modulus E [kN/mm²], Poisson's ratio nu [1],
    toughness G_c [kN/mm], length scale l [mm], residual stiffness k [1] of g(d) = (1 - d)² + k."""

    E: float = 210.0
    nu: float = 0.3
    G_c: float = 2.7e-3
    l: float = 0.015
    k: float = 1e-7

    def __post_init__(self):
        for name in ("E", "G_c", "l"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not -1.0 < self.nu < 0.5:
            raise ValueError(f"nu must lie in (-1, 0.5), got {self.nu!r}")
        if not 0 <= self.k < 1:
            raise ValueError(f"the residual stiffness k must lie in [0, 1), got {self.k!r}")

    @property
    def lam(self) -> float:
        """Lamé's first parameter λ [kN/mm²]."""
        return self.E * self.nu / ((1 + self.nu) * (1 - 2 * self.nu))

    @property
    def mu(self) -> float:
        """Shear modulus μ [kN/mm²]."""
        return self.E / (2 * (1 + self.nu))

    def stiffness(self) -> np.ndarray:
        """Plane-strain elasticity matrix (3, 3) acting on (ε_xx, ε_yy, γ_xy)."""
        lam, mu = self.lam, self.mu
        return np.array([[lam + 2 * mu, lam, 0.0], [lam, lam + 2 * mu, 0.0], [0.0, 0.0, mu]])


def graded_axis(lo: float, hi: float, fine_lo: float, fine_hi: float, h: float, growth: float = 1.2,
                h_max: float = 0.05) -> np.ndarray:
    """Sorted 1-D node coordinates on [lo, hi]: spacing ``h`` on [fine_lo, fine_hi] (which
    contains a node at each end), growing by the factor ``growth`` per cell away from it up to
    ``h_max``; the last cell on each side is merged into its neighbour when shorter than half
    the spacing there."""
    if not (lo <= fine_lo < fine_hi <= hi):
        raise ValueError(f"the fine interval [{fine_lo}, {fine_hi}] must lie inside [{lo}, {hi}]")
    if not (h > 0 and growth >= 1 and h_max >= h):
        raise ValueError(f"need h > 0, growth >= 1 and h_max >= h, got h={h}, growth={growth}, h_max={h_max}")
    n = max(1, int(round((fine_hi - fine_lo) / h)))
    core = np.linspace(fine_lo, fine_hi, n + 1)

    def side(start: float, end: float) -> list[float]:
        sign, pos, step, out = np.sign(end - start), start, h, []
        while sign * (end - pos) > 1e-12:
            step = min(step * growth, h_max)
            pos += sign * step
            if sign * (end - pos) < 0.5 * step:
                pos = end
            out.append(pos)
        return out

    left = side(fine_lo, lo)[::-1]
    return np.concatenate([left, core, side(fine_hi, hi)])


@dataclass
class Mesh:
    """A P1 triangle mesh from a tensor-product grid ``xs`` (nx,) × ``ys`` (ny,) [mm].

    ``nodes`` (N, 2), ``triangles`` (T, 3) counter-clockwise; grid cell (i, j) (x between xs[i]
    and xs[i+1], y between ys[j] and ys[j+1]) holds the triangles 2 c and 2 c + 1, c = j (nx-1) + i,
    cut along its rising diagonal when i + j is even (2 c below it), else along its falling one
    (2 c below it): the criss-cross pattern favours neither diagonal direction for a crack.
    """

    nodes: np.ndarray
    triangles: np.ndarray
    xs: np.ndarray
    ys: np.ndarray

    @property
    def h_min(self) -> float:
        """Smallest grid spacing [mm]."""
        return float(min(np.diff(self.xs).min(), np.diff(self.ys).min()))

    def locate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The triangle (M,) holding each of ``points`` (M, 2) and its barycentric coordinates
        (M, 3); points outside the grid are moved onto its edge, points on a slit take the face above."""
        points = np.asarray(points, float)
        nx = len(self.xs)
        i = np.clip(np.searchsorted(self.xs, points[:, 0], side="right") - 1, 0, nx - 2)
        j = np.clip(np.searchsorted(self.ys, points[:, 1], side="right") - 1, 0, len(self.ys) - 2)
        s = (points[:, 0] - self.xs[i]) / (self.xs[i + 1] - self.xs[i])
        t = (points[:, 1] - self.ys[j]) / (self.ys[j + 1] - self.ys[j])
        tri = 2 * (j * (nx - 1) + i) + np.where((i + j) % 2 == 0, t > s, s + t > 1)
        p = self.nodes[self.triangles[tri]]
        a, b, c = p[:, 0], p[:, 1], p[:, 2]
        det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
        q = np.clip(points, [self.xs[0], self.ys[0]], [self.xs[-1], self.ys[-1]])
        l1 = ((q[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (q[:, 1] - a[:, 1])) / det
        l2 = ((b[:, 0] - a[:, 0]) * (q[:, 1] - a[:, 1]) - (q[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])) / det
        return tri, np.stack([1 - l1 - l2, l1, l2], axis=1)

    def interpolate(self, values: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Nodal ``values`` (N, k) interpolated linearly at ``points`` (M, 2) -> (M, k)."""
        tri, bary = self.locate(points)
        return np.einsum("mj,mjk->mk", bary, np.asarray(values)[self.triangles[tri]])


def grid_mesh(xs: np.ndarray, ys: np.ndarray, slit_row: int | None = None, slit_end: int = 0) -> Mesh:
    """The triangle mesh of the grid ``xs`` × ``ys`` (quads cut into two right triangles, criss-cross: :class:`Mesh`).

    With ``slit_row`` = j, the grid line y = ys[j] is cut from xs[0] to xs[slit_end]: the nodes
    (i, j) with i < slit_end get a second copy that the cells above the line use, so the two faces
    of the slit move independently (the node at slit_end, the slit's tip, is shared)."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    nx, ny = len(xs), len(ys)
    X, Y = np.meshgrid(xs, ys)
    nodes = np.stack([X.ravel(), Y.ravel()], axis=1)
    ids = np.arange(nx * ny).reshape(ny, nx)
    i, j = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1))
    corners = [ids[j, i], ids[j, i + 1], ids[j + 1, i + 1], ids[j + 1, i]]  # (0,0), (1,0), (1,1), (0,1)
    if slit_row is not None:
        copies = nx * ny + np.arange(slit_end)
        nodes = np.vstack([nodes, nodes[ids[slit_row, :slit_end]]])
        over_slit = j == slit_row
        for k, di in ((0, 0), (1, 1)):  # the bottom corners of the cells just above the slit
            moved = over_slit & (i + di < slit_end)
            corners[k] = np.where(moved, copies[np.minimum(i + di, slit_end - 1)], corners[k])
    c00, c10, c11, c01 = (c.ravel() for c in corners)
    rising = ((i + j) % 2 == 0).ravel()[:, None]
    below = np.where(rising, np.stack([c00, c10, c11], 1), np.stack([c00, c10, c01], 1))
    above = np.where(rising, np.stack([c00, c11, c01], 1), np.stack([c10, c11, c01], 1))
    triangles = np.stack([below, above], axis=1).reshape(-1, 3)
    return Mesh(nodes, triangles, xs, ys)


def sent_mesh(h: float, band: float = 0.06, growth: float = 1.2, h_max: float = 0.05,
              notch_zone: float = 0.05) -> Mesh:
    """The unit square [-0.5, 0.5]² mm with a slit along y = 0 from x = -0.5 to the tip at (0, 0),
    spacing ``h`` [mm] where the crack of the tension test runs (|y| <= ``band``, x >= -``notch_zone``),
    graded by ``growth`` per cell up to ``h_max`` elsewhere."""
    xs = graded_axis(-0.5, 0.5, -notch_zone, 0.5, h, growth, h_max)
    ys = graded_axis(-0.5, 0.5, -band, band, h, growth, h_max)
    xs[np.argmin(np.abs(xs))] = 0.0
    ys[np.argmin(np.abs(ys))] = 0.0
    return grid_mesh(xs, ys, slit_row=int(np.argmin(np.abs(ys))), slit_end=int(np.argmin(np.abs(xs))))


@dataclass(frozen=True)
class Loading:
    """Dirichlet conditions driven by one load parameter δ [mm]: ``dofs`` (k,) prescribed to
    ``direction`` (k,) × δ (direction 0 holds a dof fixed). Dof 2 n is node n's x, 2 n + 1 its y.
    The reaction force [kN] is the sum of the internal forces on the dofs with direction 1."""

    dofs: np.ndarray
    direction: np.ndarray


def grips(mesh: Mesh, lateral: str = "clamped") -> Loading:
    """Bottom edge fixed, top edge pulled up by δ: ``"clamped"`` holds u_x = 0 on both edges
    (Miehe et al. 2010); ``"free"`` only u_y, with u_x = 0 at the bottom-left corner (uniaxial
    tension: uniform stress)."""
    y = mesh.nodes[:, 1]
    bottom = np.flatnonzero(np.isclose(y, mesh.ys[0]))
    top = np.flatnonzero(np.isclose(y, mesh.ys[-1]))
    if lateral == "clamped":
        dofs = np.concatenate([2 * bottom, 2 * bottom + 1, 2 * top, 2 * top + 1])
        direction = np.concatenate([np.zeros(2 * len(bottom) + len(top)), np.ones(len(top))])
    elif lateral == "free":
        corner = bottom[np.argmin(mesh.nodes[bottom, 0])]
        dofs = np.concatenate([[2 * corner], 2 * bottom + 1, 2 * top + 1])
        direction = np.concatenate([np.zeros(1 + len(bottom)), np.ones(len(top))])
    else:
        raise ValueError(f"lateral must be 'clamped' or 'free', got {lateral!r}")
    return Loading(dofs, direction)


class ReusedFactors:
    """Solves a sequence of slowly changing symmetric positive definite systems A x = b (the
    staggered passes of a load step): conjugate gradients to the relative residual ``rtol``,
    preconditioned by the sparse LU factors of an earlier A, which are renewed whenever CG needs
    more than ``max_iter`` iterations (or the size changes)."""

    def __init__(self, rtol: float = 1e-8, max_iter: int = 20):
        self.rtol, self.max_iter, self.factors = rtol, max_iter, None

    def solve(self, A: sp.spmatrix, b: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
        if self.factors is not None and self.factors.shape == A.shape:
            M = LinearOperator(A.shape, self.factors.solve)
            x, info = cg(A, b, x0=x0, rtol=self.rtol, atol=0.0, maxiter=self.max_iter, M=M)
            if info == 0:
                return x
        self.factors = splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                            options={"SymmetricMode": True})
        return self.factors.solve(b)


class PhaseField:
    """The assembled AT2 operators of a material on a mesh.

    ``u`` is a displacement vector (2 N,) [mm] (x and y of node n at 2 n and 2 n + 1), ``d`` a
    nodal damage (N,), ``H`` an element history field (T,) [kN/mm²]."""

    def __init__(self, mesh: Mesh, material: Material, split: str = "spectral"):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        self.mesh, self.material, self.split = mesh, material, split
        p = mesh.nodes[mesh.triangles]  # (T, 3, 2)
        x, y = p[..., 0], p[..., 1]
        b = np.roll(y, -1, axis=1) - np.roll(y, -2, axis=1)  # 2A dN/dx
        c = np.roll(x, -2, axis=1) - np.roll(x, -1, axis=1)  # 2A dN/dy
        self.area = 0.5 * (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0])
        if np.any(self.area <= 0):
            raise ValueError(f"{int(np.sum(self.area <= 0))} triangle(s) of the mesh have non-positive area")
        grad = np.stack([b, c], axis=-1) / (2 * self.area[:, None, None])  # (T, 3, 2)
        T = len(self.area)
        B = np.zeros((T, 3, 6))
        B[:, 0, 0::2] = grad[..., 0]
        B[:, 1, 1::2] = grad[..., 1]
        B[:, 2, 0::2] = grad[..., 1]
        B[:, 2, 1::2] = grad[..., 0]
        self.B = B
        self.elastic = np.einsum("tki,kl,tlj,t->tij", B, material.stiffness(), B, self.area)
        dofs = np.repeat(2 * mesh.triangles, 2, axis=1) + np.tile([0, 1], 3)  # (T, 6)
        self.dofs = dofs
        self.n_nodes = len(mesh.nodes)
        self._u_pattern = self._pattern(dofs, 2 * self.n_nodes)
        laplace = np.einsum("tik,tjk,t->tij", grad, grad, self.area)
        tri = mesh.triangles
        pattern = self._pattern(tri, self.n_nodes)
        self.laplacian = self._assemble(pattern, laplace.ravel())
        self.lumped = np.bincount(tri.ravel(), np.repeat(self.area / 3, 3), minlength=self.n_nodes)
        self._u_solver, self._d_solver = ReusedFactors(), ReusedFactors()

    @staticmethod
    def _pattern(dofs: np.ndarray, n: int):
        """The CSR pattern of elements with local-to-global ``dofs`` (T, m) and, for each entry of
        the element matrices (T, m, m) raveled, its position in the CSR data."""
        rows = np.repeat(dofs, dofs.shape[1], axis=1).ravel()
        cols = np.tile(dofs, (1, dofs.shape[1])).ravel()
        keys = rows.astype(np.int64) * n + cols
        unique, where = np.unique(keys, return_inverse=True)
        indptr = np.searchsorted(unique // n, np.arange(n + 1))
        return unique % n, indptr, where.ravel(), n

    @staticmethod
    def _assemble(pattern, values: np.ndarray) -> sp.csr_matrix:
        indices, indptr, where, n = pattern
        data = np.bincount(where, values, minlength=len(indices))
        return sp.csr_matrix((data, indices, indptr), shape=(n, n))

    def degradation(self, d: np.ndarray) -> np.ndarray:
        """g(d) = (1 - d)² + k averaged over each element (T,) (exact for P1 d: edge-midpoint rule)."""
        dt = d[self.mesh.triangles]
        mid = 0.5 * (dt + np.roll(dt, -1, axis=1))
        return np.mean((1 - mid) ** 2, axis=1) + self.material.k

    def stiffness(self, d: np.ndarray) -> sp.csr_matrix:
        """Degraded stiffness matrix (2N, 2N) [kN/mm] for the damage ``d``."""
        return self._assemble(self._u_pattern, (self.elastic * self.degradation(d)[:, None, None]).ravel())

    def strains(self, u: np.ndarray) -> np.ndarray:
        """Element strains (T, 3): ε_xx, ε_yy, γ_xy."""
        return np.einsum("tij,tj->ti", self.B, u[self.dofs])

    def energies(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Element elastic energy densities (ψ⁺, ψ), each (T,) [kN/mm²], ψ⁺ by the split."""
        e = self.strains(u)
        lam, mu = self.material.lam, self.material.mu
        tr = e[:, 0] + e[:, 1]
        psi = 0.5 * lam * tr ** 2 + mu * (e[:, 0] ** 2 + e[:, 1] ** 2 + 0.5 * e[:, 2] ** 2)
        if self.split == "none":
            return psi, psi
        pos = np.maximum(tr, 0.0)
        if self.split == "spectral":
            radius = np.hypot(0.5 * (e[:, 0] - e[:, 1]), 0.5 * e[:, 2])
            principal = np.maximum(0.5 * tr[:, None] + np.stack([radius, -radius], axis=1), 0.0)
            return 0.5 * lam * pos ** 2 + mu * np.sum(principal ** 2, axis=1), psi
        bulk = lam + 2 * mu / 3
        dev = e[:, 0] ** 2 + e[:, 1] ** 2 + 0.5 * e[:, 2] ** 2 - tr ** 2 / 3
        return 0.5 * bulk * pos ** 2 + mu * dev, psi

    def equilibrium(self, d: np.ndarray, loading: Loading, delta: float,
                    guess: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """The displacement (2N,) [mm] in equilibrium with the damage ``d`` (N,) at the load
        ``delta`` [mm] (``guess``: a nearby displacement to start from), and the reaction force [kN]."""
        fixed = np.asarray(loading.dofs)
        free = np.setdiff1d(np.arange(2 * self.n_nodes), fixed)
        u = np.zeros(2 * self.n_nodes)
        u[fixed] = delta * np.asarray(loading.direction)
        K = self.stiffness(d)
        rows = K[free]
        u[free] = self._u_solver.solve(rows[:, free], -(rows[:, fixed] @ u[fixed]),
                                       None if guess is None else guess[free])
        return u, float(np.sum((K @ u)[fixed[np.asarray(loading.direction) != 0]]))

    def solve_damage(self, H: np.ndarray, guess: np.ndarray | None = None) -> np.ndarray:
        """The AT2 damage (N,) for the history field ``H`` (T,) (``guess``: a nearby damage to start from)."""
        G, l = self.material.G_c, self.material.l
        tri = self.mesh.triangles.ravel()
        weight = np.repeat(self.area / 3, 3)
        reaction = G / l * self.lumped + np.bincount(tri, np.repeat(2 * H, 3) * weight, minlength=self.n_nodes)
        source = np.bincount(tri, np.repeat(2 * H, 3) * weight, minlength=self.n_nodes)
        return self._d_solver.solve(G * l * self.laplacian + sp.diags(reaction), source, guess)


@dataclass
class LoadPath:
    """A quasi-static loading history: imposed displacements (S,) [mm], reaction forces (S,) [kN],
    staggered passes per step (S,) and whether each step met the tolerance (S,), nodal damage
    after each step (S, N), and the last step's displacement (2N,) and history field (T,)."""

    displacement: np.ndarray
    force: np.ndarray
    passes: np.ndarray
    converged: np.ndarray
    damage: np.ndarray
    u: np.ndarray
    history: np.ndarray = field(repr=False)

    @property
    def peak(self) -> tuple[float, float]:
        """(peak force [kN], displacement at the peak [mm])."""
        k = int(np.argmax(self.force))
        return float(self.force[k]), float(self.displacement[k])


def solve(model: PhaseField, loading: Loading, loads: np.ndarray, tol: float = 1e-4, max_passes: int = 300,
          progress: Callable[[int, float, float], None] | None = None) -> LoadPath:
    """Quasi-static staggered AT2 solution at the imposed displacements ``loads`` (S,) [mm], from an
    undamaged state; ``progress(step, displacement, force)`` is called after each step."""
    loads = np.asarray(loads, float)
    if not (tol > 0 and max_passes >= 1):
        raise ValueError(f"need tol > 0 and max_passes >= 1, got tol={tol!r}, max_passes={max_passes!r}")
    u = np.zeros(2 * model.n_nodes)
    d = np.zeros(model.n_nodes)
    H = np.zeros(len(model.area))
    out = {key: [] for key in ("force", "passes", "converged", "damage")}
    for step, delta in enumerate(loads):
        H_old = H
        for n in range(1, max_passes + 1):
            u, force = model.equilibrium(d, loading, delta, u)
            H = np.maximum(H_old, model.energies(u)[0])
            d_new = model.solve_damage(H, d)
            change = float(np.max(np.abs(d_new - d)))
            d = d_new
            if change < tol:
                break
        out["force"].append(force)
        out["passes"].append(n)
        out["converged"].append(change < tol)
        out["damage"].append(d.copy())
        if progress is not None:
            progress(step, float(delta), force)
    return LoadPath(loads, np.array(out["force"]), np.array(out["passes"]), np.array(out["converged"]),
                    np.array(out["damage"]), u, H)


def sent(loads: np.ndarray, material: Material = Material(), h: float | None = None, split: str = "spectral",
         tol: float = 1e-4, max_passes: int = 300, **mesh: float) -> tuple[PhaseField, LoadPath]:
    """The single-edge-notched tension test of Miehe et al. (2010): top edge pulled by ``loads``
    (S,) [mm] in turn; spacing ``h`` [mm] (default l / 6) along the crack path; ``mesh`` goes to
    :func:`sent_mesh`."""
    model = PhaseField(sent_mesh(h or material.l / 6, **mesh), material, split)
    return model, solve(model, grips(model.mesh), loads, tol, max_passes)
