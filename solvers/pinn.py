"""The physics-informed neural network solver (Raissi, Perdikaris & Karniadakis 2019).

Minimises ``Σ_k w_k mean(r_k²)`` over the PDE residual(s) at interior collocation points and the
problem's soft conditions, with the problem's hard constraint (if any) built into the network.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any

import torch

from sciml import distributed, geometry, inverse, native, storage
from sciml.conditions import PointData, PointSet
from sciml.device import resolve_device
from sciml.fields import AutogradFields, Fields, Plan, TaylorFields, discover_plan
from sciml.networks import MLP, Network
from sciml.odeproblem import ODEProblem
from sciml.problem import Problem, relative_l2
from sciml.solver import Result, Solver
from sciml.training import TrainConfig, Trainer, seed_everything

DTYPES = {"float32": torch.float32, "float64": torch.float64}
COMPILE_MIN_STEPS = 2000
"""``compile="auto"`` compiles the taylor loss for runs of at least this many optimiser steps."""


class PINN(Solver):
    """Physics-informed neural network (Raissi et al. 2019), hard constraints built in.

    Settings (all keyword arguments, with defaults):

    Network: ``width`` (32), ``depth`` hidden layers (4), ``activation`` ("tanh"),
    ``fourier_features`` (0: none) and ``fourier_scale`` (1.0).
    Points: ``n_interior`` collocation points (2000), ``n_boundary`` per soft condition that does not set its
    own ``n_points`` (200),
    ``resample_every`` Adam steps (0: fixed points), residual-based adaptive refinement every
    ``rar_every`` Adam steps (0: off) adding the ``rar_points`` worst of ``rar_candidates``.
    Optimisation: ``iterations`` Adam steps (10000), ``lr`` (1e-3), ``schedule``, ``decay_rate``,
    ``decay_steps``, ``lbfgs_iterations`` (0) in chunks of ``lbfgs_chunk`` (50), ``weights`` {term: weight};
    ``optimizer`` after Adam ("adam-lbfgs"; or "ssbroyden", "ssbfgs", "bfgs", "engd" for
    ``second_order_iterations`` steps, None: ``lbfgs_iterations``; see
    :class:`sciml.training.TrainConfig`; they want ``dtype="float64"``, and "engd" a small network on
    fixed points with the taylor engine).
    Start: ``init`` (None: random weights; else a saved result — the folder ``sciml run --out`` or
    :meth:`Result.save` wrote, or its ``result.pt`` — whose network weights start the training, e.g. a
    continuation from a neighbouring parameter value; the network settings must match).
    Execution: ``engine`` ("auto": taylor when the network supports it, else "autograd"),
    ``compile`` ("auto": compile the taylor loss for runs of at least ``COMPILE_MIN_STEPS`` steps;
    True/False force it), ``native`` (False: an opt-in; True: a tanh MLP on the CPU computes its jets
    and parameter gradients with :mod:`sciml.native`'s C++ kernel instead of compiling, which requires
    the kernel to build on the machine; "auto": the same where the taylor loss is not compiled — shorter
    runs, ``compile=False`` — falling back to the PyTorch path, with one warning, where the kernel does
    not build),
    ``dtype`` ("float32"), ``device`` (None: CUDA if present), ``seed`` (0), ``checkpoint_every``
    (1000) steps and ``checkpoint_minutes`` (5.0) between checkpoints, ``eval_every`` (0: off; else
    log the error against the reference), ``progress`` (True).
    """

    name = "pinn"
    inverse = True
    defaults: dict[str, Any] = {
        "width": 32, "depth": 4, "activation": "tanh", "fourier_features": 0, "fourier_scale": 1.0,
        "n_interior": 2000, "n_boundary": 200, "resample_every": 0,
        "rar_every": 0, "rar_points": 100, "rar_candidates": 10000,
        "iterations": 10000, "lr": 1e-3, "schedule": "exponential", "decay_rate": 0.9, "decay_steps": 1000,
        "lbfgs_iterations": 0, "lbfgs_chunk": 50, "weights": None,
        "optimizer": "adam-lbfgs", "second_order_iterations": None,
        "engine": "auto", "compile": "auto", "native": False, "dtype": "float32", "device": None, "seed": 0,
        "checkpoint_every": 1000, "checkpoint_minutes": 5.0, "eval_every": 0, "progress": True, "init": None,
    }

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        if issubclass(problem_cls, ODEProblem):
            return "it is an ODE problem (a time and an initial state in, the state out), with no PDE residual"
        if problem_cls.residual is Problem.residual:
            return "it declares no residual"
        return None

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        if s["engine"] not in ("auto", "taylor", "autograd"):
            raise ValueError(f"engine must be 'auto', 'taylor' or 'autograd', got {s['engine']!r}")
        if s["compile"] not in ("auto", True, False):
            raise ValueError(f"compile must be 'auto', True or False, got {s['compile']!r}")
        if s["native"] not in ("auto", True, False):
            raise ValueError(f"native must be 'auto', True or False, got {s['native']!r}")
        if s["native"] is True and s["compile"] is True:
            raise ValueError("native=True and compile=True exclude each other: the native kernel replaces compilation")
        if s["dtype"] not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}, got {s['dtype']!r}")
        for key in ("n_interior", "n_boundary"):
            if int(s[key]) != s[key] or s[key] <= 0:
                raise ValueError(f"{key} must be a positive integer, got {s[key]!r}")
        self.device = resolve_device(s["device"])
        self.dtype = DTYPES[s["dtype"]]
        self.config = TrainConfig(
            iterations=s["iterations"], lr=s["lr"], schedule=s["schedule"], decay_rate=s["decay_rate"],
            decay_steps=s["decay_steps"], lbfgs_iterations=s["lbfgs_iterations"], lbfgs_chunk=s["lbfgs_chunk"],
            checkpoint_every=s["checkpoint_every"], checkpoint_minutes=s["checkpoint_minutes"],
            resample_every=math.gcd(s["resample_every"], s["rar_every"]),
            progress=s["progress"], optimizer=s["optimizer"], second_order_iterations=s["second_order_iterations"])

    # -- model -----------------------------------------------------------------------------------
    def build_model(self) -> Network:
        """The network: an MLP over the domain's bounding box, wrapped with the hard constraint that
        applies (:func:`sciml.inverse.applied`); the problem's unknown parameters, if any, are its
        submodule ``unknowns`` (:class:`sciml.inverse.Unknowns`), trained and saved with it."""
        _, constraint = inverse.applied(self.problem, self.problem.conditions(), self.problem.constraint())
        model = Network(self.mlp(len(self.problem.outputs)), constraint)
        unknowns = inverse.unknowns_for(self.problem)
        if unknowns is not None:
            model.unknowns = unknowns
        return model.to(self.device, self.dtype)

    def mlp(self, out_dim: int) -> MLP:
        """An MLP from the problem's inputs to ``out_dim`` outputs with this solver's network settings,
        scaled to the domain's bounding box and periodic in the problem's periodic inputs."""
        s, p = self.settings, self.problem
        lower, upper = geometry.bounds(self.domain())
        return MLP(len(p.inputs), out_dim, width=s["width"], depth=s["depth"], activation=s["activation"],
                   lower=lower.tolist(), upper=upper.tolist(), fourier_features=s["fourier_features"],
                   fourier_scale=s["fourier_scale"], periodic=[p.inputs.index(name) for name in p.periodic])

    def load_initial_weights(self, path: str | Path) -> None:
        """Set the model's weights to those of the saved result at ``path`` (its folder or ``result.pt``),
        read without running code from it (:func:`sciml.storage.read`; an unsafe or damaged file is a
        :class:`sciml.storage.SavedFileError`)."""
        path = Path(path)
        file = path / "result.pt" if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"init: no saved result at {str(path)!r} (expected a folder with result.pt "
                                    "or the file itself)")
        saved = storage.read(file, "result", required=("model",), map_location=self.device)
        try:
            # The network's weights only: unknown parameters start from this run's initial guesses.
            weights = {k: v for k, v in saved["model"].items() if not k.startswith("unknowns.")}
            missing, unexpected = self.model.load_state_dict(weights, strict=False)
            missing = [k for k in missing if not k.startswith("unknowns.")]
            if missing or unexpected:
                raise RuntimeError(f"missing keys {missing}, unexpected keys {unexpected}")
        except RuntimeError as err:
            raise ValueError(f"init: the network saved in {str(file)!r} does not fit this solver's network "
                             f"(width {self.settings['width']}, depth {self.settings['depth']}, "
                             f"{self.problem.name!r} outputs): {err}") from None

    def domain(self):
        """The domain trained on (a DeepXDE geometry): the problem's; a solver that trains on part of
        it at a time overrides this."""
        return self.problem.geometry()

    def active_conditions(self) -> list:
        """The soft conditions trained on: the problem's that apply (:func:`sciml.inverse.applied`),
        and its observations as the term ``data``."""
        p = self.problem
        conditions, _ = inverse.applied(p, p.conditions(), p.constraint())
        if p.observations is not None:
            conditions.append(PointData(p.observations.outputs, p.observations.points, p.observations.values,
                                        name="data", weight=p.data_weight))
        return conditions

    def predictor(self) -> torch.nn.Module:
        """The module mapping the problem's inputs to its outputs, evaluated against the reference
        during training (``eval_every``): the model here."""
        return self.model

    @property
    def network(self) -> Network:
        """The network the residuals differentiate: the model itself here; a solver whose model maps
        a learned representation back to the problem's outputs overrides this."""
        return self.model

    @property
    def network_outputs(self) -> tuple[str, ...]:
        """Names of :attr:`network`'s outputs, as the residuals read them (the problem's outputs here)."""
        return self.problem.outputs

    @property
    def engine(self) -> str:
        if self.settings["engine"] != "auto":
            return self.settings["engine"]
        return "taylor" if self.network.supports_taylor else "autograd"

    # -- points ----------------------------------------------------------------------------------
    def _to_device(self, points: PointSet) -> PointSet:
        return points.to(self.device, self.dtype)

    def _sample_interior(self) -> PointSet:
        return self._to_device(PointSet(torch.as_tensor(geometry.sample(self.geom, self.settings["n_interior"]))))

    def _prepare(self) -> None:
        """Plans and constraint jets of every point set, for the taylor engine."""
        self.sets = [self._local(self.interior_with_rar())] + self.condition_sets
        self.constraint_jets = [self._constraint_jets(ps.x, plan) for ps, plan in zip(self.sets, self.plans)]

    def _constraint_jets(self, x: torch.Tensor, plan: Plan):
        """The hard constraint's jets at ``x`` when the taylor engine needs them, else None."""
        if self.engine != "taylor" or self.network.constraint is None:
            return None
        return self.network.constraint.jets(x, plan, self.problem.inputs, self.network_outputs)

    def _local(self, points: PointSet) -> PointSet:
        """This process's share of the collocation points (all of them when training alone)."""
        self.point_share = 1.0
        if self.group is None:
            return points
        n = points.x.shape[0]
        if n < self.group.size:
            raise ValueError(f"{n} collocation points cannot be split across {self.group.size} processes")
        mine = points.x[self.group.share(n)]
        self.point_share = mine.shape[0] / n
        return PointSet(mine)

    def _contributions(self, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """This process's part of each loss term, for :meth:`sciml.distributed.Group.sum_terms`: the
        residual means weighted by its share of the points, the (replicated) conditions by 1/size."""
        return {k: v * (self.point_share if k in self.residual_names else 1.0 / self.group.size)
                for k, v in terms.items()}

    def interior_with_rar(self) -> PointSet:
        """The interior collocation points, with the points residual-based refinement added."""
        if self.rar_points is None:
            return self.interior
        return PointSet(torch.cat([self.interior.x, self.rar_points]))

    def _resample(self, step: int) -> None:
        s = self.settings
        if s["resample_every"] and step % s["resample_every"] == 0:
            self.interior = self._sample_interior()
        if s["rar_every"] and step % s["rar_every"] == 0:
            candidates = self._to_device(PointSet(torch.as_tensor(
                geometry.sample(self.geom, s["rar_candidates"])))).x
            score = sum(v ** 2 for v in self.residuals(candidates).values())
            worst = candidates[torch.topk(score, s["rar_points"]).indices]
            self.rar_points = worst if self.rar_points is None else torch.cat([self.rar_points, worst])
        self._prepare()

    def residuals(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """The PDE residual(s) of the current model at ``points`` (N, d), detached: name -> (N,)."""
        x = torch.as_tensor(points).to(self.device, self.dtype)
        plan = self.plans[0]
        jets = self._constraint_jets(x, plan)  # by autograd on x: outside no_grad
        with torch.no_grad() if self.engine == "taylor" else torch.enable_grad(), self.bound():
            return {k: v.detach() for k, v in self._residuals(self.fields(x, plan, jets)).items()}

    def _get_extra(self) -> dict:
        return {"interior": self.interior.x, "rar": self.rar_points}

    def _set_extra(self, extra: dict) -> None:
        self.interior = PointSet(extra["interior"].to(self.device, self.dtype))
        self.rar_points = None if extra["rar"] is None else extra["rar"].to(self.device, self.dtype)
        self._prepare()

    # -- loss ------------------------------------------------------------------------------------
    def bound(self):
        """A context in which the problem's unknown parameters are the model's learnable values
        (:func:`sciml.inverse.bound`)."""
        return inverse.bound(self.problem, getattr(self.model, "unknowns", None))

    def fields(self, x: torch.Tensor, plan: Plan, constraint_jets=None, model: Network | None = None) -> Fields:
        """Fields of ``model`` (default: :attr:`network`) at points ``x`` (N, d) with the chosen engine."""
        p, outputs = self.problem, self.network_outputs
        model = self.network if model is None else model
        if self.engine == "taylor":
            return TaylorFields(model.jet(x, plan, constraint_jets), plan, x, p.inputs, outputs, p.spatial)
        return AutogradFields(model, x, p.inputs, outputs, p.spatial)

    def _residuals(self, f: Fields) -> dict[str, torch.Tensor]:
        r = self.problem.residual(f)
        return r if isinstance(r, dict) else {"residual": r}

    def _interior_terms(self, residuals: dict[str, torch.Tensor], aux: dict) -> dict[str, torch.Tensor]:
        """Loss terms of the PDE residuals (name -> (N,)) at the interior points: weighted mean squares."""
        return {k: self.weights.get(k, 1.0) * (v ** 2).mean() for k, v in residuals.items()}

    def _loss_terms(self, xs, auxes, cjs) -> dict[str, torch.Tensor]:
        f = self.fields(xs[0], self.plans[0], cjs[0])
        terms = self._interior_terms(self._residuals(f), auxes[0])
        for cond, x, aux, plan, cj in zip(self.conditions, xs[1:], auxes[1:], self.plans[1:], cjs[1:]):
            r = cond.residual(self.fields(x, plan, cj), aux)
            terms[cond.name] = self._condition_weight(cond) * (r ** 2).mean()
        return terms

    def _condition_weight(self, cond) -> float:
        return self.weights.get(cond.name, cond.weight)

    def residual_jacobian(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The residuals of every loss term at the current points, each scaled by √(weight / its number
        of points) and stacked, r (M,) with Σ r² the loss, and their Jacobian (M, P) by the model's
        trainable parameters (:func:`sciml.optim.point_jacobian`), for the "engd" optimizer. Needs
        the loss of :class:`PINN` itself (mean squares of residuals), the taylor engine and one process."""
        cls = type(self)
        if cls._loss_terms is not PINN._loss_terms or cls._interior_terms is not PINN._interior_terms \
                or cls.loss is not PINN.loss:
            raise ValueError(f"optimizer 'engd' needs a loss of plain mean squares of residuals; the {self.name!r} "
                             "solver weights its loss otherwise")
        if self.engine != "taylor" or self.native or self.group is not None:
            raise ValueError(f"optimizer 'engd' needs the taylor engine without the native kernel on one process "
                             f"(engine {self.engine!r}, native {self.native}, "
                             f"{1 if self.group is None else self.group.size} processes)")
        from sciml.optim import point_jacobian

        def interior(x, cj):
            r = self._residuals(self.fields(x, self.plans[0], cj))
            return torch.stack([r[k] * math.sqrt(self.weights.get(k, 1.0)) for k in sorted(r)], dim=1)

        sets = list(zip(self.sets, self.plans, self.constraint_jets))
        rs, Js = [], []
        with self.bound():
            r, J = point_jacobian(self.model, interior, sets[0][0].x, sets[0][2])
            rs.append(r / math.sqrt(sets[0][0].x.shape[0]))
            Js.append(J / math.sqrt(sets[0][0].x.shape[0]))
            for cond, (ps, plan, cj) in zip(self.conditions, sets[1:]):
                def condition(x, aux, cj, cond=cond, plan=plan):
                    return cond.residual(self.fields(x, plan, cj), aux)
                r, J = point_jacobian(self.model, condition, ps.x, ps.aux, cj)
                scale = math.sqrt(self._condition_weight(cond) / ps.x.shape[0])
                rs.append(r * scale)
                Js.append(J * scale)
        return torch.cat(rs), torch.cat(Js)

    def loss(self) -> dict[str, torch.Tensor]:
        """The weighted loss terms at the current points."""
        args = (tuple(ps.x for ps in self.sets), tuple(ps.aux for ps in self.sets), tuple(self.constraint_jets))
        with self.bound():
            if self._loss_fn is self._loss_terms or self.settings["compile"] is True:
                terms = self._loss_fn(*args)
            else:
                try:
                    terms = self._loss_fn(*args)
                except Exception as err:  # compile="auto" must never cost a run: fall back to eager
                    warnings.warn(f"torch.compile failed ({type(err).__name__}: {str(err)[:200]}); "
                                  "continuing without compilation")
                    self._loss_fn = self._loss_terms
                    terms = self._loss_fn(*args)
        return terms if self.group is None else self.group.sum_terms(self._contributions(terms))

    def _use_native(self) -> bool:
        """Whether the network's jets go through the native CPU kernel (see the ``native`` setting)."""
        choice = self.settings["native"]
        if choice is False or (choice == "auto" and self._use_compile()):
            return False
        body = getattr(self.network, "body", None)
        if self.engine != "taylor":
            reason = f"the engine is {self.engine!r}"
        elif self.device.type != "cpu":
            reason = f"the device is {self.device}"
        elif not hasattr(body, "native_unsupported"):
            reason = f"the network ({type(self.network if body is None else body).__name__}) is not an MLP"
        else:
            reason = body.native_unsupported()
        if reason is None and not native.available():
            reason = f"the kernel did not build: {native.unavailable_reason()}"
            if choice == "auto":
                native.warn_fallback()
        if reason is not None and choice is True:
            raise ValueError(f"native=True, but the native kernel cannot be used: {reason}")
        return reason is None

    def _use_compile(self) -> bool:
        c = self.settings["compile"]
        if c == "auto":
            # Compiling costs ~1-20 s once (less with a warm Inductor cache) and makes the taylor
            # step ~1.6x faster on a 2-core CPU (`sciml bench residual`): it pays off from a few
            # thousand steps on.
            steps = self.config.iterations + self.config.second_steps
            return self.engine == "taylor" and steps >= COMPILE_MIN_STEPS
        if c and self.engine != "taylor":
            raise ValueError("compile=True needs the taylor engine (nested autograd does not compile)")
        return bool(c)

    def set_points(self, interior: torch.Tensor, conditions: list[torch.Tensor] | None = None) -> None:
        """Use these collocation points (N, d) and condition points (one array per condition)
        instead of sampled ones (after :meth:`setup`); e.g. to compare solvers on identical points."""
        self.interior = self._to_device(PointSet(torch.as_tensor(interior)))
        if conditions is not None:
            if len(conditions) != len(self.conditions):
                raise ValueError(f"{len(conditions)} condition point sets given for {len(self.conditions)} conditions")
            carrying = [c.name for c, ps in zip(self.conditions, self.condition_sets) if ps.aux]
            if carrying:
                raise ValueError(f"condition(s) {carrying} carry per-point data (normals, values): "
                                 "their points cannot be replaced")
            self.condition_sets = [self._to_device(PointSet(torch.as_tensor(x))) for x in conditions]
        self._prepare()

    # -- training --------------------------------------------------------------------------------
    def setup(self) -> None:
        """Seed, build the model, sample points, record derivative plans, choose the loss path."""
        s, p = self.settings, self.problem
        seed_everything(s["seed"])
        self.group, self.device = distributed.join(self.device)
        self.model = self.build_model()
        if s["init"] is not None:
            self.load_initial_weights(s["init"])
        self.geom = self.domain()
        self.conditions = self.active_conditions()
        self.interior = self._sample_interior()
        self.rar_points = None
        self.condition_sets = [self._to_device(c.sample(self.geom, s["n_boundary"] if c.n_points is None else c.n_points))
                               for c in self.conditions]
        residual_names: set[str] = set()

        def record(f):
            r = self._residuals(f)
            residual_names.update(r)
            return r

        outputs = self.network_outputs
        self.plans = [discover_plan(record, self.network, self.interior.x, p.inputs, outputs, p.spatial)]
        for cond, ps in zip(self.conditions, self.condition_sets):
            self.plans.append(discover_plan(lambda f, c=cond, a=ps.aux: c.residual(f, {k: v[: f.n] for k, v in a.items()}),
                                            self.network, ps.x, p.inputs, outputs, p.spatial))
        self.residual_names = residual_names
        names = residual_names | {c.name for c in self.conditions}
        self.weights = dict(s["weights"] or {})
        unknown = set(self.weights) - names
        if unknown:
            raise ValueError(f"weights given for unknown loss term(s) {sorted(unknown)}; the terms are {sorted(names)}")
        self._prepare()
        self.native = self._use_native()
        if hasattr(getattr(self.network, "body", None), "native"):
            self.network.body.native = self.native
        compiled = not self.native and self._use_compile()
        self._loss_fn = torch.compile(self._loss_terms) if compiled else self._loss_terms

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> Result:
        """Train; with ``out`` checkpoints go to ``out/checkpoint.pt`` and ``resume`` continues from it.

        ``callbacks`` are called as ``callback(trainer, record)`` after every step (see
        :class:`sciml.training.Trainer`).
        """
        s = self.settings
        self.setup()
        reference = self.problem.reference() if s["eval_every"] else None
        callbacks = list(callbacks or [])
        if getattr(self.model, "unknowns", None) is not None:
            def track(trainer, record):  # the unknown parameters after each step, in the history
                record["identified"] = self.model.unknowns.floats()
            callbacks.append(track)
        if reference is not None:
            ref_x = torch.as_tensor(reference.points, dtype=self.dtype, device=self.device)
            cols = reference.columns(self.problem.outputs)

            def evaluate(trainer, record):
                if record["phase"] == "adam" and record["step"] % s["eval_every"]:
                    return
                with torch.no_grad():
                    pred = self.predictor()(ref_x)[:, cols].double().cpu().numpy()
                record["rel_l2"] = relative_l2(pred, reference.values)
            callbacks.append(evaluate)
        checkpoint = Path(out) / "checkpoint.pt" if out is not None else None
        main = self.group is None or self.group.main  # only one process writes checkpoints and shows progress
        config = self.config if main else dataclasses.replace(self.config, progress=False)
        after_backward = None if self.group is None else lambda: self.group.sum_gradients(trainer.params)
        trainer = Trainer(self.model, self.loss, config, checkpoint=checkpoint if main else None,
                          get_extra=self._get_extra, set_extra=self._set_extra, resample=self._resample,
                          callbacks=callbacks, after_backward=after_backward,
                          jacobian=self.residual_jacobian if s["optimizer"] == "engd" else None,
                          description=f"{self.problem.name}/{self.name}")
        self.trainer = trainer
        return self.run_trainer(trainer, self.model, checkpoint, resume)
