"""Choosing a multi-domain PINN's interface conditions with a contextual bandit, after METALIC.

Li, Wang, Kirby & Zhe, "Meta Learning of Interface Conditions for Multi-Domain Physics-Informed
Neural Networks", ICML 2023 (METALIC): the interface conditions that work best depend on the PDE
parameters. A Gaussian-process surrogate maps (PDE parameters, interface-condition choice) to the
expected log10 relative L2 error; while meta-training on a family of PDE parameters, each round
trains a multi-domain PINN with the choice the upper confidence bound favours (the lowest
``mean − kappa · std`` of the predicted log error, i.e. the UCB of the reward −log error) and adds
the observed error to the surrogate. On a new PDE parameter the choice with the lowest predicted
error is taken without training anything. The two-stage variant chooses a pair: the conditions of
the Adam phase and those of the L-BFGS phase.

The Gaussian process is scikit-learn's ``GaussianProcessRegressor`` (anisotropic RBF + white noise,
hyperparameters by marginal likelihood). A choice enters the surrogate as the indicator vector of
its conditions over :data:`~sciml.solvers.multidomain.CONDITIONS` (one vector per stage), so what
is learned about "flux" in one combination informs the others.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from sciml import registry
from sciml.solvers.multidomain import CONDITIONS, MultiDomainPINN, conditions_tuple

ARMS: tuple[tuple[str, ...], ...] = (
    ("solution",), ("average", "residual"), ("solution", "flux"), ("solution", "residual"),
    ("solution", "gradient"), ("average", "residual", "flux"),
)
"""The candidate interface-condition sets: continuity of the solution alone, XPINN's average solution +
residual (Jagtap & Karniadakis 2020), cPINN's solution + flux (Jagtap, Kharazmi & Karniadakis 2020),
and combinations."""

Choice = tuple[tuple[str, ...], ...]
"""One condition set per stage: (adam,) or (adam, lbfgs)."""


@dataclass(frozen=True)
class Family:
    """A parametric problem family: ``problem`` with ``parameter`` taking the ``train`` values during
    meta-training and the held-out ``test`` values after. ``scale`` ("linear" or "log") is how the
    parameter enters the surrogate; ``settings`` are the multi-domain solver's settings of one trial."""

    problem: str
    parameter: str
    train: tuple[float, ...]
    test: tuple[float, ...]
    scale: str = "linear"
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.scale not in ("linear", "log"):
            raise ValueError(f"scale must be 'linear' or 'log', got {self.scale!r}")
        if len(self.train) < 2 or not self.test:
            raise ValueError(f"a family needs at least 2 training values and 1 test value, got {self.train}, {self.test}")

    def context(self, value: float) -> np.ndarray:
        """The parameter mapped to [0, 1] over the training range (log scale if asked), shape (1,)."""
        f = math.log if self.scale == "log" else float
        lo, hi = f(min(self.train)), f(max(self.train))
        return np.array([(f(value) - lo) / (hi - lo)])

    def trial(self, value: float, choice: Choice, seed: int = 0) -> float:
        """Train a multi-domain PINN at ``parameter = value`` with ``choice``; its relative L2 error."""
        problem = registry.problem(self.problem)(**{self.parameter: value})
        lbfgs = choice[1] if len(choice) > 1 else None
        solver = MultiDomainPINN(problem, interface=choice[0], lbfgs_interface=lbfgs, seed=seed,
                                 **{"progress": False, **self.settings})
        return solver.train().errors()["rel_l2"]


FAMILIES: dict[str, Family] = {
    "poisson": Family(
        "poisson", "frequency", train=(0.5, 1.0, 1.5, 2.0), test=(0.75, 1.25, 1.75),
        settings=dict(width=16, depth=2, n_interior=500, n_interface=24, iterations=300, lbfgs_iterations=200,
                      device="cpu")),
    "burgers": Family(
        "burgers", "nu", train=(0.005, 0.01, 0.02, 0.04), test=(0.0075, 0.015, 0.03), scale="log",
        settings=dict(width=16, depth=3, n_interior=2000, n_interface=60, iterations=500, lbfgs_iterations=300,
                      interface_weight=10.0, device="cpu")),
}
"""The families the bandit is validated on: Poisson with varying source frequency (cheap) and
Burgers with varying viscosity (Cole–Hopf reference for every nu)."""


