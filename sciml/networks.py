"""Networks that both engines understand: MLPs with optional Fourier features, and hard constraints.

Every module here has ``forward(x)`` for the autograd engine and ``jet(J, plan)`` for the taylor
engine (:mod:`sciml.taylor`); they compute the same function.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from . import native, taylor
from .fields import AutogradFields, Plan


def _sigmoid_derivatives(z: Tensor):
    s = torch.sigmoid(z)
    ds = s * (1 - s)
    return s, ds, ds * (1 - 2 * s)


class _Tanh(torch.autograd.Function):
    """tanh(z) as expm1(2z) / (expm1(2z) + 2), z clamped to [-20, 20], with d/dz = 1 - tanh².

    The same function as ``torch.tanh`` to rounding: the largest relative difference from the exact
    value is 1.6e-7 in float32 (``torch.tanh``: 5.8e-8) and 4e-16 in float64; tanh(±20) rounds to ±1
    in both. It is faster: ATen's vectorised tanh is the most expensive element-wise operation of
    the taylor step on the CPU, and this formula (fused into one kernel by Inductor, or eager) costs
    less. The backward uses the output, as ``torch.tanh``'s does, instead of differentiating the
    formula.
    """

    generate_vmap_rule = True  # per-point Jacobians (sciml.optim.point_jacobian) vmap over it

    @staticmethod
    def forward(z: Tensor) -> Tensor:
        e = torch.expm1(2 * z.clamp(-20.0, 20.0))
        return e / (e + 2)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (s,) = ctx.saved_tensors
        return grad * (1 - s * s)


def _tanh(z):
    s = _Tanh.apply(z)
    s1 = 1 - s * s
    return s, s1, -2 * s * s1


def _sin(z):
    s, c = torch.sin(z), torch.cos(z)
    return s, c, -s


def _silu(z):
    sig, dsig, d2sig = _sigmoid_derivatives(z)
    return z * sig, sig + z * dsig, 2 * dsig + z * d2sig


def _gelu(z):
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    pdf = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return z * cdf, cdf + z * pdf, pdf * (2 - z * z)


def _relu(z):
    step = (z > 0).to(z.dtype)
    return z * step, step, torch.zeros_like(z)


def _softplus(z):
    sig, dsig, _ = _sigmoid_derivatives(z)
    return nn.functional.softplus(z), sig, dsig


ACTIVATIONS: dict[str, Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]] = {
    "tanh": _tanh,
    "sin": _sin,
    "silu": _silu,
    "swish": _silu,
    "gelu": _gelu,
    "sigmoid": _sigmoid_derivatives,
    "softplus": _softplus,
    "relu": _relu,
}
_FORWARD = {
    "tanh": torch.tanh,
    "sin": torch.sin,
    "silu": nn.functional.silu,
    "swish": nn.functional.silu,
    "gelu": nn.functional.gelu,
    "sigmoid": torch.sigmoid,
    "softplus": nn.functional.softplus,
    "relu": torch.relu,
}


class Activation(nn.Module):
    """A pointwise activation with its first and second derivatives in closed form."""

    def __init__(self, name: str):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
        self.name = name
        self._fn = _FORWARD[name]
        self._derivatives = ACTIVATIONS[name]

    def forward(self, z: Tensor) -> Tensor:
        return self._fn(z)

    def jet(self, jet: taylor.Jet, plan: Plan) -> taylor.Jet:
        s0, s1, s2 = self._derivatives(jet[0])
        return taylor.elementwise(jet, plan, s1, s2, s0)

    def extra_repr(self) -> str:
        return self.name


class FourierFeatures(nn.Module):
    """Random Fourier features γ(x) = [x, sin(2π B x), cos(2π B x)] with B ~ N(0, σ²), fixed.

    Tancik et al. (2020), "Fourier features let networks learn high frequency functions".
    ``in_dim`` inputs become ``in_dim * keep_input + 2 * n_features`` features.
    """

    def __init__(self, in_dim: int, n_features: int, scale: float = 1.0, keep_input: bool = True):
        super().__init__()
        if n_features <= 0:
            raise ValueError(f"n_features must be positive, got {n_features}")
        if not scale > 0:
            raise ValueError(f"Fourier feature scale must be positive, got {scale}")
        self.register_buffer("B", 2 * math.pi * scale * torch.randn(n_features, in_dim))
        self.keep_input = keep_input
        self.out_dim = 2 * n_features + (in_dim if keep_input else 0)

    def forward(self, x: Tensor) -> Tensor:
        v = x @ self.B.T
        parts = [x] if self.keep_input else []
        return torch.cat(parts + [torch.sin(v), torch.cos(v)], dim=-1)

    def jet(self, jet: taylor.Jet, plan: Plan) -> taylor.Jet:
        v = taylor.linear(jet, self.B, None)
        s, c = torch.sin(v[0]), torch.cos(v[0])
        parts = [jet] if self.keep_input else []
        parts.append(taylor.elementwise(v, plan, c, -s, s))
        parts.append(taylor.elementwise(v, plan, -s, -c, c))
        return taylor.cat(parts)


class MLP(nn.Module):
    """Fully connected network ``in_dim -> [width] * depth -> out_dim`` with Glorot-normal weights.

    Inputs are first mapped affinely from the box ``[lower, upper]`` to ``[-1, 1]`` (pass the
    domain's bounding box); the inputs listed in ``periodic`` (indices) are then replaced by
    (cos πh, sin πh), which makes the network exactly periodic in them with the box's extent as
    period; then optionally :class:`FourierFeatures`.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 32, depth: int = 4,
                 activation: str = "tanh", lower: Sequence[float] | None = None,
                 upper: Sequence[float] | None = None, fourier_features: int = 0,
                 fourier_scale: float = 1.0, periodic: Sequence[int] = ()):
        super().__init__()
        for name, value in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
            if int(value) != value or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        lower = torch.as_tensor([-1.0] * in_dim if lower is None else lower, dtype=torch.get_default_dtype())
        upper = torch.as_tensor([1.0] * in_dim if upper is None else upper, dtype=torch.get_default_dtype())
        if lower.shape != (in_dim,) or upper.shape != (in_dim,) or not bool((upper > lower).all()):
            raise ValueError(f"lower/upper must be {in_dim} bounds with upper > lower, got {lower.tolist()}, "
                             f"{upper.tolist()}")
        self.register_buffer("center", (upper + lower) / 2)
        self.register_buffer("half_width", (upper - lower) / 2)
        periodic = sorted(set(periodic))
        if any(i not in range(in_dim) for i in periodic):
            raise ValueError(f"periodic input indices must lie in 0..{in_dim - 1}, got {periodic}")
        self.periodic = periodic
        self.aperiodic = [i for i in range(in_dim) if i not in periodic]
        embedded = in_dim + len(periodic)
        self.fourier = FourierFeatures(embedded, fourier_features, fourier_scale) if fourier_features else None
        dims = [self.fourier.out_dim if self.fourier else embedded] + [width] * depth + [out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        for layer in self.linears:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.activation = Activation(activation)
        # Jets through the native CPU kernel (sciml.native) where it applies; the solver sets this
        # after checking native_unsupported().
        self.native = False

    def forward(self, x: Tensor) -> Tensor:
        h = (x - self.center) / self.half_width
        if self.periodic:
            angle = math.pi * h[:, self.periodic]
            h = torch.cat([h[:, self.aperiodic], torch.cos(angle), torch.sin(angle)], dim=-1)
        if self.fourier is not None:
            h = self.fourier(h)
        for layer in self.linears[:-1]:
            h = self.activation(layer(h))
        return self.linears[-1](h)

    def jet(self, jet: taylor.Jet, plan: Plan) -> taylor.Jet:
        h = [(jet[0] - self.center) / self.half_width] + [z / self.half_width for z in jet[1:]]
        if self.periodic:
            angle = [math.pi * z[:, self.periodic] for z in h]
            c, s = torch.cos(angle[0]), torch.sin(angle[0])
            h = taylor.cat([[z[:, self.aperiodic] for z in h], taylor.elementwise(angle, plan, -s, -c, c),
                            taylor.elementwise(angle, plan, c, -s, s)])
        if self.fourier is not None:
            h = self.fourier.jet(h, plan)
        for layer in self.linears[:-1]:
            h = self.activation.jet(taylor.linear(h, layer.weight, layer.bias), plan)
        last = self.linears[-1]
        return taylor.linear(h, last.weight, last.bias)

    def native_unsupported(self) -> str | None:
        """Why :mod:`sciml.native`'s kernel cannot compute this network's jets; None if it can."""
        if self.activation.name != "tanh":
            return f"its activation is {self.activation.name!r} (the native kernel has tanh)"
        if self.periodic or self.fourier is not None:
            return "it has periodic inputs or Fourier features (the native kernel maps inputs affinely only)"
        if self.center.dtype not in (torch.float32, torch.float64):
            return f"its dtype is {self.center.dtype} (the native kernel has float32 and float64)"
        return None

    def jet_at(self, x: Tensor, plan: Plan) -> taylor.Jet:
        """Jet (plan.size slots of (N, out_dim)) at points x (N, in_dim): through the native kernel
        when :attr:`native` is set and x is a CPU tensor that needs no gradient, else through
        :meth:`jet`."""
        if self.native and x.device.type == "cpu" and not x.requires_grad:
            params = [p for layer in self.linears for p in (layer.weight, layer.bias)]
            out = native.mlp_jet(x, self.center, self.half_width, list(plan.first), taylor.pair_positions(plan),
                                 params)
            return list(out.unbind(0))
        return taylor.full(self.jet(taylor.input_jet(x, plan), plan))


class HardConstraint:
    """Exact conditions by construction: ``u(x) = particular(x) + distance(x) * N(x)``.

    ``particular`` satisfies the conditions, ``distance`` vanishes where they hold (an approximate
    distance function, Sukumar & Srivastava 2022). Both map points (N, d) to (N, n_out) and do not
    depend on trained parameters, so their derivatives are computed once per point set by autograd.
    ``enforces`` names the kinds of condition it satisfies ("initial", "boundary"), so an inverse
    problem whose initial condition is unknown knows whether it may keep it
    (:func:`sciml.inverse.applied`).
    """

    def __init__(self, particular: Callable[[Tensor], Tensor], distance: Callable[[Tensor], Tensor],
                 enforces: Sequence[str] = ("initial", "boundary")):
        unknown = set(enforces) - {"initial", "boundary"}
        if unknown:
            raise ValueError(f"a hard constraint enforces 'initial' and/or 'boundary' conditions, got {sorted(unknown)}")
        self.particular = particular
        self.distance = distance
        self.enforces = tuple(enforces)

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        return self.particular(x) + self.distance(x) * y

    def jets(self, x: Tensor, plan: Plan, inputs: Sequence[str],
             outputs: Sequence[str]) -> tuple[taylor.Jet, taylor.Jet]:
        """Jets (plan.size slots of (N, n_out)) of ``particular`` and ``distance``, detached."""
        result = []
        for fn in (self.particular, self.distance):
            def full(z, fn=fn):
                return fn(z).expand(z.shape[0], len(outputs))
            f = AutogradFields(full, x.detach(), inputs, outputs, create_graph=plan.second != ())
            result.append([slot.detach() for slot in f.jet(plan)])
        return result[0], result[1]


class Network(nn.Module):
    """A body network with an optional hard-constraint output transform.

    ``forward(x)`` gives (N, n_out); ``jet(x, plan)`` gives the taylor jet (plan.size slots of (N, n_out)) when
    the body supports it (``supports_taylor``). ``constraint_jets`` lets a caller pass the
    precomputed jets of the constraint for a fixed point set.
    """

    def __init__(self, body: nn.Module, constraint: HardConstraint | None = None):
        super().__init__()
        self.body = body
        self.constraint = constraint

    @property
    def supports_taylor(self) -> bool:
        return hasattr(self.body, "jet")

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        return y if self.constraint is None else self.constraint(x, y)

    def jet(self, x: Tensor, plan: Plan, constraint_jets: tuple[taylor.Jet, taylor.Jet] | None = None) -> taylor.Jet:
        if hasattr(self.body, "jet_at"):
            y = self.body.jet_at(x, plan)
        else:
            y = taylor.full(self.body.jet(taylor.input_jet(x, plan), plan))
        if self.constraint is None:
            return y
        if constraint_jets is None:
            raise ValueError("a constrained network's jet needs the constraint's jets (HardConstraint.jets)")
        particular, distance = constraint_jets
        return taylor.add(particular, taylor.product(distance, y, plan))
