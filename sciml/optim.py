"""Second-order optimisers for PINNs: self-scaled quasi-Newton methods with a strong-Wolfe line search,
and energy natural gradient (Gauss–Newton) descent.

Both work on the flattened parameter vector x (P,) in float64, through a function ``evaluate(x) ->
(f, g)`` giving the loss and its gradient (P,) there; :class:`sciml.training.Trainer` runs them as the
phase after Adam.

- :class:`QuasiNewton` keeps a dense inverse-Hessian estimate H (P, P) — for networks up to a few
  thousand parameters — and updates it with the self-scaled Broyden family of Urbán, Stefanou & Pons
  (2025, J. Comput. Phys. 523, 113656) as used by Kiyani, Shukla, Urbán, Darbon & Karniadakis (2025,
  arXiv 2501.16371): SSBFGS (the BFGS member scaled by τ = min(1, 1/b), Al-Baali 1998) and SSBroyden
  (θ and τ chosen per step from b and h, below), plus plain BFGS for comparison.
- :func:`strong_wolfe` is the line search (Nocedal & Wright 2006, Algorithms 3.5 and 3.6) and says
  whether the step it returns satisfies the strong Wolfe conditions.
- :class:`NaturalGradient` is energy natural gradient descent (Müller & Zeinhofer 2023, ICML; the
  Gauss–Newton form for a least-squares loss): the Gram matrix G = JᵀJ of the Jacobian J of the
  stacked, weighted residual vector r (Σ r² = loss), the direction d = (G + λI)⁻¹ Jᵀr, and a step
  x - η d with η the best of the grid 0.5^k.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

Evaluate = Callable[[Tensor], tuple[float, Tensor]]
"""x (P,) -> (loss f, gradient g (P,)), both at x; f may be inf or NaN where the loss is not finite."""

METHODS = ("ssbroyden", "ssbfgs", "bfgs")


@dataclass
class LineSearch:
    """What :func:`strong_wolfe` found: the step length ``alpha`` (0 if it found no decrease), the
    loss ``f`` and gradient ``g`` (P,) at x + alpha d, the number of evaluations, and whether the step
    satisfies the strong Wolfe conditions f ≤ f0 + c1 α g0·d and |g·d| ≤ c2 |g0·d| (``wolfe``)."""

    alpha: float
    f: float
    g: Tensor
    evaluations: int
    wolfe: bool


def _cubic_minimum(a: float, fa: float, da: float, b: float, fb: float, db: float) -> float | None:
    """Minimiser of the cubic through (a, fa, da) and (b, fb, db) (values and slopes), or None when it
    has none (Nocedal & Wright 2006, eq. 3.59)."""
    d1 = da + db - 3 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if not (disc >= 0 and math.isfinite(disc)):
        return None
    d2 = math.copysign(math.sqrt(disc), b - a)
    denom = db - da + 2 * d2
    if denom == 0:
        return None
    return b - (b - a) * (db + d2 - d1) / denom


def strong_wolfe(evaluate: Evaluate, x: Tensor, f0: float, g0: Tensor, d: Tensor, alpha: float = 1.0,
                 c1: float = 1e-4, c2: float = 0.9, max_evaluations: int = 25) -> LineSearch:
    """A step length along the descent direction ``d`` (P,) from ``x`` (P,), where the loss is ``f0``
    and the gradient ``g0`` (P,), satisfying the strong Wolfe conditions with 0 < c1 < c2 < 1: bracket
    by extrapolation, then zoom by safeguarded cubic interpolation (Nocedal & Wright 2006, Algorithms
    3.5 and 3.6). A non-finite loss counts as +inf. After ``max_evaluations`` it returns the lowest
    point that satisfies the sufficient-decrease condition, with ``wolfe=False``; alpha 0 if none."""
    if not 0 < c1 < c2 < 1:
        raise ValueError(f"the Wolfe constants need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
    slope0 = float(g0 @ d)
    if not slope0 < 0:
        raise ValueError(f"the line search needs a descent direction, got the slope g·d = {slope0:g}")

    def point(a: float) -> tuple[float, float, Tensor, float]:
        f, g = evaluate(x + a * d)
        f = f if math.isfinite(f) else math.inf
        slope = float(g @ d) if math.isfinite(f) else math.nan
        return a, f, g, slope

    def armijo(a: float, f: float) -> bool:
        return f <= f0 + c1 * a * slope0

    def curvature(slope: float) -> bool:
        return abs(slope) <= -c2 * slope0

    evaluations = 0
    best = (0.0, f0, g0, slope0)  # the lowest point satisfying sufficient decrease so far
    prev = best
    lo = hi = None
    a = alpha
    while evaluations < max_evaluations:  # bracketing
        cur = point(a)
        evaluations += 1
        if not armijo(cur[0], cur[1]) or (prev[0] > 0 and cur[1] >= prev[1]):
            lo, hi = prev, cur
            break
        best = cur if cur[1] < best[1] else best
        if curvature(cur[3]):
            return LineSearch(cur[0], cur[1], cur[2], evaluations, True)
        if cur[3] >= 0:
            lo, hi = cur, prev
            break
        step = _cubic_minimum(prev[0], prev[1], prev[3], cur[0], cur[1], cur[3])
        a_next = 2 * cur[0] if step is None else min(max(step, 2 * cur[0]), 10 * cur[0])
        prev, a = cur, a_next
    while lo is not None and evaluations < max_evaluations:  # zoom: lo satisfies sufficient decrease
        left, right = sorted((lo[0], hi[0]))
        width = right - left
        if width * float(d.abs().max()) < 1e-14 * max(1.0, float(x.abs().max())):
            break  # the bracket is below the parameters' resolution
        step = None
        if math.isfinite(hi[1]) and math.isfinite(hi[3]):
            step = _cubic_minimum(lo[0], lo[1], lo[3], hi[0], hi[1], hi[3])
        if step is None or not left + 0.1 * width <= step <= right - 0.1 * width:
            step = 0.5 * (left + right)
        cur = point(step)
        evaluations += 1
        if not armijo(cur[0], cur[1]) or cur[1] >= lo[1]:
            hi = cur
            continue
        best = cur if cur[1] < best[1] else best
        if curvature(cur[3]):
            return LineSearch(cur[0], cur[1], cur[2], evaluations, True)
        if cur[3] * (hi[0] - lo[0]) >= 0:
            hi = lo
        lo = cur
    return LineSearch(best[0], best[1], best[2], evaluations, best[0] > 0 and curvature(best[3]))


class QuasiNewton:
    """Dense inverse-Hessian quasi-Newton steps: x ← x + α d, d = -H g, α by :func:`strong_wolfe`.

    ``method``: "ssbroyden", "ssbfgs" or "bfgs". After each step with s = α d, y = g₊ - g (y·s > 0)
    the estimate is updated by the self-scaled Broyden family (Urbán et al. 2025; Kiyani et al. 2025):

        H ← (H - (H y)(H y)ᵀ / yᵀHy + φ (yᵀHy) v vᵀ) / τ + s sᵀ / yᵀs,   v = s / yᵀs - H y / yᵀHy,

    with b = -α sᵀg / yᵀs, h = yᵀHy / yᵀs, a = b h - 1 ≥ 0 and φ = (1 - θ) / (1 + a θ). BFGS: θ = 0,
    τ = 1. SSBFGS: θ = 0, τ = min(1, 1/b). SSBroyden: ρ⁻ = min(1, h (1 - √(a / (1 + a)))),
    θ⁻ = (ρ⁻ - 1) / a, θ⁺ = 1 / ρ⁻, θ = max(θ⁻, min(θ⁺, (1 - b) / b)), σ = 1 + a θ and
    τ = min(min(1, 1/b) σ^(1/(1-P)), σ) for θ ≤ 0, else min(1, 1/b) min(σ^(1/(1-P)), 1/θ).

    Before the first update after a (re)start H is the identity times yᵀs / yᵀy (Nocedal & Wright
    2006, eq. 6.20). H is reset when it stops being positive definite, as far as a step can tell
    without a factorisation: a direction that is not a descent direction, yᵀHy ≤ 0 or a non-finite
    update. A step with yᵀs ≤ 0 leaves H as it is. :meth:`restart` forgets the loss and gradient
    (the loss changed, e.g. new collocation points) and keeps H.
    """

    def __init__(self, size: int, method: str = "ssbroyden", *, dtype: torch.dtype = torch.float64,
                 device: torch.device | str | None = None, c1: float = 1e-4, c2: float = 0.9,
                 max_evaluations: int = 25):
        if method not in METHODS:
            raise ValueError(f"quasi-Newton method must be one of {list(METHODS)}, got {method!r}")
        self.method, self.size = method, size
        self.c1, self.c2, self.max_evaluations = c1, c2, max_evaluations
        self.H = torch.eye(size, dtype=dtype, device=device)
        self.scaled = False
        """Whether H has been scaled since the last reset (the first update scales the identity)."""
        self.resets = 0
        self.f: float | None = None
        self.g: Tensor | None = None
        self.last: LineSearch | None = None

    def reset(self) -> None:
        """Start the estimate again from the identity."""
        self.H = torch.eye(self.size, dtype=self.H.dtype, device=self.H.device)
        self.scaled = False
        self.resets += 1

    def restart(self) -> None:
        """The loss changed (e.g. resampled points): evaluate again at the next step, keep H."""
        self.f = self.g = None

    def step(self, x: Tensor, evaluate: Evaluate) -> Tensor:
        """One iteration from ``x`` (P,); returns the new x (x itself when no step lowered the loss:
        see ``self.last.alpha``)."""
        if self.g is None:
            self.f, self.g = evaluate(x)
        f, g = self.f, self.g
        d = -(self.H @ g)
        if not float(g @ d) < 0:  # H is no longer positive definite (or g vanished)
            if float(g @ g) == 0:
                self.last = LineSearch(0.0, f, g, 0, False)
                return x
            self.reset()
            d = -g
        alpha = 1.0 if self.scaled else min(1.0, 1.0 / float(g.abs().sum()))
        search = strong_wolfe(evaluate, x, f, g, d, alpha, self.c1, self.c2, self.max_evaluations)
        if search.alpha == 0 and self.scaled:  # a poor H: try again along the gradient
            self.reset()
            d = -g
            search = strong_wolfe(evaluate, x, f, g, d, min(1.0, 1.0 / float(g.abs().sum())),
                                  self.c1, self.c2, self.max_evaluations)
        self.last = search
        if search.alpha == 0:
            return x
        s = search.alpha * d
        y = search.g - g
        self._update(s, y, g, search.alpha)
        self.f, self.g = search.f, search.g
        return x + s

    def _update(self, s: Tensor, y: Tensor, g: Tensor, alpha: float) -> None:
        ys = float(y @ s)
        if not ys > 0:
            return
        if not self.scaled:
            self.H = self.H * (ys / float(y @ y))
            self.scaled = True
        Hy = self.H @ y
        yHy = float(y @ Hy)
        if not (yHy > 0 and math.isfinite(yHy)):
            self.reset()
            return
        b = -alpha * float(s @ g) / ys
        h = yHy / ys
        a = max(b * h - 1.0, 0.0)
        theta, tau = 0.0, 1.0
        if self.method == "ssbfgs":
            tau = min(1.0, 1.0 / b)
        elif self.method == "ssbroyden":
            theta, tau = self._ssbroyden(a, b, h)
        phi = (1.0 - theta) / (1.0 + a * theta)
        v = s / ys - Hy / yHy
        if not (math.isfinite(tau) and tau > 0 and math.isfinite(phi) and bool(torch.isfinite(v).all())):
            self.reset()
            return
        # In place, four passes over H; rank-one terms a aᵀ keep H exactly symmetric.
        self.H.addr_(Hy, Hy, alpha=-1.0 / yHy).addr_(v, v, alpha=phi * yHy).div_(tau).addr_(s, s, alpha=1.0 / ys)

    def _ssbroyden(self, a: float, b: float, h: float) -> tuple[float, float]:
        """θ and τ of the self-scaled Broyden update (see the class docstring)."""
        scale = min(1.0, 1.0 / b)
        if a <= 1e-12:  # every member of the family coincides: take BFGS, scaled
            return 0.0, scale
        rho_minus = min(1.0, h * (1.0 - math.sqrt(a / (1.0 + a))))
        theta_minus = (rho_minus - 1.0) / a
        theta_plus = 1.0 / rho_minus
        theta = max(theta_minus, min(theta_plus, (1.0 - b) / b))
        sigma = 1.0 + a * theta
        root = abs(sigma) ** (1.0 / (1.0 - self.size))
        tau = min(scale * root, sigma) if theta <= 0 else scale * min(root, 1.0 / theta)
        return theta, tau

    def state_dict(self) -> dict:
        return {"H": self.H.clone(), "scaled": self.scaled, "resets": self.resets}

    def load_state_dict(self, state: dict) -> None:
        self.H = state["H"].to(self.H.device, self.H.dtype).clone()  # updated in place
        self.scaled, self.resets = bool(state["scaled"]), int(state["resets"])
        self.restart()


class NaturalGradient:
    """Energy natural gradient / Gauss–Newton steps for a loss Σ r² (Müller & Zeinhofer 2023).

    Each step takes the stacked residual vector r (M,) and its Jacobian J (M, P) by the parameters,
    forms the Gram matrix G = JᵀJ, solves (G + λ I) d = Jᵀr with λ = ``damping`` · trace(G) / P
    (Cholesky; λ grows tenfold until it factorises) and moves to x - η d with η the value of
    ``0.5 ** k``, k = 0 … ``grid`` - 1, that gives the lowest loss (no move if none lowers it).
    With ``adaptive`` the damping follows the step as in Levenberg–Marquardt: divided by 10 after a
    step of η ≥ 1/4, down to ``min_damping``, and multiplied by 10 after a step of η < 1/64 (or
    none), up to 1 — far from the minimum the undamped direction is long in directions the residuals
    barely determine, and only tiny steps along it lower the loss.
    """

    def __init__(self, damping: float = 1e-3, grid: int = 30, adaptive: bool = True, min_damping: float = 1e-12):
        if not 0 <= min_damping <= damping <= 1:
            raise ValueError(f"need 0 <= min_damping <= damping <= 1, got {min_damping!r} and {damping!r}")
        if int(grid) != grid or grid < 1:
            raise ValueError(f"grid must be a positive integer, got {grid!r}")
        self.damping, self.grid, self.adaptive, self.min_damping = damping, grid, adaptive, min_damping
        self.eta = 0.0
        """The step size of the last step (0: it found no lower loss)."""

    def direction(self, r: Tensor, J: Tensor) -> Tensor:
        """d (P,) with (JᵀJ + λ I) d = Jᵀr."""
        G = J.T @ J
        rhs = J.T @ r
        lam = self.damping * float(G.diagonal().mean())
        eye = torch.eye(G.shape[0], dtype=G.dtype, device=G.device)
        for _ in range(20):
            L, info = torch.linalg.cholesky_ex(G + lam * eye)
            if int(info) == 0:
                return torch.cholesky_solve(rhs[:, None], L)[:, 0]
            lam = max(10 * lam, 1e-14 * float(G.diagonal().abs().max()))
        raise RuntimeError("the Gram matrix does not factorise even with large damping (non-finite residuals?)")

    def step(self, x: Tensor, r: Tensor, J: Tensor, loss: Callable[[Tensor], float]) -> Tensor:
        """One step from ``x`` (P,) with residuals ``r`` (M,) and Jacobian ``J`` (M, P) there;
        ``loss(x)`` is Σ r² at x. Returns the new x (x itself when no grid step lowers the loss)."""
        d = self.direction(r, J)
        best, self.eta = float(r @ r), 0.0
        for k in range(self.grid):
            eta = 0.5 ** k
            f = loss(x - eta * d)
            if math.isfinite(f) and f < best:
                best, self.eta = f, eta
        if self.adaptive and self.eta >= 0.25:
            self.damping = max(self.damping / 10, self.min_damping)
        elif self.adaptive and self.eta < 1 / 64:
            self.damping = min(self.damping * 10, 1.0)
        return x - self.eta * d if self.eta else x

    def state_dict(self) -> dict:
        return {"damping": self.damping}

    def load_state_dict(self, state: dict) -> None:
        self.damping = float(state["damping"])


class _Call(nn.Module):
    """``fn`` as a module whose only submodule is ``module``, for ``torch.func.functional_call``."""

    def __init__(self, module: nn.Module, fn: Callable[..., Tensor]):
        super().__init__()
        self.module, self.fn = module, fn

    def forward(self, *args):
        return self.fn(*args)


def point_jacobian(module: nn.Module, fn: Callable[..., Tensor], *batched) -> tuple[Tensor, Tensor]:
    """Values r (M,) of ``fn(*batched)`` and their Jacobian J (M, P) by ``module``'s trainable
    parameters (in ``module.parameters()`` order), for a ``fn`` (using ``module``) whose output at each
    point depends on that point alone: every tensor in ``batched`` (nested lists, tuples and dicts
    allowed) has the points on its first axis, and ``fn`` maps N points to (N,) or (N, k) values (k per
    point, flattened point by point). One per-point reverse pass vectorised over the points
    (``torch.func.vmap`` of ``jacrev``): about the cost of one batched backward pass, not of M."""
    from torch.func import functional_call, jacrev, vmap
    from torch.utils._pytree import tree_leaves, tree_map

    call = _Call(module, fn)
    params = {f"module.{k}": p.detach() for k, p in module.named_parameters() if p.requires_grad}

    def one(p, *point):
        point = tree_map(lambda t: t.unsqueeze(0) if isinstance(t, Tensor) else t, point)
        out = functional_call(call, p, point).reshape(-1)
        return out, out.detach()

    # Arguments without tensors (None, {}) pass through unbatched.
    dims = tuple(0 if any(isinstance(t, Tensor) for t in tree_leaves(a)) else None for a in batched)
    jac, values = vmap(jacrev(one, has_aux=True), in_dims=(None, *dims))(params, *batched)
    M = values.numel()
    return values.reshape(M), torch.cat([jac[k].reshape(M, -1) for k in params], dim=1)
