"""The residual core: fields and their derivatives at collocation points, by name.

A residual is written once, against a :class:`Fields` object::

    def residual(self, f):
        u = f["u"]
        return f.d("u", "t") + u * f.d("u", "x") - self.nu * f.d("u", "x", "x")

Two engines stand behind the same interface:

* ``"taylor"`` (:class:`TaylorFields`) propagates values, first and second derivatives forward
  through the network layer by layer (see :mod:`sciml.taylor`). It needs a :class:`Plan` — the set of
  derivatives the residual asks for — which :func:`discover_plan` records once by running the
  residual through the autograd engine.
* ``"autograd"`` (:class:`AutogradFields`) differentiates any ``nn.Module`` in reverse mode, caching
  every gradient so each requested derivative is computed once per step.

Derivatives are keyed by a sorted tuple of input indices (mixed partials commute), so
``f.d("u", "x", "t")`` and ``f.d("u", "t", "x")`` are the same cached tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor

Key = tuple[int, ...]
"""A derivative multi-index: sorted input indices, ``()`` for the value, ``(0,)`` for d/dx0, ..."""


@dataclass(frozen=True)
class Plan:
    """Which derivatives a forward (Taylor-mode) pass must carry.

    ``first`` holds the input indices whose first derivative is propagated, ``second`` the sorted
    index pairs whose second derivative is propagated. Slot 0 of a jet is the value, slots
    ``1 .. len(first)`` the first derivatives in the order of ``first``, then the pairs of
    ``second`` in their order.
    """

    first: tuple[int, ...] = ()
    second: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_keys(cls, keys: Iterable[Key]) -> "Plan":
        first: set[int] = set()
        second: set[tuple[int, int]] = set()
        for key in keys:
            if len(key) == 1:
                first.add(key[0])
            elif len(key) == 2:
                second.add((key[0], key[1]))
                first.update(key)
            elif len(key) > 2:
                raise ValueError(
                    f"the taylor engine propagates derivatives up to second order, but order "
                    f"{len(key)} was requested (key {key}); use engine='autograd'"
                )
        return cls(tuple(sorted(first)), tuple(sorted(second)))

    @property
    def size(self) -> int:
        """Number of jet slots: value + first + second derivatives."""
        return 1 + len(self.first) + len(self.second)

    def slot(self, key: Key) -> int:
        """Jet slot of a derivative key; ``KeyError`` if the plan does not carry it."""
        if key == ():
            return 0
        if len(key) == 1:
            return 1 + self.first.index(key[0])
        if len(key) == 2:
            return 1 + len(self.first) + self.second.index((key[0], key[1]))
        raise KeyError(key)

    def keys(self) -> list[Key]:
        return [()] + [(i,) for i in self.first] + list(self.second)

    def __contains__(self, key: Key) -> bool:
        try:
            self.slot(key)
        except (KeyError, ValueError):
            return False
        return True


class Fields:
    """Named access to a network's outputs and their derivatives at points ``x`` of shape (N, d).

    Every accessor returns a tensor of shape (N,). Input coordinates are available by name too
    (``f["x"]``), which is how residuals with source terms read the position.
    """

    def __init__(self, x: Tensor, inputs: Sequence[str], outputs: Sequence[str],
                 spatial: Sequence[str] | None = None):
        self.x = x
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.spatial = tuple(spatial) if spatial is not None else self.inputs
        if x.ndim != 2 or x.shape[1] != len(self.inputs):
            raise ValueError(
                f"points must have shape (N, {len(self.inputs)}) for inputs {self.inputs}, "
                f"got {tuple(x.shape)}"
            )

    # -- name handling -------------------------------------------------------------------------
    def _output(self, name: str) -> int:
        try:
            return self.outputs.index(name)
        except ValueError:
            raise KeyError(f"unknown output {name!r}; the outputs are {self.outputs}") from None

    def _key(self, wrt: Sequence[str]) -> Key:
        idx = []
        for w in wrt:
            if w not in self.inputs:
                raise KeyError(f"unknown input {w!r} to differentiate by; the inputs are {self.inputs}")
            idx.append(self.inputs.index(w))
        return tuple(sorted(idx))

    # -- public interface ----------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of points."""
        return self.x.shape[0]

    def __getitem__(self, name: str) -> Tensor:
        if name in self.inputs and name not in self.outputs:
            return self.x[:, self.inputs.index(name)]
        return self._derivative(self._output(name), ())

    def d(self, name: str, *wrt: str) -> Tensor:
        """∂^k name / ∂wrt[0] ... ∂wrt[k-1], shape (N,). ``f.d("u", "x", "x")`` is u_xx."""
        if not wrt:
            raise ValueError("d() needs at least one input to differentiate by, e.g. f.d('u', 'x')")
        return self._derivative(self._output(name), self._key(wrt))

    def laplacian(self, name: str, over: Sequence[str] | None = None) -> Tensor:
        """Sum of second derivatives of ``name`` over ``over`` (default: the spatial inputs)."""
        over = self.spatial if over is None else tuple(over)
        out = self.d(name, over[0], over[0])
        for w in over[1:]:
            out = out + self.d(name, w, w)
        return out

    def _derivative(self, out: int, key: Key) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class AutogradFields(Fields):
    """Reverse-mode engine for any module mapping (N, d) -> (N, n_out).

    Each gradient ``∂/∂x`` of a cached quantity is taken once, for all inputs at once, and cached;
    ``requested`` records every derivative key asked for (used by :func:`discover_plan`).
    """

    def __init__(self, model: Callable[[Tensor], Tensor], x: Tensor, inputs: Sequence[str],
                 outputs: Sequence[str], spatial: Sequence[str] | None = None,
                 create_graph: bool = True):
        super().__init__(x, inputs, outputs, spatial)
        self.create_graph = create_graph
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
            self.x = x
        y = model(x)
        if y.ndim != 2 or y.shape != (x.shape[0], len(self.outputs)):
            raise ValueError(
                f"the model must map (N, {len(self.inputs)}) to (N, {len(self.outputs)}) for outputs "
                f"{self.outputs}, got {tuple(y.shape)}"
            )
        self._cache: dict[tuple[int, Key], Tensor] = {}
        self._grads: dict[tuple[int, Key], Tensor] = {}
        for k in range(y.shape[1]):
            self._cache[(k, ())] = y[:, k]
        self.requested: set[Key] = set()

    def _gradient(self, out: int, key: Key) -> Tensor:
        """∇_x of the cached derivative ``key`` of output ``out``: (N, d), computed once."""
        if (out, key) not in self._grads:
            value = self._derivative(out, key)
            if not value.requires_grad:  # a constant (e.g. the derivative of a linear function)
                g = None
            else:
                (g,) = torch.autograd.grad(value, self.x, torch.ones_like(value),
                                           create_graph=self.create_graph, retain_graph=True, allow_unused=True)
            self._grads[(out, key)] = torch.zeros_like(self.x) if g is None else g
        return self._grads[(out, key)]

    def jet(self, plan: Plan) -> list[Tensor]:
        """All derivatives the plan carries, laid out like a taylor jet: plan.size slots of (N, n_out)."""
        return [torch.stack([self._derivative(k, key) for k in range(len(self.outputs))], dim=-1)
                for key in plan.keys()]

    def _derivative(self, out: int, key: Key) -> Tensor:
        self.requested.add(key)
        if (out, key) not in self._cache:
            # Differentiate the derivative one order lower by its last index.
            self._cache[(out, key)] = self._gradient(out, key[:-1])[:, key[-1]]
        return self._cache[(out, key)]


