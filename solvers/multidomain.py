"""Multi-domain PINNs: one network per subdomain, coupled by interface conditions (XPINN, cPINN).

The domain's bounding box is cut along its inputs (space or space–time) into boxes; each box is a
subdomain with its own network (its own width and depth if asked), trained on the collocation
points that fall in it. Neighbouring subdomains are coupled at points sampled on their shared face
by any combination of these interface conditions (weights ``interface_weight``):

``"solution"``  u_a = u_b (cPINN, Jagtap, Kharazmi & Karniadakis 2020)
``"average"``   each side pulled to the average (u_a + u_b)/2 (XPINN, Jagtap & Karniadakis 2020)
``"residual"``  PDE residual r_a = r_b (XPINN)
``"flux"``      normal derivative ∂u_a/∂n = ∂u_b/∂n across the face (cPINN's flux continuity)
``"gradient"``  every first derivative ∇u_a = ∇u_b

Each network minimises its own loss with the neighbour's interface values held fixed (as in XPINN);
a term shared by two subdomains contributes half its value to each side, so the summed loss is the
joint one and its gradient is the joint gradient. (For two sides, "average" is therefore "solution"
at half the weight: ∂/∂u_a of (u_a − ū)² with ū held is (u_a − u_b), of (u_a − u_b)² it is 2 (u_a − u_b).)
The L-BFGS phase may use other conditions than Adam (``lbfgs_interface``), which is what the
two-stage interface-condition selection chooses (:mod:`sciml.solvers.interface_selection`).

Predictions are stitched: a point belongs to the box it lies in (on a cut, the box above it).

Under ``torchrun`` the subdomains are spread over the processes (subdomain k on process
``k * size // K``): each process evaluates the residuals and interface values of its own
subdomains, the interface values are exchanged every step, and the loss and gradient are summed
over processes (:mod:`sciml.distributed`), so every process takes the same step as one process would.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sciml import geometry
from sciml.conditions import PointSet
from sciml.fields import Plan
from sciml.networks import MLP, Network
from sciml.solvers.pinn import PINN

CONDITIONS = ("solution", "average", "residual", "flux", "gradient")
"""The interface conditions, by name."""


def conditions_tuple(value: Any, name: str) -> tuple[str, ...]:
    """Interface conditions as a tuple of names: from a tuple/list or a "solution+flux" string."""
    names = tuple(value.split("+")) if isinstance(value, str) else tuple(value)
    bad = [c for c in names if c not in CONDITIONS]
    if not names or bad or len(set(names)) != len(names):
        raise ValueError(f"{name} must be a non-empty set of distinct interface conditions from {list(CONDITIONS)}, "
                         f"got {value!r}")
    return names


@dataclass(frozen=True)
class Interface:
    """The face between subdomains ``a`` and ``b`` (b above a along input ``axis``, at ``position``);
    ``lower``/``upper`` are the face's bounding box (equal to ``position`` along ``axis``)."""

    a: int
    b: int
    axis: int
    position: float
    lower: tuple[float, ...]
    upper: tuple[float, ...]


class Layout:
    """The boxes a bounding box ``[lower, upper]`` is cut into by ``cuts`` (one sorted list per input).

    Subdomains are numbered in C order over the inputs (the first input slowest).
    """

    def __init__(self, lower: np.ndarray, upper: np.ndarray, cuts: list[list[float]]):
        self.lower, self.upper, self.cuts = np.asarray(lower, float), np.asarray(upper, float), cuts
        edges = [np.concatenate([[lo], c, [hi]]) for lo, c, hi in zip(self.lower, cuts, self.upper)]
        self.counts = tuple(len(c) + 1 for c in cuts)
        self.boxes: list[tuple[np.ndarray, np.ndarray]] = []
        for index in itertools.product(*(range(n) for n in self.counts)):
            self.boxes.append((np.array([e[i] for e, i in zip(edges, index)]),
                               np.array([e[i + 1] for e, i in zip(edges, index)])))
        self.interfaces: list[Interface] = []
        for a, index in enumerate(itertools.product(*(range(n) for n in self.counts))):
            for axis, i in enumerate(index):
                if i + 1 < self.counts[axis]:
                    b = int(np.ravel_multi_index(tuple(index[:axis]) + (i + 1,) + tuple(index[axis + 1:]), self.counts))
                    lo, hi = self.boxes[a][0].copy(), self.boxes[a][1].copy()
                    lo[axis] = hi[axis]
                    self.interfaces.append(Interface(a, b, axis, float(hi[axis]), tuple(lo), tuple(hi)))

    def __len__(self) -> int:
        return len(self.boxes)

    def locate(self, x: Tensor) -> Tensor:
        """Subdomain index (N,) of points (N, d); a point on a cut belongs to the box above it."""
        index = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        for axis, cuts in enumerate(self.cuts):
            c = torch.as_tensor(cuts, dtype=x.dtype, device=x.device)
            index = index * self.counts[axis] + torch.bucketize(x[:, axis].contiguous(), c, right=True)
        return index


