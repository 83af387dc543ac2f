"""The registry of validation cases: problem × solver × budget × reference × published figures.

A :class:`Case` says what is run (a registered problem and solver, with parameters and settings),
what it is compared with (the problem's reference), what others have published for the same
benchmark (:class:`Published`, each with a citation), and the acceptance bound (``target``).
``sciml validate`` runs cases by name (:func:`get`); a later module adds its own with
:func:`register`::

    from sciml.validation.cases import Case, Published, register
    register(Case(name="allen-cahn-pinn", problem="allen_cahn", solver="pinn", ...))

Only put numbers in ``published`` that can be cited: the report prints them beside ours. Every
published value is held to a bound of the case, so that a case cannot pass while a quantity the report
shows beside a published value is far from it (:func:`register` refuses one without):
a published relative L2 error (metric :data:`REL_L2`) needs the case's ``target``; a published value
of one of the run's own metrics (a drag coefficient, say) needs an interval in ``bounds`` on that
metric, and the interval must contain the published value.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
"""Case names are used as file names (``results/<name>.json``, ``figures/<name>-*.png``)."""

REL_L2 = "relative L2"
"""The metric name of a published relative L2 error, compared with the run's ``rel_l2``."""


@dataclass(frozen=True)
class Published:
    """A figure somebody else reported for the same benchmark, with where it comes from."""

    value: float
    metric: str
    """:data:`REL_L2` for a relative L2 error against the reference, else the name of the run's
    ``metrics.json`` entry the value is compared with (e.g. ``"drag_coefficient"``)."""
    what: str
    """The method and setting that produced it (network, points, optimiser, budget)."""
    citation: str
    """Authors, title, venue, year, and the table or figure the number is in."""
    short: str = ""
    """A few words for the report's table (e.g. "Raissi et al. 2019, Table 1"); the full citation is listed below it."""

    def __post_init__(self):
        if not (isinstance(self.value, (int, float)) and math.isfinite(self.value)):
            raise ValueError(f"a published value must be a finite number, got {self.value!r}")
        if self.metric == REL_L2 and self.value < 0:
            raise ValueError(f"a published relative L2 error must be >= 0, got {self.value!r}")
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"the published value {self.value!r} needs the metric it is a value of, got {self.metric!r}")
        if not self.citation.strip():
            raise ValueError(f"the published value {self.value!r} needs a citation")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Case:
    """One validation case.

    ``params`` are the problem's parameters and ``settings`` the solver's (both passed to
    :func:`sciml.run`); empty means the defaults that ``sciml run PROBLEM`` uses. ``budget`` says in
    words what that costs; ``reference`` what the measured error is against. ``target`` is the
    acceptance bound on the relative L2 error (``None``: no bound), explained by ``target_text``.
    ``bounds`` are acceptance intervals ``{metric: (low, high)}`` on other entries of the run's
    ``metrics.json`` (a problem's own figures of merit, e.g. a drag coefficient; a dotted name reaches a
    nested entry, ``extra_metrics.rel_error_h_tot``); a case passes when
    the target and every bound hold. Every ``published`` value must be held to one of them
    (:meth:`check_published`, at registration): a published relative L2 to ``target``, any other to the
    bound on its metric, which must contain it. ``compare`` puts the case in a row of the side-by-side table.
    """

    name: str
    problem: str
    solver: str
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    budget: str = ""
    reference: str = ""
    published: tuple[Published, ...] = ()
    target: float | None = None
    target_text: str = ""
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    inverse: dict[str, Any] = field(default_factory=dict)
    """For an inverse problem, :func:`sciml.run`'s observation and identification arguments
    (``samples``, ``noise``, ``identify``, ``initial_guess``, ``conditions``, ...; see
    :mod:`sciml.inverse`); empty for a forward problem."""
    compare: str = ""
    """A row label (e.g. "convection, β = 50"): cases sharing it are shown side by side, one column
    per solver, in the report's comparison table."""
    study: str = ""
    """The :class:`Study` this case is one run of (its arm and seed in ``arm`` and ``settings["seed"]``)."""
    arm: str = ""
    init_from: str = ""
    """A case whose trained network starts this one (transfer learning): its run folder is passed as the
    solver's ``init`` setting, and the runner runs that case first when the folder holds no result."""
    param_from: dict[str, str] = field(default_factory=dict)
    """Problem parameters given the run folder of another case (parameter -> case), such as a trained operator
    the problem uses; the runner runs that case first when the folder holds no result."""
    against: str = ""
    """A case this one is measured against (the same problem trained from scratch): the runner stores, under
    ``against`` in the result, that case's wall time and parameter errors (``extra_metrics.rel_error_NAME``),
    ``speedup`` (its wall time over this run's) and ``error_ratio`` (the largest of this run's parameter errors
    over its), for ``bounds`` to hold; that case's result must be stored first."""

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise ValueError(f"case name must be lower-case letters, digits, '-', '_' or '.' (it names files), "
                             f"got {self.name!r}")
        for key in ("problem", "solver"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise ValueError(f"case {self.name!r}: {key} must be a registered {key} name, got {value!r}")
        if self.init_from and "init" in self.settings:
            raise ValueError(f"case {self.name!r}: give init_from (a case) or the init setting, not both")
        given = set(self.param_from) & set(self.params)
        if given:
            raise ValueError(f"case {self.name!r}: {sorted(given)} given both as a parameter and in param_from")
        clash = set(self.params) & set(self.settings)
        if clash:
            raise ValueError(f"case {self.name!r}: {sorted(clash)} given both as problem parameter and solver setting")
        if self.target is not None and not (isinstance(self.target, (int, float)) and math.isfinite(self.target)
                                            and self.target > 0):
            raise ValueError(f"case {self.name!r}: target must be a positive number or None, got {self.target!r}")
        published = tuple(p if isinstance(p, Published) else Published(**p) for p in self.published)
        object.__setattr__(self, "published", published)
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "settings", dict(self.settings))
        object.__setattr__(self, "inverse", dict(self.inverse))
        object.__setattr__(self, "param_from", dict(self.param_from))
        bounds = {k: tuple(float(b) for b in v) for k, v in self.bounds.items()}
        bad = {k: v for k, v in bounds.items() if len(v) != 2 or not v[0] <= v[1]}
        if bad:
            raise ValueError(f"case {self.name!r}: bounds must be (low, high) with low <= high, got {bad}")
        object.__setattr__(self, "bounds", bounds)

    def check_published(self) -> None:
        """Raise a ``ValueError`` unless every published value is held to the target (a relative L2)
        or to a bound on its metric that contains it. :func:`register` calls it; a stored result's case
        (:meth:`from_dict`) is read back without it, so an old result still reads under a newer rule."""
        bounds = self.bounds
        for p in self.published:
            if p.metric == REL_L2:
                if self.target is None:
                    raise ValueError(f"case {self.name!r}: the published relative L2 {p.value:g} ({p.short or p.what}) "
                                     "is shown beside ours, so the case needs a target on the relative L2")
            elif p.metric not in bounds:
                raise ValueError(f"case {self.name!r}: the published {p.metric} = {p.value:g} ({p.short or p.what}) is "
                                 f"shown beside ours, so the case needs a bound on {p.metric!r}; bounds are given "
                                 f"for {sorted(bounds) or 'no metric'}")
            elif not bounds[p.metric][0] <= p.value <= bounds[p.metric][1]:
                raise ValueError(f"case {self.name!r}: the bound {list(bounds[p.metric])} on {p.metric!r} does not "
                                 f"contain its published value {p.value:g}")

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`sciml.run`: parameters, settings and inverse-problem arguments."""
        return {**self.params, **self.settings, **self.inverse}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["published"] = [p.to_dict() for p in self.published]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Case":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["published"] = tuple(Published(**p) for p in known.get("published", ()))
        return cls(**known)


CASES: dict[str, Case] = {}
"""All registered cases by name, in registration order."""


def register(case: Case, replace: bool = False) -> Case:
    """Add ``case`` to the registry; a second case of the same name is an error unless ``replace``."""
    if not isinstance(case, Case):
        raise TypeError(f"register() needs a Case, got {type(case).__name__}")
    case.check_published()
    if case.name in CASES and not replace:
        raise ValueError(f"a validation case named {case.name!r} is already registered; "
                         "pass replace=True to replace it")
    CASES[case.name] = case
    return case


def unregister(name: str) -> Case:
    """Remove a case from the registry (and return it)."""
    get(name)
    return CASES.pop(name)


def names() -> list[str]:
    """Names of the registered cases, in registration order."""
    return list(CASES)


def expand(names: list[str]) -> list[str]:
    """Case names with each study name replaced by its cases."""
    return [c for n in names for c in (STUDIES[n].cases() if n in STUDIES else [n])]


def get(name: str) -> Case:
    """The case registered as ``name``; a ``ValueError`` listing the known names otherwise."""
    try:
        return CASES[name]
    except (KeyError, TypeError):
        known = ", ".join(CASES) or "none"
        raise ValueError(f"unknown validation case {name!r}; known cases: {known}") from None


PARAMETERS = "parameters"
"""The :class:`Study` metric that compares the identified parameters of an inverse problem."""

TOLERANCE_USED = "tolerance-used"
"""The :class:`Study` metric that judges the identified parameters of an inverse problem against their
tolerances (``Study.tolerances``): the largest over the parameters of the relative error over its tolerance,
1 at the bound."""


def parameter_errors(record: dict[str, Any]) -> dict[str, float]:
    """The relative errors of the identified parameters a run reports (``extra_metrics.rel_error_NAME``)."""
    extra = record.get("extra_metrics") or {}
    return {k[len("rel_error_"):]: v for k, v in extra.items() if k.startswith("rel_error_")}


def parameter_error_ratios(mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float]:
    """Each identified parameter's relative error in the result ``mine`` over its error in ``theirs`` (the
    parameters ``theirs`` reports a non-zero error for)."""
    ours, base = parameter_errors(mine), parameter_errors(theirs)
    return {name: ours[name] / base[name] for name in ours if base.get(name)}


@dataclass(frozen=True)
class Study:
    """A comparison of methods ("arms") over several seeds at the same budget: one seed decides
    nothing, so the report judges the median over ``seeds`` of the per-seed ratio of the
    ``candidate`` arm's error to the ``baseline`` arm's against ``target_ratio`` (None: reported
    only), and shows every seed and the spread. Each arm and seed is a registered case named
    ``{name}-{arm}-seed{seed}`` (:func:`register_study` makes them); ``sciml validate NAME`` runs them all.

    The error is the result's ``metric`` (relative L2 by default); with ``metric_reference`` it is the
    metric's relative deviation |metric / metric_reference - 1| from that published value, for problems
    judged by figures of merit rather than a reference field (the cylinder's lift coefficient). The metric
    :data:`PARAMETERS` compares the identified parameters of an inverse problem: a seed's ratio is the
    largest over the parameters of the candidate's relative error over the other arm's, as a transfer is
    judged against its scratch run (``against.error_ratio``). The metric :data:`TOLERANCE_USED` weighs them
    by what a case allows instead: a result's error is the largest over the parameters in ``tolerances`` of
    its relative error over its tolerance, so the ratio tells how the margin of the parameter nearest to
    its bound changed.

    ``over`` names what the seeds set: the solver's ``seed`` setting (the training seed), or a problem
    parameter (e.g. the diesel engine's ``command_seed``: each seed another operating window, the training
    seed left at its default)."""

    name: str
    seeds: tuple[int, ...]
    arms: tuple[str, ...]
    baseline: str
    candidate: str
    target_ratio: float | None = None
    target_text: str = ""
    metric: str = "rel_l2"
    metric_reference: float | None = None
    over: str = "seed"
    tolerances: dict[str, float] = field(default_factory=dict)
    """Per identified parameter, the relative error a case allows it (metric :data:`TOLERANCE_USED` only)."""

    def __post_init__(self):
        if not NAME.match(self.name):
            raise ValueError(f"study name must be lower-case letters, digits, '-', '_' or '.', got {self.name!r}")
        if len(self.seeds) < 3 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"study {self.name!r}: give at least three distinct seeds, got {self.seeds!r}")
        for role in ("baseline", "candidate"):
            if getattr(self, role) not in self.arms:
                raise ValueError(f"study {self.name!r}: the {role} {getattr(self, role)!r} is not one of its arms "
                                 f"{list(self.arms)}")
        if self.metric_reference is not None and not (math.isfinite(self.metric_reference) and self.metric_reference):
            raise ValueError(f"study {self.name!r}: metric_reference must be a finite non-zero value, got "
                             f"{self.metric_reference!r}")
        if (self.metric == TOLERANCE_USED) != bool(self.tolerances):
            raise ValueError(f"study {self.name!r}: give tolerances exactly when the metric is {TOLERANCE_USED!r} "
                             f"(metric {self.metric!r}, tolerances {self.tolerances!r})")
        bad = {n: t for n, t in self.tolerances.items() if not (math.isfinite(t) and t > 0)}
        if bad:
            raise ValueError(f"study {self.name!r}: tolerances must be finite and positive, got {bad}")

    def error(self, record: dict[str, Any]) -> float:
        """The error of one stored result (``metric``, or its relative deviation from ``metric_reference``;
        for :data:`PARAMETERS` the largest relative error of the identified parameters, for
        :data:`TOLERANCE_USED` the largest relative error over its tolerance)."""
        if self.metric == PARAMETERS:
            return max(parameter_errors(record).values())
        if self.metric == TOLERANCE_USED:
            errors = parameter_errors(record)
            return max(errors[name] / tolerance for name, tolerance in self.tolerances.items())
        value = record[self.metric]
        return value if self.metric_reference is None else abs(value / self.metric_reference - 1.0)

    def ratio(self, mine: dict[str, Any], theirs: dict[str, Any]) -> float:
        """One seed's ratio of the result ``mine`` to ``theirs``: their errors' ratio, or for
        :data:`PARAMETERS` the largest of the parameters' error ratios."""
        if self.metric == PARAMETERS:
            return max(parameter_error_ratios(mine, theirs).values())
        return self.error(mine) / self.error(theirs)

    def seed_of(self, case: Case) -> Any:
        """The seed of one of the study's cases (the value of ``over`` it sets)."""
        return case.settings.get("seed") if self.over == "seed" else case.params.get(self.over)

    @property
    def error_label(self) -> str:
        if self.metric == PARAMETERS:
            return "largest parameter error"
        if self.metric == TOLERANCE_USED:
            return "largest parameter error / tolerance"
        if self.metric_reference is None:
            return "rel. L2" if self.metric == "rel_l2" else self.metric
        return f"relative deviation of {self.metric} from {self.metric_reference:g}"

    def case_name(self, arm: str, seed: int) -> str:
        return f"{self.name}-{arm}-seed{seed}"

    def cases(self) -> list[str]:
        """The names of the study's cases, arm by arm."""
        return [self.case_name(a, s) for a in self.arms for s in self.seeds]


STUDIES: dict[str, Study] = {}
"""All registered studies by name."""


def register_study(study: Study, arms: dict[str, dict[str, Any]], **common: Any) -> Study:
    """Register ``study`` and one case per arm and seed: the :class:`Case` fields ``common`` shared by
    all, each arm's ``arms[arm]`` (its solver, settings, budget) over them, and the seed as
    ``settings["seed"]`` or, when the study is ``over`` a problem parameter, as that parameter."""
    if set(arms) != set(study.arms):
        raise ValueError(f"study {study.name!r}: arms given for {sorted(arms)}, the study has {list(study.arms)}")
    if study.name in STUDIES or study.name in CASES:
        raise ValueError(f"a study or case named {study.name!r} is already registered")
    for arm in study.arms:
        fields = {**common, **arms[arm]}
        settings = {**common.get("settings", {}), **arms[arm].get("settings", {})}
        for seed in study.seeds:
            varied = ({"settings": {**settings, "seed": seed}} if study.over == "seed" else
                      {"settings": settings, "params": {**fields.get("params", {}), study.over: seed}})
            register(Case(**{**fields, **varied, "name": study.case_name(arm, seed), "study": study.name, "arm": arm}))
    STUDIES[study.name] = study
    return study



def _default_study(problem: str, title: str, *, new: str, new_budget: str, old_arm: str, old: str,
                   old_settings: dict[str, Any], old_budget: str, target: float | None, target_text: str,
                   reference: str, bounds: dict | None = None, published: tuple = ()) -> Study:
    """Issue 17's check of a problem's SSBroyden PINN default: ``sciml run PROBLEM`` at three seeds (the
    ssbroyden arm; ``new`` says what it trains, ``new_budget`` is its budget text, each seed judged on
    ``target`` and ``bounds``) against the default it replaced (the ``old_arm`` arm: ``old_settings``,
    described by ``old`` and ``old_budget``), each at its own budget; the median ratio ssbroyden/old ≤ 0.2."""
    return register_study(
        Study(name=f"{problem}-default", seeds=(0, 1, 2), arms=("ssbroyden", old_arm), baseline=old_arm,
              candidate="ssbroyden", target_ratio=0.2,
              target_text=(f"issue 17's 'each problem's defaults chosen by measurement' for {title}: the default "
                           f"`sciml run {problem}` at each seed (the ssbroyden arm: {new}) against the default it "
                           f"replaced (the {old_arm} arm: {old}), each at its own budget; median of 3 seeds, the "
                           f"median ratio ssbroyden/{old_arm} ≤ 0.2 (at least 5x lower)")),
        {"ssbroyden": {"budget": new_budget, "target": target, "bounds": bounds or {}, "published": published,
                       "target_text": target_text},
         old_arm: {"settings": old_settings, "budget": old_budget,
                   "target_text": "the baseline arm: reported, no target of its own"}},
        problem=problem, solver="pinn", reference=reference)

# -- the cases -------------------------------------------------------------------------------------

RAISSI_2019 = (
    "M. Raissi, P. Perdikaris, G. E. Karniadakis, \"Physics-informed neural networks: A deep learning "
    "framework for solving forward and inverse problems involving nonlinear partial differential equations\", "
    "J. Comput. Phys. 378, 686-707 (2019): continuous-time Burgers example, Table 1 "
    "(row N_u = 100, column N_f = 10,000) and Fig. 1. The same number, table and figure are in the preprint "
    "arXiv:1711.10561 (Physics Informed Deep Learning, Part I), Sec. 2.1, Table 1 and Fig. 1.")

BURGERS_BUDGET = ("defaults of `sciml run burgers`: 20 x 4 tanh (1,341 parameters), float64, 8,000 points redrawn "
                  "every 500 steps, 1,000 Adam + 4,000 SSBroyden")
BURGERS_LBFGS = {"width": 32, "dtype": "float32", "resample_every": 0, "iterations": 3000, "optimizer": "adam-lbfgs",
                 "lbfgs_iterations": 4000}
"""The Burgers PINN default before SSBroyden: 32 x 4 float32, 8,000 fixed points, 3,000 Adam + 4,000 L-BFGS."""
BURGERS_LBFGS_BUDGET = ("32 x 4 tanh (3,297 parameters), float32, 8,000 fixed points, 3,000 Adam + 4,000 L-BFGS (the "
                        "Burgers default before SSBroyden)")

register(Case(
    name="burgers-pinn", compare="Burgers",
    problem="burgers",
    solver="pinn",
    params={},
    settings={},
    budget=BURGERS_BUDGET,
    reference=("exact solution of viscous Burgers (nu = 0.01/pi, u(x,0) = -sin(pi x), u(±1,t) = 0) by the "
               "Cole-Hopf transformation, bundled as data/burgers_cole_hopf.npz (Gauss-Hermite quadrature; "
               "provenance, regeneration command and checksum in data/burgers_cole_hopf.md); the error is "
               "taken over every point of its (t, x) grid"),
    published=(
        Published(
            value=6.7e-4, metric="relative L2",
            what=("PINN, 9-layer tanh network with 20 neurons per hidden layer (3,021 parameters), "
                  "N_u = 100 initial/boundary data points, N_f = 10,000 Latin-hypercube collocation points, "
                  "L-BFGS"),
            citation=RAISSI_2019, short="Raissi et al. 2019, J. Comput. Phys., Table 1"),
        Published(
            value=1.2e-2, metric="relative L2",
            what=("DeepXDE PINN example: 3 × 20 tanh network, penalised initial/boundary conditions "
                  "(2,540 interior + 80 boundary + 160 initial points), 15,000 Adam steps (lr 1e-3) then "
                  "L-BFGS; about 2 minutes on the project's 2-core machine"),
            citation=("DeepXDE Burgers example (examples/pinn_forward/Burgers.py), as measured by the sciml "
                      "project issue - a measurement of the example script, not a figure published by the "
                      "DeepXDE authors"),
            short="DeepXDE example, measured by the sciml issue"),
    ),
    target=1e-4,
    target_text=("acceptance bound of the project for Burgers at the `sciml run burgers` defaults since they became "
                 "issue 17's SSBroyden (5e-3 for the 32 x 4 Adam + L-BFGS default before)"),
))


# -- issue 6: multi-domain PINNs (XPINN / cPINN) ---------------------------------------------------
# The Burgers pair runs the multi-domain solver and the single-domain PINN side by side with the same
# total parameter count (3,498 against 3,499), collocation points and iterations;
# `python -m sciml.validation.multidomain compare` tabulates them in validation/MULTIDOMAIN.md.

BURGERS_EXACT = "exact Cole-Hopf solution (bundled data/burgers_cole_hopf.npz), every point of its (t, x) grid"
MULTIDOMAIN_BURGERS_BUDGET = dict(n_interior=8000, iterations=3000, lbfgs_iterations=3000)

register(Case(
    name="poisson-multidomain",
    problem="poisson",
    solver="multidomain",
    params={"frequency": 2.0},
    settings={"interface": ("solution", "flux")},
    budget="4 subdomains (2 x 2), 4 x (32 x 3) tanh networks, 2,000 points, 2,000 Adam + 1,000 L-BFGS",
    reference="analytic solution u = sin(2 pi x) sin(2 pi y) on a 101 x 101 grid",
    target=1e-2,
    target_text="acceptance bound of the project for the 4-subdomain Poisson problem",
))

register(Case(
    name="burgers-multidomain",
    problem="burgers",
    solver="multidomain",
    settings={"widths": [10, 12, 16, 27], "depths": [2, 3, 3, 4], "splits": {"x": [-0.5], "t": [0.25]},
              "interface": ("solution", "flux"), "n_interface": 200, "eval_every": 250, **MULTIDOMAIN_BURGERS_BUDGET},
    budget="4 space-time subdomains (cut at x = -0.5 and t = 0.25), tanh networks 10x2, 12x3, 16x3 and 27x4 "
           "(3,498 parameters; the largest where the front forms), 8,000 points, 3,000 Adam + 3,000 L-BFGS",
    reference=BURGERS_EXACT,
    target=5e-3,
    target_text="the Burgers bound of the project; the issue's target is to be no worse than burgers-pinn-matched",
))

register(Case(
    name="burgers-pinn-matched",
    problem="burgers",
    solver="pinn",
    settings={**BURGERS_LBFGS, "width": 33, "depth": 4, "eval_every": 250, **MULTIDOMAIN_BURGERS_BUDGET},
    budget="single 33 x 4 tanh network (3,499 parameters), float32, 8,000 fixed points, 3,000 Adam + 3,000 L-BFGS",
    reference=BURGERS_EXACT,
    target=5e-3,
    target_text="the Burgers bound of the project (the single-domain side of the multi-domain comparison)",
))

# -- issue 5: Neural ODEs and hypersolvers ----------------------------------------------------------

POLI_2020 = ("M. Poli, S. Massaroli, A. Yamashita, H. Asama, J. Park, \"Hypersolvers: Toward Fast Continuous-Depth "
             "Models\", Advances in Neural Information Processing Systems 33 (NeurIPS 2020)")
BERTO_2022 = ("F. Berto, S. Massaroli, M. Poli, J. Park, \"Neural Solvers for Fast and Accurate Numerical Optimal "
              "Control\", International Conference on Learning Representations (ICLR 2022)")
PAL_2021 = ("A. Pal, Y. Ma, V. Shah, C. Rackauckas, \"Opening the Blackbox: Accelerating Neural Differential "
            "Equations by Regularizing Internal Solver Heuristics\", Proceedings of the 38th International Conference "
            "on Machine Learning, PMLR 139:8325-8335 (2021)")
ODE_REFERENCE = ("64 held-out trajectories (initial conditions from a seed no training run uses) integrated by "
                 "torchdiffeq's dopri5 at rtol 1e-10, atol 1e-12 in float64; the error is the relative L2 over every "
                 "state at every output time")

for _problem, _horizon, _dt in (("lorenz", "1 time unit", 0.01), ("pendulum", "5 s", 0.05)):
    for _base in ("euler",):
        register(Case(
            name=f"{_problem}-hyper{_base}",
            problem=_problem,
            solver="hypersolver",
            settings={"base": _base},
            budget=("3,000 full-batch Adam steps on 8,192 sampled (state, step size) residuals; g as the problem "
                    "suggests (a small float32 network: lorenz 32x2 ReLU, pendulum 16x1 SiLU)"),
            reference=f"{ODE_REFERENCE}, over {_horizon}; Hyper{_base.capitalize()} at step size {_dt:g}. "
                      f"Other figures: the plain {_base} method's error at the same step size and the ratio",
            target=None,
            target_text=(f"issue 5 asks for HyperEuler at least 10x below Euler at the same step size: compare "
                         f"`{_base}_rel_l2` / rel. L2 = `error_reduction` (method: {POLI_2020})"),
        ))

register(Case(
    name="lorenz-neural-ode",
    problem="lorenz",
    solver="neural-ode",
    budget="600 Adam steps, 32 windows of ~0.2 time units of irregular observations per step, dopri5 rtol 1e-5",
    reference=(f"{ODE_REFERENCE}, over 1 time unit (the rollout error); other figures: one-step-ahead error "
               "(dt = 0.01) and the function evaluations of dopri5 for the rollout"),
    target_text="reported, no bound: compare NFE and errors with lorenz-neural-ode-regularised",
))

for _suffix, _weight, _text in (
        ("regularised", 0.01, "issue 5 asks for fewer function evaluations than lorenz-neural-ode at equal accuracy"),
        ("regularised-weak", 0.003, "a weaker regulariser than lorenz-neural-ode-regularised: the NFE / accuracy trade-off")):
    register(Case(
        name=f"lorenz-neural-ode-{_suffix}",
        problem="lorenz",
        solver="neural-ode",
        settings={"regularise": _weight},
        budget=f"as lorenz-neural-ode, plus {_weight:g} x Pal et al.'s accumulated local error estimate R_E in the loss",
        reference=f"{ODE_REFERENCE}, over 1 time unit; other figures as in lorenz-neural-ode (method: {PAL_2021})",
        target_text=_text,
    ))

for _suffix, _settings, _text in (
        ("seed1", {"seed": 1}, "run-to-run noise: lorenz-neural-ode with another seed (training data and initial network)"),
        ("regularised-seed1", {"seed": 1, "regularise": 0.01},
         "lorenz-neural-ode-regularised with another seed: with/without the regulariser over two seeds"),
        ("regularised-0.001", {"regularise": 0.001}, "a regulariser 10x weaker than lorenz-neural-ode-regularised"),
        ("long", {"iterations": 1500}, "lorenz-neural-ode trained 2.5x longer"),
        ("regularised-long", {"iterations": 1500, "regularise": 0.01}, "lorenz-neural-ode-regularised trained 2.5x longer")):
    register(Case(
        name=f"lorenz-neural-ode-{_suffix}",
        problem="lorenz",
        solver="neural-ode",
        settings=_settings,
        budget="as lorenz-neural-ode" + (f", plus {_settings['regularise']:g} x R_E in the loss" if "regularise" in _settings
                                         else "") + (f", seed {_settings['seed']}" if "seed" in _settings else "")
               + (f", {_settings['iterations']:,} Adam steps" if "iterations" in _settings else ""),
        reference=f"{ODE_REFERENCE}, over 1 time unit; other figures as in lorenz-neural-ode (method: {PAL_2021})",
        target_text=f"issue 5: fewer function evaluations at equal accuracy; {_text}",
    ))

register(Case(
    name="pendulum-neural-ode-hybrid",
    problem="pendulum",
    solver="neural-ode",
    settings={"hybrid": True, "iterations": 300, "window": 0.5},
    inverse={"identify": ["damping", "length"], "initial_guess": {"damping": 0.1, "length": 1.5}},
    budget="300 Adam steps on windows of ~0.5 s; known pendulum physics with damping and length trainable (started at 0.1 N m s/rad "
           "and 1.5 m; truth 0.3 and 1.0) plus a neural correction",
    reference=f"{ODE_REFERENCE}, over 5 s; other figures include the identified damping and length",
    target_text="reported, no bound",
))

for _method in ("dopri5", "euler", "hypereuler"):
    register(Case(
        name=f"pendulum-control-{_method}",
        problem="pendulum-control",
        solver="controller",
        settings={"method": _method},
        budget=f"400 Adam steps (lr 1e-2, cosine) on batches of 64 initial states, differentiating through {_method}",
        reference=("the upright position: height -cos(theta) = 1 over the last second of the 4 s horizon from 64 "
                   "held-out initial states, the closed loop integrated by dopri5 at rtol 1e-8; other figures: the "
                   "time-averaged control cost evaluated with dopri5 and the fraction of states brought upright"),
        target_text=(f"issue 5 asks for HyperEuler-trained control cost within 20% of the dopri5-trained one "
                     f"(method: {BERTO_2022})"),
    ))

register(Case(
    name="pendulum-control-hypereuler-dt0.1",
    problem="pendulum-control",
    solver="controller",
    settings={"method": "hypereuler", "step_size": 0.1},
    budget="as pendulum-control-hypereuler, with twice the step size (0.1 s, the top of the hypersolver's training range)",
    reference=("as pendulum-control-hypereuler: the upright position over the last second, closed loop by dopri5; "
               "other figures: the control cost evaluated with dopri5"),
    target_text=f"issue 5 asks for HyperEuler training at least 5x faster than dopri5 at a cost within 20% (method: {BERTO_2022})",
))

# -- issue 4: Navier-Stokes, data-free PINNs with hard boundary conditions ---------------------------
from sciml.problems.navier_stokes import SCHAEFER_TUREK_2D1  # noqa: E402
from sciml.classical.diesel import DEFAULTS as DIESEL_DEFAULTS  # noqa: E402

GHIA_1982 = ("U. Ghia, K. N. Ghia, C. T. Shin, \"High-Re solutions for incompressible flow using the Navier-Stokes "
             "equations and a multigrid method\", J. Comput. Phys. 48, 387-411 (1982), Tables I and II")
CAVITY_REFERENCE = ("our finite-difference solution (sciml.classical.cavity: stream function-vorticity, second-order "
                    "central differences, Newton; 161 x 161 nodes), bundled as data/lid_driven_cavity_re{re}.vtu "
                    "(provenance, regeneration command, checksum and its deviation from Ghia et al. 1982 in the .md "
                    "beside it); velocity (u, v) over all grid nodes. The centreline figure adds Ghia et al.'s "
                    "table points")

GHIA_PUBLISHED = (Published(
    value=0.0, metric="ghia_max_deviation",
    what=("the centreline velocities u(0.5, y) and v(x, 0.5) of Ghia et al.'s multigrid solution (129 x 129 grid); "
          "the metric is the largest deviation of ours from their table points in lid-speed units, 0 where we agree"),
    citation=GHIA_1982, short="Ghia, Ghia & Shin 1982, Tables I-II"),)
GHIA_BOUND = {"ghia_max_deviation": (0.0, 0.03)}
"""Issue 4's bound: the centreline velocities within 0.03 (lid-speed units) of Ghia et al. at every table point;
applied to every cavity case, since each shows that deviation beside the published tables."""

KOVASZNAY_BUDGET = ("defaults of `sciml run kovasznay`: 30 x 3 tanh (2,043 parameters), float64, 2,000 collocation "
                    "points redrawn every 500 steps, 1,000 Adam + 8,000 SSBroyden")
KOVASZNAY_REFERENCE = ("Kovasznay (1948) exact solution at Re = 20 on a 151 x 201 grid of [-0.5, 1] x [-0.5, 1.5]; "
                       "velocity (u, v)")

register(Case(
    name="kovasznay-pinn", problem="kovasznay", solver="pinn",
    budget=KOVASZNAY_BUDGET,
    reference=KOVASZNAY_REFERENCE,
    target=1e-3, target_text="issue 4: relative L2 of (u, v) <= 1e-3, data-free, velocity boundary conditions exact"))

register(Case(
    name="lid-driven-cavity-re100-pinn", problem="lid-driven-cavity", solver="pinn",
    budget="defaults of `sciml run lid-driven-cavity`",
    reference=CAVITY_REFERENCE.format(re=100),
    target=3e-2, target_text=("issue 4: relative L2 of velocity vs our CFD <= 3e-2, and the centreline velocities "
                              "within 0.03 (lid-speed units) of Ghia et al. (1982) at every table point"),
    published=GHIA_PUBLISHED, bounds=GHIA_BOUND))

register(Case(
    name="lid-driven-cavity-re400-pinn", problem="lid-driven-cavity", solver="pinn", params={"re": 400.0},
    settings={"iterations": 8000, "lbfgs_iterations": 6000},
    budget=("longer than the `sciml run` defaults: 8,000 Adam (resampling every 100) + 6,000 L-BFGS, same network "
            "and points (the defaults' 4,000 + 2,000 leave Re 400 unconverged)"),
    reference=CAVITY_REFERENCE.format(re=400),
    target=1e-1, target_text=("issue 4: relative L2 of velocity vs our CFD <= 1e-1 (report whatever the budget reaches), "
                              "and the Re 100 case's bound of 0.03 on the deviation from Ghia et al. (1982)"),
    published=GHIA_PUBLISHED, bounds=GHIA_BOUND))

TAYLOR_GREEN_BUDGET = ("defaults of `sciml run taylor-green`: 30 x 3 tanh, float64, 4,000 collocation points redrawn "
                       "every 500 steps, 1,000 Adam + 4,000 SSBroyden")
TAYLOR_GREEN_REFERENCE = ("Taylor & Green (1937) exact decaying vortex, nu = 0.1 m^2/s, U = 1 m/s, L = 1 m, on 11 times "
                          "in [0, 1] s x 65 x 65 points of [0, 2 pi]^2; velocity (u, v) over the whole time window")
TAYLOR_GREEN_TARGET = "issue 4: relative L2 over the time window <= 1e-2, initial condition exact"
register(Case(
    name="taylor-green-pinn", problem="taylor-green", solver="pinn", budget=TAYLOR_GREEN_BUDGET,
    reference=TAYLOR_GREEN_REFERENCE, target=1e-2, target_text=TAYLOR_GREEN_TARGET))

SCHAEFER_TUREK_1996 = ("M. Schäfer, S. Turek, \"Benchmark computations of laminar flow around a cylinder\", Notes on "
                       "Numerical Fluid Mechanics 52, 547-566 (1996): benchmark 2D-1 (steady, Re = 20), the FEATFLOW "
                       "fine-grid values quoted for it (the paper's bounds: C_D in [5.57, 5.59], C_L in "
                       "[0.0104, 0.0110], Δp in [0.1172, 0.1176])")
CYLINDER_TOLERANCE = {"drag_coefficient": 0.03, "lift_coefficient": 0.20, "pressure_difference": 0.05}
"""Relative acceptance bounds of the cylinder's figures about the published values: issue 4's for C_D and
Δp, issue 20's for C_L (the lift is 1/500 of the drag, and the case must not pass while it is far off)."""

CYLINDER_REFERENCE = (
    "Schäfer & Turek (1996) DFG benchmark 2D-1 (Re = 20), values in the published column. Computed from the trained "
    "network: the force by the volume (weak) form of the momentum balance with a smooth weight that is 1 on the "
    "cylinder and 0 from 3 radii on (Cylinder.volume_forces), and the pressure at (0.15, 0.2) and (0.25, 0.2)")
CYLINDER_PUBLISHED = tuple(
    Published(value=SCHAEFER_TUREK_2D1[metric], metric=metric,
              what="FEATFLOW, finite elements on the finest grid of the benchmark", citation=SCHAEFER_TUREK_1996,
              short="Schäfer & Turek 1996, 2D-1")
    for metric in CYLINDER_TOLERANCE)
CYLINDER_TARGET = ("issue 4: C_D within 3% of 5.5795 and Δp within 5% of 0.1175; issue 20: C_L within 20% of 0.010619 "
                   "(no reference field: no rel. L2)")
CYLINDER_BOUNDS = {metric: ((1 - tol) * SCHAEFER_TUREK_2D1[metric], (1 + tol) * SCHAEFER_TUREK_2D1[metric])
                   for metric, tol in CYLINDER_TOLERANCE.items()}
register(Case(
    name="cylinder-pinn", problem="cylinder", solver="pinn", budget="defaults of `sciml run cylinder`",
    reference=CYLINDER_REFERENCE, published=CYLINDER_PUBLISHED, target_text=CYLINDER_TARGET, bounds=CYLINDER_BOUNDS))

register(Case(
    name="lid-driven-cavity-re100-pinn-blend", problem="lid-driven-cavity", solver="pinn",
    params={"corner_flow": "blend"},
    budget="defaults of `sciml run lid-driven-cavity --corner-flow blend`",
    reference=CAVITY_REFERENCE.format(re=100),
    target_text=("no rel. L2 target: the Re 100 case without the Stokes corner flow in the hard constraint (lid and "
                 "wall data blended instead), to show what the corner flow is worth; the deviation from Ghia et al. "
                 "is held to the Re 100 case's bound"),
    published=GHIA_PUBLISHED, bounds=GHIA_BOUND))

SOFT_TEXT = ("no rel. L2 target: the same budget with the boundary conditions as penalty terms in the loss "
             "(enforce='soft') instead of built into the network, to show what the hard conditions are worth")

for _base, _problem, _ref, _published in (
        ("kovasznay-pinn", "kovasznay", KOVASZNAY_REFERENCE, ()),
        ("lid-driven-cavity-re100-pinn", "lid-driven-cavity", CAVITY_REFERENCE.format(re=100), GHIA_PUBLISHED)):
    register(Case(
        name=f"{_base}-soft", problem=_problem, solver="pinn", params={"enforce": "soft"},
        budget=f"defaults of `sciml run {_problem} --enforce soft`",
        reference=_ref, target_text=SOFT_TEXT + ("; the deviation from Ghia et al. is held to the Re 100 case's bound"
                                                 if _published else ""),
        published=_published, bounds=GHIA_BOUND if _published else {}))

# -- issue 7: causal and Lagrangian PINN trainers on the problems where plain PINNs fail ----------------

WANG_CAUSAL = (
    "S. Wang, S. Sankaran, P. Perdikaris, \"Respecting causality is all you need for training "
    "physics-informed neural networks\", arXiv:2203.07404 (2022); Comput. Methods Appl. Mech. Engrg. 421, "
    "116813 (2024): Allen-Cahn example, relative L2 error of the causal training (figure as quoted in the "
    "sciml issue 7).")
JAXPI = (
    "S. Wang, S. Sankaran, H. Wang, P. Perdikaris, \"An expert's guide to training physics-informed neural "
    "networks\", arXiv:2308.08468 (2023), and its jaxpi code: Allen-Cahn benchmark, relative L2 error "
    "(figure as quoted in the sciml issue 7).")

CONVECTION_NET = {"width": 64, "depth": 4, "n_interior": 2048, "iterations": 3000, "lr": 2e-3, "decay_steps": 1000,
                  "eval_every": 500}
CONVECTION_ADAM = {"optimizer": "adam-lbfgs", "dtype": "float32", "resample_every": 0, "lbfgs_iterations": 0}
"""What the convection PINN default was before SSBroyden besides CONVECTION_NET: float32, fixed points, Adam alone."""
CONVECTION_SOLVER = {"pinn": CONVECTION_ADAM,
                     "causal": {"chunks": 16, "windows": 5, "iterations": 600, "compile": False}, "lagrangian": {}}
CONVECTION_BUDGET = ("3,000 Adam steps (causal: 5 time-marching windows × 600), 64 × 4 tanh MLP (one per branch "
                     "for lagrangian), float32, periodic embedding in x, 2,048 fixed collocation points")
CONVECTION_REFERENCE = "exact solution sin(x - beta t) on a 256 × 101 (x, t) grid"
CONVECTION_DIFFUSION_REFERENCE = "exact solution exp(-nu t) sin(x - beta t) on a 256 × 101 (x, t) grid"
CONVECTION_TARGETS = {"pinn": 5e-2, "causal": 5e-2, "lagrangian": 1e-2}
"""Issue 7's bounds at β = 50 (causal 5e-2, lagrangian 1e-2), applied at every β so that a failure shows as
one; the plain PINN is held to the causal bound (the literature expects it to fail, > 0.3, at β = 50)."""

CONVECTION_CAUSAL_LONGER = {50.0: 2400}
"""Adam steps per causal window where 600 leave every window under-converged (β = 50: the wave's phase is
right but its amplitude decays window by window; the loss is still falling steeply at step 600)."""

for beta in (10.0, 30.0, 50.0):
    for solver, extra in CONVECTION_SOLVER.items():
        longer = CONVECTION_CAUSAL_LONGER.get(beta) if solver == "causal" else None
        register(Case(
            name=f"convection-{beta:g}-{solver}", problem="convection", solver=solver, params={"beta": beta},
            settings={**CONVECTION_NET, **extra, **({"iterations": longer} if longer else {})},
            budget=(CONVECTION_BUDGET.replace("5 time-marching windows × 600", f"5 time-marching windows × {longer:,}")
                    if longer else CONVECTION_BUDGET),
            reference=CONVECTION_REFERENCE,
            target=CONVECTION_TARGETS[solver],
            target_text=("issue 7's bound for this solver at beta = 50" + (
                ", where the literature expects the plain PINN to fail (Krishnapriyan, Gholami, Zhe, Kirby & "
                "Mahoney, 'Characterizing possible failure modes in physics-informed neural networks', NeurIPS 2021)"
                if solver == "pinn" else "")),
            compare=f"convection, β = {beta:g}"))

ALLEN_CAHN_NET = {"width": 64, "depth": 4, "n_interior": 2048, "resample_every": 100, "lr": 1e-3,
                  "decay_steps": 1000, "eval_every": 1000}
ALLEN_CAHN_ADAM = {"optimizer": "adam-lbfgs", "dtype": "float32", "lbfgs_iterations": 0}
"""What the Allen–Cahn PINN default was before SSBroyden besides ALLEN_CAHN_NET: float32, Adam alone."""
ALLEN_CAHN_PUBLISHED = (
    Published(value=1.7e-3, metric="relative L2",
              what="causal training, the causal paper's code and budget (GPU)", citation=WANG_CAUSAL,
              short="Wang, Sankaran & Perdikaris 2022/2024"),
    Published(value=5.4e-5, metric="relative L2",
              what="jaxpi: causal training with a modified MLP and far more compute, on an A100 GPU",
              citation=JAXPI, short="jaxpi (Wang et al. 2023)"),
)
ALLEN_CAHN_REFERENCE = ("our Fourier-spectral / ETDRK4 solution (1,024 modes, dt = 5e-5), bundled as "
                        "data/allen_cahn.npz, 512 × 201 (x, t) grid; self-convergence 2.7e-6 (data/allen_cahn.md)")

register(Case(
    name="allen-cahn-causal", problem="allen-cahn", solver="causal",
    settings={**ALLEN_CAHN_NET, "windows": 10, "iterations": 4000, "chunks": 16},
    budget="10 time-marching windows × 4,000 Adam steps (40,000 steps of ~17 CPU-ms: ~12 min on one core "
           "of this machine unloaded, inside the 30-minute budget with the evaluations and compiles)",
    reference=ALLEN_CAHN_REFERENCE, published=ALLEN_CAHN_PUBLISHED, target=1e-2,
    target_text="issue 7: within 30 minutes of an unloaded 2-core machine", compare="Allen–Cahn"))
for solver, steps, budget in (
        ("pinn", 10000, "10,000 Adam steps, float32, the allen-cahn-causal network (a quarter of its steps; the "
                        "`sciml run allen-cahn` default before SSBroyden)"),
        ("lagrangian", 4000, "4,000 Adam steps, two branches like the allen-cahn-causal network "
                             "(characteristics are x = x0)")):
    register(Case(
        name=f"allen-cahn-{solver}", problem="allen-cahn", solver=solver,
        settings={**ALLEN_CAHN_NET, "iterations": steps, **(ALLEN_CAHN_ADAM if solver == "pinn" else {})},
        budget=budget,
        reference=ALLEN_CAHN_REFERENCE, published=ALLEN_CAHN_PUBLISHED, target=1e-2,
        target_text="the allen-cahn-causal bound (issue 7: the plain PINN is reported as measured)",
        compare="Allen–Cahn"))

BURGERS_REFERENCE = ("exact Cole-Hopf solution, bundled as data/burgers_cole_hopf.npz (the burgers-pinn case's "
                     "reference)")
register(Case(
    name="burgers-causal", problem="burgers", solver="causal",
    settings={"iterations": 5000, "lbfgs_iterations": 0, "chunks": 32},
    budget="5,000 Adam steps (no L-BFGS: the causal weights change the objective between line-search steps), "
           "32 x 4 tanh, float32, 8,000 fixed points",
    reference=BURGERS_REFERENCE, target=5e-3,
    target_text="the project's Burgers bound for a 32 x 4 network (burgers-pinn's before SSBroyden)", compare="Burgers"))
register(Case(
    name="burgers-lagrangian", problem="burgers", solver="lagrangian", settings={"lbfgs_iterations": 0, "lr": 3e-4},
    budget="3,000 Adam steps at lr 3e-4, no L-BFGS (a 2,000-step L-BFGS phase, stopped after 1,000 iterations and 34 minutes, had reached a loss of 7.5e10), "
           "one 32 × 4 MLP per branch (8,000 fixed points); at lr 1e-3 the run diverged at Adam step 10 on the VM "
           "image of 2026-12-05 (its state loss from 3.8e9 to 2.3e18), where the earlier image had carried it to 6.5e-1",
    reference=BURGERS_REFERENCE, target=5e-3,
    target_text="the project's Burgers bound for a 32 x 4 network (burgers-pinn's before SSBroyden)", compare="Burgers"))

for solver in ("pinn", "causal", "lagrangian"):
    register(Case(
        name=f"convection-diffusion-{solver}", problem="convection-diffusion", solver=solver,
        params={"beta": 30.0, "viscosity": 0.5}, settings={**CONVECTION_NET, **CONVECTION_SOLVER[solver]},
        budget=CONVECTION_BUDGET,
        reference=CONVECTION_DIFFUSION_REFERENCE,
        target=5e-2, target_text="the convection bound", compare="convection–diffusion, β = 30, ν = 0.5"))


# -- issue 14: inverse problems (observations and unknown parameters) ------------------------------
RAISSI_2019_INVERSE = (
    "M. Raissi, P. Perdikaris, G. E. Karniadakis, \"Physics-informed neural networks: A deep learning "
    "framework for solving forward and inverse problems involving nonlinear partial differential equations\", "
    "J. Comput. Phys. 378, 686-707 (2019), Sec. 4.1.1 (data-driven discovery, Burgers' equation): "
    "lambda_2 = nu identified from N_u = 2,000 random points of the exact solution, clean and with 1% noise "
    "(the identified-PDE table of its Burgers figure and the table of errors against noise and N_u)")
register(Case(
    name="burgers-inverse", problem="burgers", solver="pinn",
    inverse={"samples": 2000, "noise": 0.01, "identify": ["nu"], "initial_guess": {"nu": 0.05},
             "conditions": "none"},
    budget="defaults of `sciml run burgers` (20 x 4 tanh MLP, float64, 8,000 collocation points redrawn every 500 "
           "steps, 1,000 Adam + 4,000 SSBroyden) with 2,000 observations of u drawn at random from the reference, 1% Gaussian noise "
           "(0.01 x std(u)), only the data and the residual in the loss (no initial/boundary condition), "
           "nu learned in log space from 0.05 (about 16 x the true 0.01/pi)",
    reference=BURGERS_REFERENCE + "; the observations are sampled from it (observation seed 0), and nu's true "
                                  "value is the one it was computed at",
    bounds={"rel_error_nu": (0.0, 1e-2)},
    # Raissi et al. publish an error of nu, not a relative L2 of the field: cited here, not as `published`
    # (the report's published column is a relative L2).
    target_text=("nu within 1% of its true value: Raissi et al. report about 1% error in lambda_2 = nu from 2,000 "
                 "points with 1% noise (about 0.1% from clean data), with a 9 x 20 tanh network and L-BFGS, "
                 "identifying the u u_x coefficient lambda_1 too (here it is known) [" + RAISSI_2019_INVERSE + "]; "
                 "the field's relative L2 is reported, with no bound")))


# -- issue 14: traffic state estimation from loop detectors ----------------------------------------
DI_2023 = ("X. Di, R. Shi, Z. Mo, Y. Fu, \"Physics-informed deep learning for traffic state estimation: a survey "
           "and the outlook\", Algorithms 16(6), 305 (2023), Sec. 3.4 (numerical data validation, three-parameter "
           "LWR): relative L2 error of the density over the whole field, estimated from loop detectors")
TRAFFIC_REFERENCE = ("our Godunov solution of the ring road, bundled as data/traffic_ring_road.npz (Richardson "
                     "extrapolation of 2,400 and 4,800 cells, estimated error 2.6e-5 relative L2), on its 600 x 301 "
                     "(x, t) points")
TRAFFIC_BUDGET_WEIGHTED = ("defaults of `sciml run traffic` (32 x 4 tanh MLP periodic in x, 3,329 parameters, float64, "
                           "8,000 collocation points redrawn every 500 steps plus the 200 worst-residual points of "
                           "10,000 candidates added every 250 Adam steps, 1,000 Adam then 3,000 SSBroyden steps with a "
                           "dense inverse Hessian, the data term weighted {weight:g})")
"""The traffic default's budget, its data weight left to fill in."""
TRAFFIC_BUDGET = TRAFFIC_BUDGET_WEIGHTED.format(weight=10)
TRAFFIC_LBFGS = {"width": 64, "dtype": "float32", "resample_every": 250, "rar_every": 0, "iterations": 3000,
                 "optimizer": "adam-lbfgs", "lbfgs_iterations": 2000, "eval_every": 500}
"""The traffic default before SSBroyden: 64 x 4 float32, 3,000 Adam + 2,000 L-BFGS, points resampled every 250."""
TRAFFIC_LBFGS_BUDGET = ("64 x 4 tanh MLP periodic in x, float32, 8,000 collocation points resampled every 250 Adam "
                        "steps, 3,000 Adam + 2,000 L-BFGS, the data term weighted 10 (the traffic default before "
                        "SSBroyden)")
TRAFFIC_OBSERVED = ("the detectors record the reference density at every reference time step (every 0.01 s); the "
                    "initial condition is unknown to the solver (conditions 'boundary': a ring has no boundary)")
FIVE_LOOPS = "5 loop detectors at x = 0, 0.2, 0.4, 0.6, 0.8"
FIVE_LOOPS_PUBLISHED = (Published(3.2e-2, REL_L2, "PIDL with 5 loop detectors on a simulated three-parameter LWR road "
                                                  "(not this ring road: a like-for-like figure, not the same data)",
                                  DI_2023, short="Di et al. 2023, Sec. 3.4, 5 loops"),)
register(Case(
    name="traffic-5-loops", problem="traffic", solver="pinn", inverse={"sensors": 5},
    budget=f"{TRAFFIC_BUDGET} with {FIVE_LOOPS}",
    reference=TRAFFIC_REFERENCE + "; " + TRAFFIC_OBSERVED,
    target=3e-2, bounds={"wall_time_s": (0.0, 600.0)},
    published=FIVE_LOOPS_PUBLISHED,
    target_text=("the density over the whole (x, t) field to 3e-2 from 5 detectors, as Di et al. report 3.2e-2 with "
                 "5 loops, within issue 14's 10 minutes (`wall_time_s`); periodic linear interpolation between the "
                 "detectors (interpolation_rel_l2, below) gives 0.27")))
register(Case(
    name="traffic-5-loops-identify", problem="traffic", solver="pinn",
    inverse={"sensors": 5, "noise": 0.02, "identify": ["eps", "v_f"], "initial_guess": {"eps": 0.01, "v_f": 0.8}},
    budget=TRAFFIC_BUDGET + " with 5 loop detectors, Gaussian noise 0.02 x std(rho) on each reading, eps and v_f "
                            "learned in log space from 0.01 (2x the truth) and 0.8 (0.8x)",
    reference=TRAFFIC_REFERENCE + "; " + TRAFFIC_OBSERVED + "; the true eps = 0.005 and v_f = 1 are the reference's",
    target=5e-2, bounds={"rel_error_eps": (0.0, 0.05), "rel_error_v_f": (0.0, 0.05), "wall_time_s": (0.0, 600.0)},
    target_text=("eps and v_f within 5% of the truth and the density to 5e-2 relative L2, from 5 noisy detectors, "
                 "within issue 14's 10 minutes (`wall_time_s`)")))
register(Case(
    name="traffic-3-loops", problem="traffic", solver="pinn", inverse={"sensors": 3},
    budget=TRAFFIC_BUDGET + " with 3 loop detectors at x = 0, 1/3, 2/3",
    reference=TRAFFIC_REFERENCE + "; " + TRAFFIC_OBSERVED, bounds={"wall_time_s": (0.0, 600.0)},
    target_text=("reported as measured, with the detectors' interpolation (interpolation_rel_l2) beside it; within "
                 "issue 14's 10 minutes (`wall_time_s`)")))

WANG_QIN_2023 = ("multi-task optimisation of physics-informed networks after Wang, Qin et al., \"Physics-informed "
                 "neural networks with multi-task optimisation\", IJCNN 2023 (arXiv:2307.03920); the algorithm is "
                 "ours (solvers/mto.py)")
register_study(
    Study(name="traffic-mto-vs-pinn", seeds=(0, 1, 2, 3, 4), arms=("pinn", "mto", "pinn-main"),
          baseline="pinn", candidate="mto", target_ratio=0.8,
          target_text=("`mto` (T0 and one re-weighted task, the detectors' data term weighted 100 instead of 10: "
                       "`weights:data=100`) against `pinn` on the 5-loop traffic case at equal total gradient steps "
                       "(3,000 Adam steps in all, then the same L-BFGS on the main task): the median over 5 seeds of the "
                       "error ratio mto/pinn at most 0.8 (issue 14). `pinn-main` is `pinn` with mto's main-task share of "
                       "the Adam steps (1,500): the ratio at equal main-task steps. Measured on the traffic configuration "
                       "before SSBroyden became the default (64 x 4, float32, Adam then L-BFGS), where the transfers act "
                       "in the long Adam phase. The task was chosen on seed 5, outside these seeds, after mto's default "
                       "tasks (eps x2 and x4) had given a median ratio of 1.09 here (results of commit 09c60a1). "
                       f"[{WANG_QIN_2023}]")),
    {"pinn": {"solver": "pinn", "settings": TRAFFIC_LBFGS},
     "mto": {"solver": "mto", "settings": {**TRAFFIC_LBFGS, "tasks": ["weights:data=100"]}},
     "pinn-main": {"solver": "pinn", "settings": {**TRAFFIC_LBFGS, "iterations": 1500}}},
    problem="traffic", inverse={"sensors": 5},
    budget=(TRAFFIC_LBFGS_BUDGET + "; the 3,000 Adam steps counted over all tasks (mto: 1,500 per task; pinn-main: "
            "1,500), then the same 2,000 L-BFGS on the main task"),
    reference=TRAFFIC_REFERENCE + "; " + TRAFFIC_OBSERVED)

register_study(
    Study(name="traffic-5-loops-ssbroyden", seeds=(0, 1, 2), arms=("ssbroyden", "lbfgs", "data-100"), baseline="lbfgs",
          candidate="ssbroyden",
          target_text=("issue 14's 5-loop target (density rel. L2 ≤ 3e-2 over the whole field; each ssbroyden case's "
                       "target) within issue 14's 10 minutes (`wall_time_s`) with the traffic default, issue 17's "
                       "SSBroyden after Adam (the ssbroyden arm: `sciml run traffic --sensors 5` at each seed), "
                       "against the default it replaced, 64 x 4 Adam + L-BFGS (the lbfgs arm), median of 3 seeds: "
                       "the evidence for SSBroyden as the traffic default. The data-100 arm is the traffic default "
                       "with the detectors' data term weighted 100 instead of 10 (`--set \"weights={'data': 100}\"`), "
                       "beside it at the same seeds: does fitting the detectors more closely recover the flank of "
                       "the initial bump that the default misses (validation/OBSERVABILITY.md)?")),
    {"ssbroyden": {"budget": f"{TRAFFIC_BUDGET} with {FIVE_LOOPS}",
                   "target": 3e-2, "bounds": {"wall_time_s": (0.0, 600.0)}, "published": FIVE_LOOPS_PUBLISHED},
     "lbfgs": {"settings": TRAFFIC_LBFGS, "budget": f"{TRAFFIC_LBFGS_BUDGET} with {FIVE_LOOPS}",
               "target_text": "the baseline arm: reported, no target of its own"},
     "data-100": {"settings": {"weights": {"data": 100.0}},
                  "budget": f"{TRAFFIC_BUDGET_WEIGHTED.format(weight=100)} with {FIVE_LOOPS}",
                  "target": 3e-2, "bounds": {"wall_time_s": (0.0, 600.0)}, "published": FIVE_LOOPS_PUBLISHED}},
    problem="traffic", solver="pinn", inverse={"sensors": 5}, reference=TRAFFIC_REFERENCE + "; " + TRAFFIC_OBSERVED)


# -- issue 17: second-order optimisers (sciml.optim) ------------------------------------------------
MULLER_ZEINHOFER_2023 = (
    "J. Müller, M. Zeinhofer, \"Achieving High Accuracy with PINNs via Energy Natural Gradient Descent\", "
    "ICML 2023 (PMLR 202), arXiv:2302.13163: 2-D Poisson -Δu = 2π² sin(πx) sin(πy) on the unit square, "
    "2 → 64 → 1 tanh network (257 parameters), energy natural gradient with a line search; the figure as quoted "
    "in sciml issue 17 from the re-run by F. Dangel, J. Müller, M. Zeinhofer, \"Kronecker-Factored Approximate "
    "Curvature for Physics-Informed Neural Networks\", NeurIPS 2024")
ENGD_NETWORK = ("2 → 64 → 1 tanh (257 parameters), float64, 1,000 fixed interior points, 100 Adam steps")
register_study(
    Study(name="poisson-engd", seeds=(0, 1, 2), arms=("engd", "lbfgs"), baseline="lbfgs", candidate="engd",
          target_text=("issue 17: `sciml run poisson --frequency 1 --optimizer engd` with the anchor's network to rel. L2 "
                       "≤ 1e-7 within 5 minutes of training on this 2-core machine, median of 3 seeds (each engd "
                       "case's target and `wall_time_s` bound); L-BFGS with the same network, points and steps beside "
                       "it, reported (the published ENGD figure is 6.2e-8; Adam 9.4e-5 and L-BFGS 1.8e-4 there on the "
                       "same budget)")),
    {"engd": {"settings": {"optimizer": "engd", "second_order_iterations": 1000},
              "budget": ("`sciml run poisson --frequency 1 --optimizer engd --width 64 --depth 1 --n-interior 1000 "
                         f"--iterations 100 --second-order-iterations 1000`: {ENGD_NETWORK}, then up to 1,000 energy "
                         "natural gradient steps"),
              "target": 1e-7, "bounds": {"wall_time_s": (0.0, 300.0)},
              "published": (Published(6.2e-8, REL_L2, "ENGD, 2 → 64 → 1 tanh (257 parameters), same manufactured "
                                      "solution", MULLER_ZEINHOFER_2023,
                                      short="Müller & Zeinhofer 2023, ENGD (re-run 2024)"),),
              "target_text": "issue 17's target for this problem (see the study)"},
     "lbfgs": {"settings": {"optimizer": "adam-lbfgs", "lbfgs_iterations": 1000},
               "budget": f"{ENGD_NETWORK}, then up to 1,000 L-BFGS iterations (torch's, strong-Wolfe line search)",
               "target_text": "the baseline arm: reported, no target of its own"}},
    problem="poisson", solver="pinn", params={"frequency": 1.0},
    settings={"dtype": "float64", "width": 64, "depth": 1, "n_interior": 1000, "iterations": 100},
    reference="analytic u = sin(πx) sin(πy) on the problem's reference grid")
_default_study(
    "poisson", "Poisson (frequency 2)", new="the same 32 x 3 network and points in float64, 1,000 Adam + 2,000 SSBroyden",
    new_budget=("defaults of `sciml run poisson`: 32 x 3 tanh MLP, hard boundary condition, float64, 2,000 fixed "
                "collocation points, 1,000 Adam + 2,000 SSBroyden"),
    old_arm="lbfgs", old="32 x 3 float32, 2,000 Adam + 1,000 L-BFGS",
    old_settings={"dtype": "float32", "optimizer": "adam-lbfgs", "iterations": 2000, "lbfgs_iterations": 1000},
    old_budget=("32 x 3 tanh MLP, hard boundary condition, float32, 2,000 fixed collocation points, 2,000 Adam + "
                "1,000 L-BFGS (the `sciml run poisson` default before SSBroyden)"),
    target=1e-5, target_text="issue 17's aim, rel. L2 ≤ 1e-5 (its title: from 1e-3 to 1e-5 and below)",
    reference="analytic u = sin(2πx) sin(2πy) on a 101 × 101 grid")

KIYANI_2025 = (
    "E. Kiyani, K. Shukla, J. F. Urbán, J. Darbon, G. E. Karniadakis, \"Which optimizer works best for "
    "physics-informed neural networks and Kolmogorov-Arnold networks?\", arXiv:2501.16371 (2025): Burgers "
    "ν = 0.01/π, 4 × 20 tanh PINN, 1,000 Adam steps then 50,000 quasi-Newton steps with a Wolfe line search, 8,000 "
    "points resampled every 500 steps; values read off the Burgers error plot of the authors' public repository, "
    "as quoted in sciml issue 17 (approximate)")
def _optimizer_study(name: str, *, steps: int, network: str, target: float, target_text: str,
                     target_ratio: float | None = None, published: tuple = (), bounds: dict | None = None,
                     **common: Any) -> Study:
    """Issue 17's three-seed comparison on one problem: after the same Adam phase, ``steps`` SSBroyden steps
    (the candidate, each seed judged on ``target`` and ``bounds``) against up to ``steps`` L-BFGS iterations
    (the baseline, reported) with the same network and points (``network``: their description, ending with
    the Adam phase)."""
    return register_study(
        Study(name=name, seeds=(0, 1, 2), arms=("ssbroyden", "lbfgs"), baseline="lbfgs", candidate="ssbroyden",
              target_ratio=target_ratio, target_text=target_text),
        {"ssbroyden": {"settings": {"optimizer": "ssbroyden", "second_order_iterations": steps},
                       "budget": f"{network}, then {steps:,} SSBroyden steps (strong-Wolfe line search, dense "
                                 "inverse Hessian)",
                       "target": target, "bounds": bounds or {}, "published": published,
                       "target_text": "issue 17's target for this problem (see the study)"},
         "lbfgs": {"settings": {"optimizer": "adam-lbfgs", "lbfgs_iterations": steps},
                   "budget": f"{network}, then up to {steps:,} L-BFGS iterations (torch's, strong-Wolfe line search, "
                             "history 50; the trainer's L-BFGS phase does not redraw the points, so those drawn at "
                             "Adam step 500 stay)",
                   "target_text": "the baseline arm: reported, no target of its own"}},
        **common)


_optimizer_study(
    "burgers-ssbroyden", steps=8000, target=1e-5, target_ratio=0.2,
    network="4 × 20 tanh (1,341 parameters), float64, 8,000 points redrawn every 500 steps, 1,000 Adam",
    target_text=("issue 17: `sciml run burgers --optimizer ssbroyden` to rel. L2 ≤ 1e-5 within 10 minutes of "
                 "training (each ssbroyden case's target), median of 3 seeds, and at least 5× lower than L-BFGS "
                 "with the same network, points and step budget (the median ratio ssbroyden/lbfgs ≤ 0.2). "
                 f"[{KIYANI_2025}]"),
    published=(Published(1e-7, REL_L2, "SSBroyden / SSBFGS, 1k Adam + 50k steps (≈, from a plot)", KIYANI_2025,
                         short="Kiyani et al. 2025, SSBroyden (≈)"),
               Published(1.5e-5, REL_L2, "BFGS, same budget (≈, from a plot)", KIYANI_2025,
                         short="Kiyani et al. 2025, BFGS (≈)"),
               Published(2e-3, REL_L2, "L-BFGS, same budget (≈, from a plot)", KIYANI_2025,
                         short="Kiyani et al. 2025, L-BFGS (≈)")),
    problem="burgers", solver="pinn",
    settings=dict(dtype="float64", width=20, depth=4, n_interior=8000, resample_every=500, iterations=1000),
    reference=BURGERS_REFERENCE)

_default_study(
    "burgers", "Burgers", new="20 x 4 float64, 1,000 Adam + 4,000 SSBroyden, its step count read off the burgers-ssbroyden "
                          "histories", new_budget=BURGERS_BUDGET,
    old_arm="lbfgs", old="32 x 4 float32, 3,000 Adam + 4,000 L-BFGS", old_settings=BURGERS_LBFGS,
    old_budget=BURGERS_LBFGS_BUDGET, target=1e-4, bounds={"wall_time_s": (0.0, 600.0)},
    target_text="the burgers-pinn bound, within issue 17's 10 minutes (`wall_time_s`)", reference=BURGERS_REFERENCE)

RATHORE_2024 = (
    "P. Rathore, W. Lei, Z. Frangella, L. Lu, M. Udell, \"Challenges in Training PINNs: A Loss Landscape "
    "Perspective\", ICML 2024 (PMLR 235), arXiv:2402.01868: convection β = 40, 3 hidden layers, 10,000 points; "
    "Adam + L-BFGS and then NysNewton-CG (figures as quoted in sciml issue 17)")
_optimizer_study(
    "convection-40-ssbroyden", steps=6000, target=2e-3,
    network=("30 × 3 tanh MLP (2,011 parameters with the periodic embedding in x), float64, 8,000 collocation "
             "points redrawn every 500 steps, 1,000 Adam (lr 2e-3)"),
    target_text=("issue 17: convection β = 40 with a plain PINN network to rel. L2 ≤ 2e-3 within 30 minutes, "
                 "median of 3 seeds (each ssbroyden case's target); L-BFGS with the same network, points and "
                 "steps beside it, reported. An earlier form of this case, 2,048 fixed points, failed at "
                 "1.04 with a loss of 4e-10: the quasi-Newton steps fitted the wave at the points and not "
                 f"between them, which redrawing them every 500 steps prevents. [{RATHORE_2024}]"),
    published=(Published(1.9e-3, REL_L2, "Adam + L-BFGS, then NysNewton-CG; 3 hidden layers, 10,000 points",
                         RATHORE_2024, short="Rathore et al. 2024, NysNewton-CG"),
               Published(4.2e-3, REL_L2, "Adam + L-BFGS; 3 hidden layers, 10,000 points", RATHORE_2024,
                         short="Rathore et al. 2024, Adam + L-BFGS")),
    problem="convection", solver="pinn", params={"beta": 40.0},
    settings={**CONVECTION_NET, "width": 30, "depth": 3, "n_interior": 8000, "resample_every": 500, "iterations": 1000,
              "dtype": "float64"},
    reference=CONVECTION_REFERENCE)
for problem, title, reference, old_case in (
        ("convection", "convection (β = 30)", CONVECTION_REFERENCE, "convection-30-pinn"),
        ("convection-diffusion", "convection–diffusion (β = 30, ν = 0.5)", CONVECTION_DIFFUSION_REFERENCE,
         "convection-diffusion-pinn")):
    _default_study(
        problem, title, new="convection-40-ssbroyden's 30 x 3 float64 network, 1,000 Adam + 5,000 SSBroyden",
        new_budget=(f"defaults of `sciml run {problem}`: 30 x 3 tanh MLP, periodic embedding in x, float64, 8,000 "
                    "collocation points redrawn every 500 steps, 1,000 Adam (lr 2e-3) + 5,000 SSBroyden"),
        old_arm="adam", old=f"64 x 4 float32, 3,000 Adam steps, as {old_case}",
        old_settings={**CONVECTION_NET, **CONVECTION_ADAM},
        old_budget=("64 x 4 tanh MLP, periodic embedding in x, float32, 2,048 fixed collocation points, 3,000 Adam "
                    f"steps (the `sciml run {problem}` default before SSBroyden)"),
        target=2e-3, bounds={"wall_time_s": (0.0, 1800.0)},
        target_text="issue 17's plain-PINN convection target (β = 40: rel. L2 ≤ 2e-3 within 30 minutes, `wall_time_s`)",
        reference=reference)
_optimizer_study(
    "allen-cahn-ssbroyden", steps=5000, target=1e-4, bounds={"wall_time_s": (0.0, 1800.0)},
    network=("30 × 3 tanh MLP, float64, 4,000 collocation points redrawn every 500 steps, the hard initial condition "
             "u = u0 exp(-10 t) + t N, 1,000 Adam (lr 1e-3)"),
    target_text=("issue 17: Allen–Cahn to rel. L2 ≤ 1e-4 within 30 minutes, median of 3 seeds (each ssbroyden "
                 "case's target), a plain PINN loss (no causal weighting); L-BFGS with the same network, points "
                 "and steps beside it, reported. The hard initial condition carries u0's kink at the periodic "
                 "boundary with its decay exp(-10 t); with u0 alone (before) the kink stayed at full size and "
                 "this case levelled off at 4.2e-4, the error on the boundary line"),
    published=ALLEN_CAHN_PUBLISHED, problem="allen-cahn", solver="pinn",
    settings={**ALLEN_CAHN_NET, "width": 30, "depth": 3, "n_interior": 4000, "resample_every": 500, "iterations": 1000,
              "dtype": "float64"},
    reference=ALLEN_CAHN_REFERENCE)

_default_study(
    "allen-cahn", "Allen–Cahn", new="allen-cahn-ssbroyden's 30 x 3 float64 network, 1,000 Adam + 5,000 SSBroyden",
    new_budget=("defaults of `sciml run allen-cahn`: 30 x 3 tanh MLP, float64, 4,000 collocation points redrawn every "
                "500 steps, the hard initial condition u = u0 exp(-10 t) + t N, 1,000 Adam (lr 1e-3) + 5,000 SSBroyden"),
    old_arm="adam", old="64 x 4 float32, 10,000 Adam steps, as allen-cahn-pinn",
    old_settings={**ALLEN_CAHN_NET, **ALLEN_CAHN_ADAM, "iterations": 10000},
    old_budget=("64 x 4 tanh MLP, float32, 2,048 points redrawn every 100 steps, 10,000 Adam steps (the `sciml run "
                "allen-cahn` default before SSBroyden)"),
    target=1e-4, bounds={"wall_time_s": (0.0, 1800.0)}, published=ALLEN_CAHN_PUBLISHED,
    target_text="issue 17's Allen–Cahn target, rel. L2 ≤ 1e-4 within 30 minutes (`wall_time_s`)",
    reference=ALLEN_CAHN_REFERENCE)

# -- issue 15: DeepONet for the diesel engine's actuators --------------------------------------------
LU_2021 = ("L. Lu, P. Jin, G. Pang, Z. Zhang, G. E. Karniadakis, \"Learning nonlinear operators via DeepONet based on "
           "the universal approximation theorem of operators\", Nature Machine Intelligence 3, 218-229 (2021)")
register(Case(
    name="diesel-actuators-deeponet", problem="diesel-actuators", solver="deeponet",
    budget=("defaults of `sciml run diesel-actuators` (deeponet: branch and trunk 64 x 3 tanh, 32 basis functions "
            "per output; 5,000 random command sequences by seed 0 with their exact trajectories at 800 random times; "
            "20,000 Adam steps of 100 sequences x 200 times, lr 3e-3 cosine), one thread"),
    reference=("the exact solution of the delayed first-order actuator dynamics (sciml.classical.diesel.actuators) "
               "for 100 held-out command sequences (seed 20240501, never used for training): EGR and VGT commands "
               "held 0.25 s over 2 s, 201 evenly spaced times each; outputs ut_egr1, ut_egr2, ut_vgt"),
    target=1e-2,
    target_text=("issue 15: relative L2 <= 1e-2 over 100 held-out random command sequences, trained in <= 5 minutes "
                 f"(the wall time in the table; method: {LU_2021})")))



# -- issue 15: the diesel engine's digital twin, PINN identification of drifting parameters -------------
NATH_2023 = ("K. Nath, X. Meng, D. J. Smith, G. E. Karniadakis, Sci. Rep. 13, 13683 (2023), and K. Nath, V. Kumar, "
             "D. J. Smith, G. E. Karniadakis, arXiv 2412.11967 (2024): PINN identification of eta_sc, h_tot, A_egrmax "
             "and A_vgtmax of this engine model from its measured signals")
DIESEL_IDENTIFIED = ("eta_sc", "h_tot", "A_egrmax", "A_vgtmax")
DIESEL_GUESS = {name: factor * DIESEL_DEFAULTS[name] for name, factor in zip(DIESEL_IDENTIFIED, (1.2, 0.8, 1.2, 0.8))}
"""Initial guesses 20 % off the released parameter set's values, alternately high and low."""
DIESEL_TWIN_BUDGET = ("defaults of `sciml run diesel-engine` (ode-pinn: one 48 x 3 tanh MLP per 4 s stretch between "
                      "command changes, time stretched with delta 0.1 s, 300 residual points per stretch; 15,000 "
                      "Adam + 2,000 L-BFGS, float64, one thread), the four parameters learned in log space from 20 % "
                      "off (eta_sc and A_egrmax high, h_tot and A_vgtmax low); the classical least-squares baseline "
                      "from the same guess (ode-pinn's baseline, on by default), its time beside the twin's in "
                      "extra_metrics")
DIESEL_TWIN_REFERENCE = ("the 60 s random transient of `sciml run diesel-engine` (commands seed 0, held 4 s) by our "
                         "SciPy simulator (LSODA, rtol 1e-8) at the released parameter set; the twin fits p_im, "
                         "p_em, omega_t and W_egr sampled from it at 10 Hz")
register(Case(
    name="diesel-engine-identify", problem="diesel-engine", solver="ode-pinn",
    inverse={"identify": list(DIESEL_IDENTIFIED), "initial_guess": DIESEL_GUESS},
    budget=DIESEL_TWIN_BUDGET + "; clean data", reference=DIESEL_TWIN_REFERENCE,
    bounds={"extra_metrics.rel_error_A_egrmax": (0.0, 0.02), "extra_metrics.rel_error_A_vgtmax": (0.0, 0.02),
            "extra_metrics.rel_error_eta_sc": (0.0, 0.03), "extra_metrics.rel_error_h_tot": (0.0, 0.10),
            "rel_l2_p_im": (0.0, 2e-2), "rel_l2_p_em": (0.0, 2e-2), "rel_l2_omega_t": (0.0, 2e-2),
            "wall_time_s": (0.0, 1200.0)},
    target_text=("issue 15: on clean data of a 60 s transient, A_egrmax and A_vgtmax within 2 %, eta_sc within 3 %, "
                 "h_tot within 10 %, p_im, p_em, omega_t to 2e-2 relative L2, in at most 20 minutes (method: "
                 f"{NATH_2023})")))
register(Case(
    name="diesel-engine-identify-deeponet", problem="diesel-engine", solver="ode-pinn", settings={"baseline": False},
    param_from={"actuators": "diesel-actuators-deeponet"},
    inverse={"identify": list(DIESEL_IDENTIFIED), "initial_guess": DIESEL_GUESS},
    budget=("the budget of diesel-engine-identify, clean data, with the actuator states ut_egr1, ut_egr2 and ut_vgt "
            "predicted by the trained operator of diesel-actuators-deeponet (`--actuators` its run folder) in place "
            "of their closed form; no least squares (diesel-engine-identify reports it)"),
    reference=DIESEL_TWIN_REFERENCE,
    bounds=CASES["diesel-engine-identify"].bounds,
    target_text=("issue 15: the operator-infused twin, the DeepONet's actuator states replacing the exact ones as in "
                 f"{NATH_2023}; held to diesel-engine-identify's targets")))
register(Case(
    name="diesel-engine-identify-noise", problem="diesel-engine", solver="ode-pinn", params={"sensor_noise": 0.01},
    inverse={"identify": list(DIESEL_IDENTIFIED), "initial_guess": DIESEL_GUESS},
    budget=DIESEL_TWIN_BUDGET + "; 1 % relative Gaussian noise on every sample (noise seed 1)",
    reference=DIESEL_TWIN_REFERENCE,
    bounds={"extra_metrics.rel_error_A_egrmax": (0.0, 0.05), "extra_metrics.rel_error_A_vgtmax": (0.0, 0.05)},
    target_text=("issue 15: with 1 % noise, A_egrmax and A_vgtmax within 5 % (the least-squares baseline, expected "
                 "within 1.5 % on all four, is reported beside it)")))

register_study(
    Study(name="diesel-identify-self-adaptive", seeds=(2, 3, 4), arms=("self-adaptive", "fixed"), baseline="fixed",
          candidate="self-adaptive", target_ratio=0.8, metric=TOLERANCE_USED, over="command_seed",
          tolerances={name[len("extra_metrics.rel_error_"):]: high
                      for name, (_, high) in CASES["diesel-engine-identify"].bounds.items() if "rel_error_" in name},
          target_text=("issue 15's clean identification (diesel-engine-identify's budget) with self-adaptive weights "
                       "on the data (the self-adaptive arm) against fixed ones, the twin's default (the fixed arm), on "
                       "three operating windows that no case is judged on (commands seeds 2, 3 and 4; seed 0 is the "
                       "judged window, seed 1 the transfers' source): each run's error is the largest over the four "
                       "parameters of its relative error over issue 15's tolerance (A_egrmax and A_vgtmax 2 %, eta_sc "
                       "3 %, h_tot 10 %). The rule, set before the runs, makes self-adaptive weights the twin's "
                       "default when the median over the windows of the ratio self-adaptive/fixed is at most 0.8: a "
                       "fifth more room under the tolerance nearest to being broken. The rule was met at commit "
                       "188afc7 and self-adaptive weights became the default at 0d542d3, then stopped being it: it "
                       "judges clean data with exact actuators only, and as the default they broke the eta_sc and "
                       "h_tot bounds of diesel-engine-identify-deeponet and moved h_tot of the 1 % noise case far "
                       f"off (results at cd24f83). [{NATH_2023}]")),
    {"self-adaptive": {"settings": {"self_adaptive": True},
                       "budget": ("the budget of diesel-engine-identify without its least-squares baseline, with "
                                  "self_adaptive: a weight per measured sample and signal on the data term, raised by "
                                  "gradient ascent (Adam, lr 3e-3) during the 15,000 Adam steps, held during L-BFGS")},
     "fixed": {"budget": "the budget of diesel-engine-identify without its least-squares baseline"}},
    problem="diesel-engine", solver="ode-pinn", settings={"baseline": False},
    inverse={"identify": list(DIESEL_IDENTIFIED), "initial_guess": DIESEL_GUESS},
    reference="the window's own simulated measurements (60 s, commands held 4 s), as in diesel-engine-identify")

register_study(
    Study(name="diesel-identify-algebraic", seeds=(2, 3, 4), arms=("algebraic", "fixed-point"),
          baseline="fixed-point", candidate="algebraic", target_ratio=1.25, metric=TOLERANCE_USED,
          over="command_seed", tolerances=STUDIES["diesel-identify-self-adaptive"].tolerances,
          target_text=("issue 15's clean identification (diesel-engine-identify's budget) with the implicit unknowns of "
                       "the exhaust temperature, x_r and T_1, learned as network outputs with their own residual, as "
                       "issue 15 describes the twin (the algebraic arm), against their exact solution by fixed point "
                       "at every evaluation, the twin's default when this study was set (the fixed-point arm), on the "
                       "windows of diesel-identify-self-adaptive (commands seeds 2, 3 and 4), by the same error: the "
                       "largest over "
                       "the four parameters of the relative error over issue 15's tolerance. The rule, set before the "
                       "runs: the issue's construction becomes the twin's default unless it is clearly worse, i.e. "
                       "when the median over the windows of the ratio algebraic/fixed-point is at most 1.25 (at most "
                       "a quarter more of the tolerance nearest to being broken). The rule was met at commit 80f38ff "
                       "and algebraic became the default at 188afc7, then stopped being it: as the default it failed "
                       "issue 15's multi-stage transfer (diesel-twin-multi-stage: 2.12 times faster than from scratch, "
                       "h_tot error ratio 1.68; the dense SSBroyden inverse Hessian grows with the extra outputs) and "
                       "the A_egrmax bound of diesel-engine-identify-deeponet (results at a02157f). "
                       f"[{NATH_2023}]")),
    {"algebraic": {"settings": {"algebraic": True},
                   "budget": ("the budget of diesel-engine-identify without its least-squares baseline, with "
                              "algebraic: the networks also output x_r and T_1, whose residual (24) is a loss term")},
     "fixed-point": {"settings": {"algebraic": False},
                     "budget": ("the budget of diesel-engine-identify without its least-squares baseline, with x_r and "
                                "T_1 solved by fixed point at every evaluation (algebraic off)")}},
    problem="diesel-engine", solver="ode-pinn", settings={"baseline": False},
    inverse={"identify": list(DIESEL_IDENTIFIED), "initial_guess": DIESEL_GUESS},
    reference="the window's own simulated measurements (60 s, commands held 4 s), as in diesel-engine-identify")

# -- issue 15: transfer learning of the twin to a new operating window ----------------------------------
NATH_2024 = ("K. Nath, V. Kumar, D. J. Smith, G. E. Karniadakis, arXiv 2412.11967 (2024): multi-stage and few-shot "
             "transfer learning of the engine's PINN twin to new operating windows")
register(Case(
    name="diesel-twin-source", problem="diesel-engine", solver="ode-pinn", params={"command_seed": 1},
    settings={"shared_body": True, "baseline": False},
    inverse={"identify": list(DIESEL_IDENTIFIED), "initial_guess": DIESEL_GUESS},
    budget=("the twin trained offline on another window, the 60 s transient of commands seed 1: the budget of "
            "`sciml run diesel-engine` with one body shared by the 15 stretches, a head (last layer) each "
            "(shared_body); no least squares"),
    reference="the window's own simulated measurements, as in diesel-engine-identify",
    target_text="none: the trained network that diesel-twin-multi-stage and diesel-twin-few-shot start from"))


TRANSFER = {"shared_body": True, "baseline": False, "data_weight": 10.0, "optimizer": "ssbroyden"}
"""The settings every transfer from diesel-twin-source shares."""
MULTI_STAGE = {"data_steps": 200, "iterations": 400, "lbfgs_iterations": 1000}
"""The multi-stage transfer's steps: 200 Adam on the data alone, 200 with the residual and the parameters, then
1,000 of the optimizer's second phase."""


def _multi_stage_budget(second_phase: str) -> str:
    """The budget text of a multi-stage transfer (:data:`MULTI_STAGE`) whose phase after Adam is ``second_phase``."""
    return ("multi-stage transfer from diesel-twin-source's network (its body; each head started as the ridge "
            "least-squares fit of the measured states on the body's features): 200 Adam steps on the data alone with "
            f"the parameters frozen, then 200 with the residual and the parameters, then {second_phase}, data weight "
            "10 (1 in the scratch run); no least squares")


MULTI_STAGE_BUDGET = _multi_stage_budget("1,000 SSBroyden steps (dense inverse Hessian of all 8,500 weights)")


def _transfer_case(name: str, settings: dict[str, Any], budget: str, speedup: float, strategy: str) -> Case:
    """A transfer from diesel-twin-source to the window of diesel-engine-identify, from the same guesses, judged
    against that case's training from scratch (issue 15's targets)."""
    return register(Case(
        name=name, problem="diesel-engine", solver="ode-pinn", settings={**TRANSFER, **settings},
        inverse={"identify": list(DIESEL_IDENTIFIED), "initial_guess": DIESEL_GUESS},
        init_from="diesel-twin-source", against="diesel-engine-identify", budget=budget,
        reference=DIESEL_TWIN_REFERENCE,
        bounds={"against.speedup": (speedup, 1e9), "against.error_ratio": (0.0, 1.5)},
        target_text=(f"issue 15: {strategy} transfer to the window of diesel-engine-identify (commands seed 0), from "
                     f"the same 20 % off guesses, at least {speedup:g} times as fast as that case's training from "
                     "scratch (its wall time over ours: `against.speedup`) with every parameter's error at most 1.5 "
                     f"times the scratch run's (`against.error_ratio`; method: {NATH_2024})")))


_transfer_case("diesel-twin-multi-stage", MULTI_STAGE, MULTI_STAGE_BUDGET, 3.0, "multi-stage")
_transfer_case(
    "diesel-twin-few-shot", {"freeze_body": True, "iterations": 200, "lbfgs_iterations": 600},
    ("few-shot transfer: diesel-twin-source's body frozen, its features and their time derivatives computed "
     "once, each head started as the ridge least-squares fit of the measured states on them; only the heads "
     "(15 x 49 x 5 weights) and the parameters trained, 200 Adam then 600 SSBroyden steps (dense inverse "
     "Hessian), data weight 10 (1 in the scratch run); no least squares"),
    10.0, "few-shot")

register_study(
    Study(name="diesel-multi-stage-optimizer", seeds=(2, 3, 4), arms=("lbfgs", "ssbroyden"), baseline="ssbroyden",
          candidate="lbfgs", target_ratio=1.5, metric=PARAMETERS, over="command_seed",
          target_text=("issue 15's multi-stage transfer (diesel-twin-multi-stage) with L-BFGS after Adam (the lbfgs arm) "
                       "against its dense SSBroyden (the ssbroyden arm), on three operating windows that no case is "
                       "judged on (commands seeds 2, 3 and 4; the source is seed 1, the judged window seed 0): the "
                       "rule, set before the runs, makes L-BFGS the case's second phase when the median over the "
                       "windows of the largest parameter-error ratio lbfgs/ssbroyden is at most 1.5, the tolerance "
                       "issue 15 grants a transfer against training from scratch (the dense inverse Hessian of all "
                       "8,500 weights is most of the case's time)")),
    {"ssbroyden": {"budget": MULTI_STAGE_BUDGET},
     "lbfgs": {"settings": {"optimizer": "adam-lbfgs"},
               "budget": _multi_stage_budget("at most 1,000 L-BFGS iterations")}},
    problem="diesel-engine", solver="ode-pinn", settings={**TRANSFER, **MULTI_STAGE},
    inverse={"identify": list(DIESEL_IDENTIFIED), "initial_guess": DIESEL_GUESS}, init_from="diesel-twin-source",
    reference="the window's own simulated measurements (60 s, commands held 4 s), as in diesel-engine-identify")

# -- issue 15: health monitoring with the twin ----------------------------------------------------------
MONITORED = ("A_egrmax", "A_vgtmax")
MONITOR_BUDGET = ("twin-monitor on a 120 s random transient (commands seed 0) measured with 1 % noise: six 20 s "
                  "windows, each identified by 4 few-shot twins from diesel-twin-source's body (measurement noise "
                  "seeds 1-4; 200 Adam then 600 SSBroyden steps, data weight 10), each window from the previous "
                  "one's estimates, the first from 20 % off (A_egrmax high, A_vgtmax low); the first two windows "
                  "set the healthy baseline; eta_sc and h_tot known; each member drops a random 10 % of the "
                  "body's features (MC dropout, one mask per member and window); 95 % intervals: Student's t over "
                  "the 4 members")


def _monitor_case(name: str, params: dict[str, Any], bounds: dict[str, tuple[float, float]], what: str) -> Case:
    return register(Case(
        name=name, problem="diesel-engine", solver="twin-monitor",
        params={"duration": 120.0, "sensor_noise": 0.01, **params},
        settings={"window": 20.0, "members": 4, "reference_windows": 2, "dropout": 0.1},
        inverse={"identify": list(MONITORED), "initial_guess": {n: DIESEL_GUESS[n] for n in MONITORED}},
        init_from="diesel-twin-source", budget=MONITOR_BUDGET,
        reference="the values in force in each window (the simulator's: problem.true_params())",
        bounds={"extra_metrics.coverage": (0.9, 1.0), **bounds},
        target_text=f"issue 15: {what}; the 95 % intervals hold the true values in >= 90 % of the windows "
                    f"(`extra_metrics.coverage`; method: {NATH_2024})"))


_monitor_case(
    "diesel-monitor-fault", {"fault": "vgt-egr", "fault_time": 60.0},
    {"extra_metrics.drift_A_vgtmax": (-0.13, -0.07), "extra_metrics.drift_A_egrmax": (-0.23, -0.17),
     "extra_metrics.flags_after_fault": (6.0, 6.0), "extra_metrics.flags_before_fault": (0.0, 0.0)},
    "the VGT fouling (A_vgtmax -10 %) and EGR clogging (A_egrmax -20 %) from 60 s detected with the right sign "
    "and magnitude within 3 percentage points (the mean drift of the three windows after the fault: "
    "`extra_metrics.drift_NAME`), both flagged in every window after it and neither in the window before")
_monitor_case(
    "diesel-monitor-healthy", {},
    {"extra_metrics.flags_before_fault": (0.0, 0.0)},
    "no fault flagged on the same run without a fault (`extra_metrics.flags_before_fault`: flags after the "
    "baseline)")

# -- issue 16: phase-field fracture, our finite elements on the single-edge-notched tension test --------
MIEHE_2010 = ("C. Miehe, M. Hofacker, F. Welschinger, \"A phase field model for rate-independent crack propagation: "
              "robust algorithmic implementation based on operator splits\", Comput. Methods Appl. Mech. Engrg. 199, "
              "2765-2778 (2010), tension test (spectral split, l = 0.015 mm), load-displacement figure as digitised "
              "in phasefieldx (github.com/CastillonMiguel/phasefieldx, MIT License)")
PHASEFIELDX_ISOTROPIC = ("M. Castillon, phasefieldx (github.com/CastillonMiguel/phasefieldx), FEniCSx run of the same "
                         "tension test with the isotropic AT2 model (no energy split), l = 0.015 mm")
SENT_BUDGET = ("defaults of `sciml run sent` (P1 criss-cross triangles, h = l/6 = 2.5e-3 mm in a band of 4 l around "
               "the crack path, graded to 0.05 mm; 140 equal load steps to 7e-3 mm; staggered passes to a damage "
               "change below 1e-4)")
SENT_REFERENCE = ("the published peak of the load-displacement curve (top reaction force and the displacement at it); "
                  "the figure draws Miehe's digitised curve when SCIML_FRACTURE_REFERENCE names a folder holding it")


def _sent_case(name: str, split: str, what: str, citation: str, short: str, peak: tuple[float, float],
               force_tolerance: float, model: str, whose: str = "") -> None:
    """A `sent` FEM case held to a published peak (force [kN], displacement [mm]): the force within
    ``force_tolerance``, the displacement within 5 %, the run within 15 minutes (issue 16)."""
    force, at = peak
    register(Case(
        name=name, problem="sent", solver="fem", params={} if split == "spectral" else {"split": split},
        budget=SENT_BUDGET + ("" if split == "spectral" else ", isotropic AT2 (no energy split)"),
        reference=SENT_REFERENCE,
        published=(Published(force, "peak_force", what, citation, short=f"{short}, peak force"),
                   Published(at, "peak_displacement", what, citation, short=f"{short}, displacement at the peak")),
        bounds={"peak_force": (force * (1 - force_tolerance), force * (1 + force_tolerance)),
                "peak_displacement": (at * 0.95, at * 1.05), "wall_time_s": (0.0, 900.0)},
        target_text=(f"{model}: the peak force within {force_tolerance:.0%} of {whose}{force:g} kN and the displacement "
                     f"at it within 5% of {at * 1e3:.2f}e-3 mm, in at most 15 minutes (issue 16)")))


_sent_case("sent-fem", "spectral", "FEM, spectral split, l = 0.015 mm", MIEHE_2010, "Miehe et al. 2010",
           (0.701, 5.55e-3), 0.05, "Miehe's model (spectral split)", whose="Miehe et al.'s ")
_sent_case("sent-fem-isotropic", "none", "FEniCSx, isotropic AT2, l = 0.015 mm", PHASEFIELDX_ISOTROPIC,
           "phasefieldx FEniCSx", (0.6915, 5.58e-3), 0.03, "the isotropic AT2 model")


register(Case(
    name="sent-deep-energy", problem="sent", solver="deep-energy",
    budget=("defaults of `sciml run sent --solver deep-energy`: 50 x 3 tanh MLP (u_x, u_y, d) in float64, 140 load "
            "steps to 7e-3 mm, 1,000 Adam steps at the first and 50 at each later one from the last step's network, "
            "4,000 Monte Carlo points (half in the band |y| <= 4 l) redrawn every step, the history field and the "
            "load on 3,808 Gauss nodes graded towards the crack path; the notch as Borden et al.'s initial history"),
    reference=SENT_REFERENCE,
    published=(Published(0.701, "peak_force", "FEM, spectral split, l = 0.015 mm", MIEHE_2010,
                         short="Miehe et al. 2010, peak force"),),
    bounds={"peak_force": (0.701 * 0.95, 0.701 * 1.05)},
    target_text=("issue 16 asks for the peak and curve the CPU budget reaches, and for the GPU budget that brings the "
                 "peak within 5 % of Miehe et al.'s 0.701 kN: the bound is that GPU target, which this CPU budget is "
                 "not expected to meet")))


# -- issue 16: 1-D phase-field fracture by the deep energy method -----------------------------------
PHASE_FIELD_1D_BUDGET = ("defaults of `sciml run phase-field-1d` (deep-energy solver: 32 x 3 tanh MLP in float64, "
                         "512 Gauss–Legendre nodes (64 cells of 8) on [-a, a], 2,000 Adam + 2,000 L-BFGS steps; "
                         "d = 1 + (|x|/l) N, and d = max(1 + (|x|/l) N, 0)² for AT1)")
DAMAGED_BAR_BUDGET = ("defaults of `sciml run damaged-bar` (deep-energy solver: 32 x 3 tanh MLP in float64 over the "
                      "load path ε in [0, 0.05], 512 Gauss–Legendre nodes, 2,000 Adam + 2,000 L-BFGS steps; the "
                      "irreversibility penalty on a decreasing d; AT1 d = max(v, 0))")
for _model, _target in (("at2", 1e-2), ("at1", 2e-2)):
    register(Case(
        name=f"phase-field-1d-{_model}", problem="phase-field-1d", solver="deep-energy", params={"model": _model},
        budget=PHASE_FIELD_1D_BUDGET + " (l = 0.015 mm, a = 0.06 mm)",
        reference=("closed-form optimal profile: AT2 d = cosh((a - |x|)/l) / cosh(a/l), Γ = tanh(a/l); AT1 "
                   "d = (1 - |x|/(2l))² on |x| <= 2l, Γ = 1 (shared/reference/fracture/README.md), on 1,201 points"),
        target=_target, bounds={"gamma_error": (-1e-3, 1e-3), "d_min": (0.0, 1.0)},
        target_text=(f"issue 16: relative L2 of d <= {_target:g} with the crack surface Γ within 1e-3 of its closed "
                     "form" + (" (tanh(a/l))" if _model == "at2" else " (1), and d >= 0 everywhere"))))
    register(Case(
        name=f"damaged-bar-{_model}", problem="damaged-bar", solver="deep-energy", params={"model": _model},
        budget=DAMAGED_BAR_BUDGET + " (E = 210 kN/mm², G_c = 2.7e-3 kN/mm, l = 0.015 mm)",
        reference=("closed-form uniform damage of the homogeneous bar along the load path (AT2 d = E ε² / (E ε² + "
                   "G_c/l), AT1 d = max(0, 1 - 3 G_c / (8 l E ε²))) on 1,001 strains; peak stress σ_c "
                   + ("(3√3/16) √(E G_c / l)" if _model == "at2" else "√(3 E G_c / (8 l))")),
        target=1e-2, bounds={"peak_stress_rel_error": (-1e-2, 1e-2), "healing": (0.0, 1e-4)},
        target_text=("issue 16: the peak stress within 1 % of the closed form σ_c; the damage along the load path to "
                     "1e-2 relative L2, decreasing by at most 1e-4 between neighbouring load steps (irreversibility)")))


# -- issue 16: the Mode-I crack tip (k-field), PINN and deep energy ---------------------------------------
K_FIELD_REFERENCE = ("the Williams Mode-I displacements (shared/reference/fracture/README.md) on a 101 x 51 grid of the "
                     "upper half of the square; K from the J-integral on the circle r = 0.5 mm against the imposed K")
K_FIELD_TARGET = "issue 16: displacement relative L2 <= 2e-2 and K from the J-integral within 5 %"
K_FIELD_BOUNDS = {"K_rel_error": (0.0, 0.05)}


def _k_field_budget(command: str, network: str, how: str) -> str:
    return (f"{command}: {network} tanh MLP in float64, u = F ⊙ (B + φ N) with F = U (√(r/a), y / √(2a (r + x))) "
            f"(the outer boundary values exact), {how}; the crack line's tractions soft")


K_FIELD_PINN_BUDGET = _k_field_budget(
    "defaults of `sciml run k-field`", "30 x 3", "1,000 Adam + 4,000 SSBroyden steps on 4,000 collocation points "
    "redrawn every 500 steps and 400 points per condition (the Navier equations weighted by (r/a)^(3/2))")
register(Case(name="k-field-pinn", problem="k-field", solver="pinn", budget=K_FIELD_PINN_BUDGET,
              reference=K_FIELD_REFERENCE, target=2e-2, bounds=K_FIELD_BOUNDS, target_text=K_FIELD_TARGET))
register(Case(
    name="k-field-deep-energy", problem="k-field", solver="deep-energy",
    budget=_k_field_budget("defaults of `sciml run k-field --solver deep-energy`", "32 x 4",
                           "6,000 Adam steps on 4,000 Monte Carlo points drawn anew every step and 400 points per "
                           "condition (the strain energy)"),
    reference=K_FIELD_REFERENCE, target=2e-2, bounds=K_FIELD_BOUNDS, target_text=K_FIELD_TARGET))
_default_study(
    "k-field", "the Mode-I crack tip", new="30 x 3 float64, 4,000 points redrawn every 500 steps, 1,000 Adam + 4,000 "
    "SSBroyden", new_budget=K_FIELD_PINN_BUDGET, old_arm="lbfgs",
    old="32 x 4 float64, 4,000 fixed points, 3,000 Adam + 2,000 L-BFGS, k-field-pinn's before",
    old_settings={"width": 32, "depth": 4, "resample_every": 0, "iterations": 3000, "optimizer": "adam-lbfgs",
                  "lbfgs_iterations": 2000},
    old_budget=_k_field_budget("the k-field PINN default before SSBroyden", "32 x 4", "3,000 Adam + 2,000 L-BFGS "
                               "steps on 4,000 fixed collocation points and 400 points per condition"),
    target=2e-2, target_text=f"the k-field-pinn targets ({K_FIELD_TARGET})", reference=K_FIELD_REFERENCE,
    bounds=K_FIELD_BOUNDS)


# -- issue 17: the PINN defaults chosen by measurement -----------------------------------------------------
SSBROYDEN_30X3 = dict(dtype="float64", width=30, depth=3, iterations=1000, resample_every=500, optimizer="ssbroyden")
for _problem, _title, _steps, _points, _lbfgs, _budget, _target, _bound, _reference in (
        ("kovasznay", "Kovasznay", 8000, 2000, 3000, KOVASZNAY_BUDGET, 1e-3,
         "the kovasznay-pinn bound (issue 4: relative L2 of (u, v) <= 1e-3)", KOVASZNAY_REFERENCE),
        ("taylor-green", "Taylor–Green", 4000, 4000, 500, TAYLOR_GREEN_BUDGET, 1e-2,
         f"the taylor-green-pinn bound ({TAYLOR_GREEN_TARGET})", TAYLOR_GREEN_REFERENCE)):
    # the old arm: the Navier-Stokes PINN default before SSBroyden, 4 x 50 float32 on fixed points
    _default_study(
        _problem, _title, new=f"30 x 3 float64, 1,000 Adam + {_steps:,} SSBroyden", new_budget=_budget, old_arm="lbfgs",
        old=f"4 x 50 float32, 2,000 Adam + {_lbfgs:,} L-BFGS, {_problem}-pinn's before",
        old_settings={"width": 50, "depth": 4, "dtype": "float32", "resample_every": 0, "iterations": 2000,
                      "optimizer": "adam-lbfgs", "lbfgs_iterations": _lbfgs},
        old_budget=(f"4 x 50 tanh, float32, {_points:,} fixed collocation points, 2,000 Adam + {_lbfgs:,} L-BFGS (the "
                    f"{_title} default before SSBroyden)"),
        target=_target, target_text=_bound, reference=_reference)


def _kept_default_study(problem: str, title: str, *, points: int, default: str, metric: str = "rel_l2",
                        metric_reference: float | None = None, **common: Any) -> Study:
    """Issue 17's check of a problem whose PINN default stayed Adam + L-BFGS: SSBroyden (30 x 3 float64,
    ``points`` collocation points redrawn every 500 steps, 1,000 Adam + 4,000 SSBroyden) against the
    default ``sciml run PROBLEM`` (``default`` says what it trains), each at its own budget, three seeds;
    reported, no target ratio. The error compared is ``metric`` (``metric_reference``: its relative deviation
    from that value, named in the target text); ``common`` holds the cases' reference, targets and bounds."""
    study = Study(name=f"{problem}-ssbroyden", seeds=(0, 1, 2), arms=("ssbroyden", "lbfgs"), baseline="lbfgs",
                  candidate="ssbroyden", metric=metric, metric_reference=metric_reference)
    of = "" if metric == "rel_l2" else f" of the {study.error_label}"
    return register_study(
        replace(study, target_text=(
            f"issue 17's 'each problem's defaults chosen by measurement' for {title}: SSBroyden (30 x 3 float64, "
            f"1,000 Adam + 4,000 SSBroyden) against the default `sciml run {problem}` ({default}), each at its own "
            f"budget, median of 3 seeds{of}; reported: the default would change only at a median ratio "
            "ssbroyden/lbfgs ≤ 0.2, the other problems' bar")),
        {"ssbroyden": {"settings": {**SSBROYDEN_30X3, "n_interior": points, "second_order_iterations": 4000},
                       "budget": (f"`sciml run {problem} --optimizer ssbroyden --dtype float64 --width 30 --depth 3 "
                                  f"--n-interior {points} --resample-every 500 --iterations 1000 "
                                  f"--second-order-iterations 4000`: 30 × 3 tanh MLP, float64, {points:,} collocation "
                                  "points redrawn every 500 steps, 1,000 Adam then 4,000 SSBroyden steps")},
         "lbfgs": {"budget": f"defaults of `sciml run {problem}` ({default})"}},
        problem=problem, solver="pinn", **common)


_kept_default_study(
    "lid-driven-cavity", "the lid-driven cavity at Re 100", points=3000,
    default="4 × 50 tanh, float32, 4,000 Adam + 2,000 L-BFGS", reference=CAVITY_REFERENCE.format(re=100),
    target=3e-2, target_text="the lid-driven-cavity-re100-pinn bounds (issue 4)", published=GHIA_PUBLISHED,
    bounds=GHIA_BOUND)
_default_study(
    "traffic-riemann", "the viscous LWR shock (ρ_L = 0.2, ρ_R = 0.7 veh/m, ε = 0.005 m²/s)",
    new="30 x 3 float64, 8,000 points redrawn every 500 steps, 1,000 Adam + 4,000 SSBroyden",
    new_budget=("defaults of `sciml run traffic-riemann`: 30 × 3 tanh MLP, float64, 8,000 collocation points redrawn "
                "every 500 steps, 1,000 Adam then 4,000 SSBroyden steps"),
    old_arm="lbfgs", old="4 x 32 float32, 8,000 fixed points, 4,000 Adam + 2,000 L-BFGS, the default before",
    old_settings={"width": 32, "depth": 4, "dtype": "float32", "resample_every": 0, "iterations": 4000,
                  "optimizer": "adam-lbfgs", "lbfgs_iterations": 2000},
    old_budget=("4 × 32 tanh MLP, float32, 8,000 fixed collocation points, 4,000 Adam + 2,000 L-BFGS (the "
                "traffic-riemann default before SSBroyden)"),
    target=None, target_text="no target of its own: the study is issue 17's measurement of the traffic-riemann default",
    reference=("the exact viscous travelling wave ρ = (ρ_L + ρ_R)/2 + (ρ_R − ρ_L)/2 tanh(v_f (ρ_R − ρ_L)(x − s t) / "
               "(2 ε ρ_m)), s = v_f (1 − (ρ_L + ρ_R)/ρ_m) (sciml.classical.lwr.travelling_wave), on a 401 x 101 grid "
               "of x in [-1, 1] m, t in [0, 1] s"))
_kept_default_study(
    "cylinder", "the Schäfer–Turek cylinder 2D-1", points=4000,
    default="4 × 50 tanh, float32, 4,000 points redrawn every 100 steps, 2,000 Adam + 1,000 L-BFGS",
    # judged by C_L, the figure furthest from Schäfer & Turek's
    metric="lift_coefficient", metric_reference=SCHAEFER_TUREK_2D1["lift_coefficient"],
    reference=CYLINDER_REFERENCE, target_text=f"the cylinder-pinn bounds ({CYLINDER_TARGET})",
    published=CYLINDER_PUBLISHED, bounds=CYLINDER_BOUNDS)


# -- issue 16: DyFraNet-style forecasting and backcasting of lattice crack movies ------------------------
HSU_BUEHLER_2023 = ("Y.-C. Hsu, M. J. Buehler, \"DyFraNet: Forecasting and backcasting dynamic fracture mechanics in "
                    "space and time using a 2D-to-3D deep neural network\", APL Machine Learning 1, 026105 (2023)")
LATTICE_REFERENCE = ("the 60 held-out simulated movies (20 %, split seed 0) of data/lattice_fracture.npz (our "
                     "triangular-lattice simulator, sciml.classical.lattice), each predicted from every one of its 9 "
                     "frames; metrics pooled over the pairs (given frame, frame N ahead or behind) as defined in "
                     "sciml.problems.lattice")
LATTICE_BOUNDS = {"iou_min": (0.8, 1.0), "tip_error_px_max_n4": (0.0, 1.0), "tip_error_px_n8": (0.0, 2.0),
                  "speed_rel_error_max": (0.0, 0.1), "backcast_ratio_max": (0.0, 1.5), "branching_accuracy": (0.9, 1.0)}
"""Issue 16's bounds on the held-out forecasting and backcasting metrics (sciml.problems.lattice.summary)."""
register(Case(
    name="lattice-fracture-sequence", problem="lattice-fracture", solver="sequence",
    budget=("defaults of `sciml run lattice-fracture` (sequence solver: convolutional encoder of the given frame with "
            "drive, orientation, frame-index and offset-from-the-given-tip channels, bidirectional GRU over the 9 "
            "frames, 3-D transposed-convolution decoder with encoder skips, the tip advance and branching of the 3 "
            "training movies nearest in conditions and given tip recalled, about 250,000 parameters, float32; 3,000 "
            "Adam steps of 32 random (training movie, given frame) pairs, cosine learning rate from 3e-3; binary "
            "cross-entropy, the pixels that differ from the given frame weighted 5, + 1 - soft IoU; masks read by "
            "column: each pixel of probability >= 1/2 and the most probable pixel of every column the crack reaches); "
            "the 240 training movies of the bundled data/lattice_fracture.npz"),
    reference=LATTICE_REFERENCE, bounds={**LATTICE_BOUNDS, "wall_time_s": (0.0, 900.0)},
    target_text=("issue 16 (method after " + HSU_BUEHLER_2023 + "): for N = 1 ... 8 frames ahead and behind, mask IoU "
                 ">= 0.8, crack-tip error <= 1 pixel for N <= 4 and <= 2 pixels at N = 8, crack speed within 10 %, "
                 "backcasting error at most 1.5 x the forecasting error at the same N; branching (forecast from frame "
                 "0) classified right in >= 90 % of the held-out movies; training in at most 15 minutes")))
for _perturbation in (1e-3, 1e-4):
    register(Case(
        name=f"lattice-fracture-simulator-{_perturbation:g}", problem="lattice-fracture", solver="simulator",
        settings={"perturbation": _perturbation},
        budget=(f"no training: the lattice simulator (sciml.classical.lattice) run again for each held-out movie at its "
                f"orientation and its drive x (1 + {_perturbation:g}), on the movie file's strip, frame times and "
                f"pixels, the given frame imposed as the sequence solver imposes it (solver simulator)"),
        reference=LATTICE_REFERENCE, bounds=LATTICE_BOUNDS,
        target_text=(f"lattice-fracture-sequence's bounds (issue 16) applied to the physics itself with the drive "
                     f"known to a relative {_perturbation:g}, finer than the training movies resolve it (240 movies "
                     f"with drives drawn over 0.8-2.4 and orientations over 0-30 degrees): what it misses, no model "
                     f"learnt from these movies can be expected to reach")))
LATTICE_ENSEMBLES = ((1e-2, 8), (3e-2, 8), (3e-2, 16))
"""(spread, runs) of the lattice simulator's ensembles (even runs: none at a held-out movie's own drive); the third,
added after the first two had run, asks how much their figures owe to the number of runs."""
for _spread, _members in LATTICE_ENSEMBLES:
    register(Case(
        name=f"lattice-fracture-simulator-ensemble-{_spread:g}" + ("" if _members == 8 else f"-{_members}-runs"),
        problem="lattice-fracture", solver="simulator", settings={"perturbation": _spread, "members": _members},
        budget=(f"no training: the lattice simulator (sciml.classical.lattice) run {_members} times for each "
                f"held-out movie, at its orientation and at drives spread evenly over its drive x (1 +- {_spread:g}) "
                f"(none at its own), on the movie file's strip, frame times and pixels; from a given frame, the runs "
                f"whose tip in that frame lies nearest the given tip read (all from the first frame), a pixel's "
                f"cracked probability the share of them that crack it, read into masks by column as the sequence "
                f"solver reads its network's, the given frame imposed as it imposes it (solver simulator, members "
                f"{_members})"),
        reference=LATTICE_REFERENCE, bounds=LATTICE_BOUNDS,
        target_text=(f"lattice-fracture-sequence's bounds (issue 16) applied to the physics itself knowing of the drive "
                     f"only that it lies within +- {_spread:.0%}: a held-out movie's nearest training movie lies a "
                     f"median 0.099 training standard deviations away in (drive, orientation) (validation/"
                     f"MOVIE_SPREAD.md), 0.046 in drive alone, about 3 % of a drive of 1.6; with the orientation "
                     f"known exactly, what this ensemble misses measures, by one simple reading of the physics "
                     f"({_members} runs, read by the given tip alone), how far these movies can be forecast from "
                     f"conditions known that finely")))