def _sklearn() -> tuple:
    """scikit-learn's Gaussian-process pieces, or an ImportError naming the extra that installs them
    (scikit-learn is needed by interface selection only, so it is an optional dependency)."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    except ImportError as err:
        raise ImportError("interface selection needs scikit-learn for its Gaussian-process surrogate: "
                          "pip install \"sciml[selection]\" (or pip install scikit-learn)") from err
    return ConvergenceWarning, GaussianProcessRegressor, RBF, ConstantKernel, WhiteKernel


class InterfaceBandit:
    """Contextual bandit over interface-condition choices with a GP reward surrogate, choosing by UCB.

    ``arms``: candidate condition sets; ``two_stage``: choose (Adam conditions, L-BFGS conditions)
    pairs; ``kappa``: exploration weight of the UCB; ``seed``: the first (uninformed) choice and the
    GP optimiser's restarts.
    """

    def __init__(self, arms=ARMS, two_stage: bool = False, kappa: float = 1.0, seed: int = 0):
        arms = tuple(conditions_tuple(a, "each arm") for a in arms)
        if len(arms) < 2:
            raise ValueError(f"a bandit needs at least two arms, got {arms!r}")
        if not kappa >= 0:
            raise ValueError(f"kappa must be >= 0, got {kappa!r}")
        self.arms, self.two_stage, self.kappa = arms, two_stage, kappa
        self.choices: list[Choice] = ([(a, b) for a in arms for b in arms] if two_stage else [(a,) for a in arms])
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.X: list[np.ndarray] = []
        self.y: list[float] = []
        self.gp = None

    @staticmethod
    def encode(choice: Choice) -> np.ndarray:
        """Indicator vector (len(CONDITIONS) per stage) of a choice's conditions."""
        return np.concatenate([[float(c in stage) for c in CONDITIONS] for stage in choice])

    def features(self, context: np.ndarray, choice: Choice) -> np.ndarray:
        return np.concatenate([np.atleast_1d(context), self.encode(choice)])

    def observe(self, context: np.ndarray, choice: Choice, error: float) -> None:
        """Add a trained trial's relative L2 error and refit the surrogate."""
        ConvergenceWarning, GaussianProcessRegressor, RBF, ConstantKernel, WhiteKernel = _sklearn()
        if not (error > 0 and math.isfinite(error)):
            raise ValueError(f"an observed error must be positive and finite, got {error!r}")
        self.X.append(self.features(context, choice))
        self.y.append(math.log10(error))
        dim = len(self.X[0])
        kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(dim), (1e-2, 1e2))
                  + WhiteKernel(1e-2, (1e-6, 1.0)))
        self.gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=3, random_state=self.seed)
        with warnings.catch_warnings():  # a length scale at its bound just means "this feature does not matter"
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.gp.fit(np.array(self.X), np.array(self.y))

    def predict(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted log10 error (mean, std) of every choice at ``context``, each (len(choices),)."""
        if self.gp is None:
            raise ValueError("the bandit has observed nothing yet; call observe() first")
        X = np.array([self.features(context, c) for c in self.choices])
        mean, std = self.gp.predict(X, return_std=True)
        return mean, std

    def choose(self, context: np.ndarray, explore: bool = True) -> Choice:
        """The UCB choice (``explore``) or the lowest predicted error; uniformly random before any data."""
        if self.gp is None:
            return self.choices[self.rng.integers(len(self.choices))]
        mean, std = self.predict(context)
        score = mean - self.kappa * std if explore else mean
        return self.choices[int(np.argmin(score))]


def meta_train(family: Family, bandit: InterfaceBandit, rounds: int,
               trial: Callable[[float, Choice], float] | None = None, log: Callable[[dict], None] | None = None) -> list[dict]:
    """``rounds`` bandit rounds over the family's training values (cycled): choose by UCB, train, observe."""
    if rounds <= 0:
        raise ValueError(f"rounds must be positive, got {rounds}")
    trial = trial or family.trial
    records = []
    for r in range(rounds):
        value = family.train[r % len(family.train)]
        choice = bandit.choose(family.context(value))
        error = trial(value, choice)
        bandit.observe(family.context(value), choice, error)
        records.append({"round": r, "value": value, "choice": [list(s) for s in choice], "rel_l2": error})
        if log:
            log(records[-1])
    return records


def evaluate(family: Family, bandit: InterfaceBandit, trial: Callable[[float, Choice], float] | None = None,
             log: Callable[[dict], None] | None = None) -> list[dict]:
    """On every held-out value: the bandit's choice (no training) against every choice trained exhaustively.

    Returns one row per value: ``chosen``, ``errors`` {choice label: rel. L2}, ``best`` (label),
    ``chosen_error``, ``best_error`` and ``ratio`` = chosen_error / best_error.
    """
    trial = trial or family.trial
    rows = []
    for value in family.test:
        chosen = bandit.choose(family.context(value), explore=False)
        errors = {label(c): trial(value, c) for c in bandit.choices}
        best = min(errors, key=errors.get)
        row = {"value": value, "chosen": label(chosen), "errors": errors, "best": best,
               "chosen_error": errors[label(chosen)], "best_error": errors[best],
               "ratio": errors[label(chosen)] / errors[best]}
        rows.append(row)
        if log:
            log(row)
    return rows


def label(choice: Choice) -> str:
    """A choice as text: "solution+flux" or "solution+flux / gradient" (Adam / L-BFGS)."""
    return " / ".join("+".join(stage) for stage in choice)