class SubdomainNetwork(nn.Module):
    """One :class:`Network` per subdomain of ``layout``, stitched: ``forward``/``jet`` evaluate every
    point with the network of the subdomain it lies in. ``nets[k]`` is subdomain k's network."""

    def __init__(self, nets: list[Network], layout: Layout):
        super().__init__()
        if len(nets) != len(layout):
            raise ValueError(f"{len(nets)} networks given for {len(layout)} subdomains")
        self.nets = nn.ModuleList(nets)
        self.layout = layout
        self.constraint = nets[0].constraint

    @property
    def supports_taylor(self) -> bool:
        return all(net.supports_taylor for net in self.nets)

    def _parts(self, x: Tensor):
        where = self.layout.locate(x)
        for k, net in enumerate(self.nets):
            idx = torch.nonzero(where == k).squeeze(1)
            if idx.numel():
                yield net, idx

    def forward(self, x: Tensor) -> Tensor:
        out = None
        for net, idx in self._parts(x):
            y = net(x[idx])
            out = (x.new_zeros(x.shape[0], y.shape[1]) if out is None else out).index_copy(0, idx, y)
        return out

    def jet(self, x: Tensor, plan: Plan, constraint_jets=None) -> list[Tensor]:
        out = None
        for net, idx in self._parts(x):
            sub = None if constraint_jets is None else tuple([s[idx] for s in j] for j in constraint_jets)
            jet = net.jet(x[idx], plan, sub)
            if out is None:
                out = [x.new_zeros(x.shape[0], s.shape[1]) for s in jet]
            out = [o.index_copy(0, idx, s) for o, s in zip(out, jet)]
        return out


def _inside(geom, pts: np.ndarray) -> np.ndarray:
    """Mask (N,) of points (N, d) in a DeepXDE geometry (space-time: space part and time interval)."""
    if hasattr(geom, "timedomain"):
        t = pts[:, -1]
        return geom.geometry.inside(pts[:, :-1]) & (t >= geom.timedomain.t0) & (t <= geom.timedomain.t1)
    return geom.inside(pts)


def _half(value: Tensor) -> Tensor:
    """Half the value with the full gradient: one side's share of a term two subdomains share."""
    return value - 0.5 * value.detach()