class TaylorFields(Fields):
    """Fields read out of a jet (plan.size slots of (N, n_out)) computed by forward Taylor propagation."""

    def __init__(self, jet: list[Tensor], plan: Plan, x: Tensor, inputs: Sequence[str],
                 outputs: Sequence[str], spatial: Sequence[str] | None = None):
        super().__init__(x, inputs, outputs, spatial)
        expected = (x.shape[0], len(self.outputs))
        if len(jet) != plan.size or any(tuple(slot.shape) != expected for slot in jet):
            raise ValueError(f"jet of {len(jet)} slots shaped {[tuple(j.shape) for j in jet]} does not match "
                             f"plan size {plan.size} with {expected[0]} points and {expected[1]} outputs")
        self.jet = jet
        self.plan = plan

    def _derivative(self, out: int, key: Key) -> Tensor:
        if key not in self.plan:
            names = "".join(self.inputs[i] for i in key)
            raise KeyError(
                f"derivative {self.outputs[out]}_{names} was not in the plan {self.plan}: the residual "
                "asked for a derivative it did not ask for when the plan was recorded "
                "(data-dependent requests need engine='autograd')"
            )
        return self.jet[self.plan.slot(key)][:, out]


def discover_plan(fn: Callable[[Fields], object], model: Callable[[Tensor], Tensor], x: Tensor,
                  inputs: Sequence[str], outputs: Sequence[str],
                  spatial: Sequence[str] | None = None) -> Plan:
    """Run ``fn`` once through the autograd engine on a few points and record what it asks for."""
    probe = x[: min(4, x.shape[0])].detach()
    f = AutogradFields(model, probe, inputs, outputs, spatial)
    fn(f)
    return Plan.from_keys(f.requested)