class MultiDomainPINN(PINN):
    """Multi-domain PINN (XPINN / cPINN): one network per subdomain, interface conditions by name.

    Settings: those of :class:`~sciml.solvers.pinn.PINN` (``width``/``depth`` per subdomain network,
    ``n_interior`` in total), plus ``splits`` {input: [cut positions]} (None: every input cut once at
    the middle of the domain's bounding box, 2^d subdomains), ``interface`` (conditions during Adam,
    from :data:`CONDITIONS`; default solution + flux), ``lbfgs_interface`` (during L-BFGS; None:
    the same), ``widths``/``depths`` (one per subdomain, overriding ``width``/``depth``),
    ``n_interface`` points per interface (100) and ``interface_weight`` (1.0). ``compile`` defaults
    to False.
    """

    name = "multidomain"
    inverse = False  # builds its own networks and conditions: no observations or unknowns yet
    defaults: dict[str, Any] = {
        **PINN.defaults, "compile": False, "splits": None, "interface": ("solution", "flux"),
        "lbfgs_interface": None, "widths": None, "depths": None, "n_interface": 100, "interface_weight": 1.0,
    }

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s, p = self.settings, self.problem
        self.interface = conditions_tuple(s["interface"], "interface")
        self.lbfgs_interface = (self.interface if s["lbfgs_interface"] is None
                                else conditions_tuple(s["lbfgs_interface"], "lbfgs_interface"))
        lower, upper = geometry.bounds(p.geometry())
        splits = {i: [0.5 * (lo + hi)] for i, lo, hi in zip(p.inputs, lower, upper)} if s["splits"] is None else s["splits"]
        unknown = set(splits) - set(p.inputs)
        if unknown:
            raise ValueError(f"splits name unknown input(s) {sorted(unknown)}; the inputs are {p.inputs}")
        cuts = []
        for name, lo, hi in zip(p.inputs, lower, upper):
            c = [float(v) for v in splits.get(name, [])]
            if any(not lo < v < hi for v in c) or c != sorted(set(c)):
                raise ValueError(f"cuts along {name!r} must be increasing and strictly inside ({lo:g}, {hi:g}), got {c}")
            cuts.append(c)
        self.layout = Layout(lower, upper, cuts)
        k = len(self.layout)
        if k < 2:
            raise ValueError(f"splits {splits!r} give a single subdomain; cut at least one input")
        for key, one in (("widths", "width"), ("depths", "depth")):
            value = s[key] if s[key] is not None else [s[one]] * k
            if len(value) != k or any(int(v) != v or v <= 0 for v in value):
                raise ValueError(f"{key} must list one positive integer per subdomain ({k}), got {s[key]!r}")
            setattr(self, key, [int(v) for v in value])
        if int(s["n_interface"]) != s["n_interface"] or s["n_interface"] <= 0:
            raise ValueError(f"n_interface must be a positive integer, got {s['n_interface']!r}")
        if not s["interface_weight"] >= 0:
            raise ValueError(f"interface_weight must be >= 0, got {s['interface_weight']!r}")

    # -- model -----------------------------------------------------------------------------------
    def build_model(self) -> SubdomainNetwork:
        s, p = self.settings, self.problem
        nets = [Network(MLP(len(p.inputs), len(p.outputs), width=w, depth=d, activation=s["activation"],
                            lower=lo.tolist(), upper=hi.tolist(), fourier_features=s["fourier_features"],
                            fourier_scale=s["fourier_scale"]), p.constraint())
                for w, d, (lo, hi) in zip(self.widths, self.depths, self.layout.boxes)]
        return SubdomainNetwork(nets, self.layout).to(self.device, self.dtype)

    def owner(self, k: int) -> int:
        """The process that trains subdomain ``k`` (0 when training alone)."""
        return 0 if self.group is None else k * self.group.size // len(self.layout)

    # -- points ----------------------------------------------------------------------------------
    def setup(self) -> None:
        self.interface_sets: list[PointSet] | None = None
        super().setup()

    def _sample_interfaces(self) -> list[PointSet]:
        """``n_interface`` uniform points on each interface (inside the geometry), from NumPy's generator."""
        sets = []
        for face in self.layout.interfaces:
            pts = np.random.uniform(face.lower, face.upper, size=(self.settings["n_interface"], len(face.lower)))
            pts = pts[_inside(self.geom, pts)]
            if len(pts) == 0:
                raise ValueError(f"the interface between subdomains {face.a} and {face.b} lies outside the domain")
            sets.append(self._to_device(PointSet(torch.as_tensor(pts))))
        return sets

    def _prepare(self) -> None:
        if self.interface_sets is None:
            self.interface_sets = self._sample_interfaces()
            d = len(self.problem.inputs)
            self.interface_plan = Plan.from_keys(self.plans[0].keys() + [(i,) for i in range(d)])
        rank = 0 if self.group is None else self.group.rank
        self.mine = [k for k in range(len(self.layout)) if self.owner(k) == rank]
        # One point set per own subdomain: its collocation points, then its sides of the interfaces, so
        # that its network is evaluated once per step. ``blocks`` says which rows are which.
        x = self.interior_with_rar().x
        where = self.layout.locate(x)
        combined, self.blocks = [], []
        for k in self.mine:
            parts = [x[where == k]]
            start, faces = parts[0].shape[0], []
            for j, face in enumerate(self.layout.interfaces):
                for side in (0, 1):
                    if (face.a, face.b)[side] == k:
                        n = self.interface_sets[j].x.shape[0]
                        faces.append((j, side, start, start + n))
                        parts.append(self.interface_sets[j].x)
                        start += n
            combined.append(PointSet(torch.cat(parts)))
            self.blocks.append((parts[0].shape[0], faces))
        self.sets = combined + self.condition_sets
        plans = [self.interface_plan] * len(combined) + self.plans[1:]
        self.constraint_jets = [self._constraint_jets(ps.x, plan) for ps, plan in zip(self.sets, plans)]

    # -- loss ------------------------------------------------------------------------------------
    def active_interface(self) -> tuple[str, ...]:
        """The interface conditions of the current training phase."""
        trainer = getattr(self, "trainer", None)
        return self.lbfgs_interface if trainer is not None and trainer.state.phase == "lbfgs" else self.interface

    def _loss_terms(self, xs, auxes, cjs) -> dict[str, Tensor]:
        p, w = self.problem, self.weights
        n_own = len(self.mine)
        terms: dict[str, Tensor] = {}
        own = {}  # (interface, side) -> this process's [u | residuals | ∇u] there, (N, q)
        for i, k in enumerate(self.mine):
            n_interior, faces = self.blocks[i]
            f = self.fields(xs[i], self.interface_plan, cjs[i], model=self.model.nets[k])
            r = self._residuals(f)
            if n_interior:
                for name, v in r.items():
                    terms[name] = terms.get(name, 0.0) + w.get(name, 1.0) * (v[:n_interior] ** 2).mean()
            if faces:
                values = torch.stack([f[o] for o in p.outputs] + [r[name] for name in sorted(r)]
                                     + [f.d(o, i) for i in p.inputs for o in p.outputs], dim=1)
                for j, side, start, stop in faces:
                    own[j, side] = values[start:stop]
        for name in sorted(self.residual_names):  # the same names, in the same order, on every process
            terms[name] = terms.pop(name, xs[0].new_zeros(()))
        for cond, x, aux, plan, cj in zip(self.conditions, xs[n_own:], auxes[n_own:], self.plans[1:], cjs[n_own:]):
            r = cond.residual(self.fields(x, plan, cj), aux)
            terms[cond.name] = w.get(cond.name, cond.weight) * (r ** 2).mean()

        # Each process has evaluated its own sides of the interfaces; all sides are exchanged.
        sizes = [s.x.shape[0] for s in self.interface_sets]
        if self.group is None:
            table = {key: v.detach() for key, v in own.items()}
        else:
            q = len(p.outputs) * (1 + len(p.inputs)) + len(self.residual_names)
            flat = torch.cat([own[j, s].detach().reshape(-1) if (j, s) in own else xs[0].new_zeros(n * q)
                              for j, n in enumerate(sizes) for s in (0, 1)])
            parts = self.group.all_sum(flat).split([n * q for n in sizes for _ in (0, 1)])
            table = {(j, s): parts[2 * j + s].view(sizes[j], q) for j in range(len(sizes)) for s in (0, 1)}

        n_out, n_res = len(p.outputs), len(self.residual_names)
        weight = self.settings["interface_weight"]
        active = self.active_interface()
        for name in active:
            terms[f"interface_{name}"] = xs[0].new_zeros(())
        for (j, side), mine in own.items():
            other = table[j, 1 - side]
            axis = self.layout.interfaces[j].axis
            u, u_o = mine[:, :n_out], other[:, :n_out]
            g = mine[:, n_out + n_res:].view(-1, len(p.inputs), n_out)
            g_o = other[:, n_out + n_res:].view(-1, len(p.inputs), n_out)
            jumps = {
                "solution": lambda: _half(((u - u_o) ** 2).sum(1).mean()),
                "average": lambda: ((u - 0.5 * (u.detach() + u_o)) ** 2).sum(1).mean(),
                "residual": lambda: _half(((mine[:, n_out:n_out + n_res] - other[:, n_out:n_out + n_res]) ** 2)
                                          .sum(1).mean()),
                "flux": lambda: _half(((g[:, axis] - g_o[:, axis]) ** 2).sum(1).mean()),
                "gradient": lambda: _half(((g - g_o) ** 2).sum((1, 2)).mean()),
            }
            for name in active:
                terms[f"interface_{name}"] = terms[f"interface_{name}"] + weight * jumps[name]()
        return terms

    def _contributions(self, terms: dict[str, Tensor]) -> dict[str, Tensor]:
        """Residual and interface terms are already this process's own; conditions are replicated."""
        conditions = {c.name for c in self.conditions}
        return {k: v / self.group.size if k in conditions else v for k, v in terms.items()}


def interface_jumps(result, n: int = 200) -> list[dict[str, Any]]:
    """The trained networks' solution jump u_a − u_b along each interface of a multi-domain result.

    Returns one dict per interface: ``a``, ``b``, ``axis`` (input name), ``position``, ``points``
    (n, d) on a line through the face's middle (2-D domains: the whole face) and ``jump`` (n, n_out).
    """
    solver, model = result.solver, result.model
    dtype = next(model.parameters()).dtype
    out = []
    for face in solver.layout.interfaces:
        lo, hi = np.array(face.lower), np.array(face.upper)
        free = next(i for i in range(len(lo)) if i != face.axis)
        pts = np.tile(0.5 * (lo + hi), (n, 1))
        pts[:, free] = np.linspace(lo[free], hi[free], n)
        x = torch.as_tensor(pts, dtype=dtype, device=result.device)
        with torch.no_grad():
            jump = (model.nets[face.a](x) - model.nets[face.b](x)).double().cpu().numpy()
        out.append({"a": face.a, "b": face.b, "axis": solver.problem.inputs[face.axis], "position": face.position,
                    "points": pts, "free": solver.problem.inputs[free], "jump": jump})
    return out
