"""The ``sciml`` command: list, run, validate, bench.

``sciml run PROBLEM`` gets one flag per declared problem parameter, generated from the declaration
(``sciml run burgers --nu 0.005``), with its unit and default in ``--help``.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Sequence

from . import registry

ERROR_LOG = "sciml-error.log"
_log_dir: Path | None = None
"""Where an unexpected error's traceback goes: the running command's output folder once it is known."""


def _problem_flags(parser: argparse.ArgumentParser, problem_cls) -> None:
    group = parser.add_argument_group(f"parameters of {problem_cls.name!r}")
    for name, spec in problem_cls.parameters.items():
        unit = "" if spec.choices else f" [unit: {spec.unit}]"
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"param_{name}", default=None,
                           type=str if spec.choices else spec.type, choices=spec.choices, metavar=None if spec.choices else name.upper(),
                           help=f"{spec.doc}{unit} (default: {spec.default!r})".replace("%", "%%"))


NETWORK_FLAGS = {"width": "neurons per hidden layer", "depth": "hidden layers",
                 "n_interior": "interior collocation points", "resample_every": "draw new collocation points every N steps",
                 "eval_every": "record the error against the reference in the history every N Adam steps (and at "
                               "every entry of the phase after Adam)"}
"""Solver settings with a flag of their own on ``sciml run`` (integers)."""


def _problem_default(problem_cls, key: str, fallback: Any, solver: str | None = None) -> Any:
    """The problem's own default of setting ``key`` for ``solver`` (default: the problem's default solver;
    ``fallback`` where the problem sets none): what ``sciml run PROBLEM --help`` names as the default."""
    if problem_cls is None:
        return fallback
    own = problem_cls.solver_defaults.get(solver or problem_cls.default_solver, {})
    return own.get(key, problem_cls.solver_defaults.get(key, fallback))


def _run_parser(problem_cls=None, solver: str | None = None) -> argparse.ArgumentParser:
    from .training import OPTIMIZERS

    optimizer = _problem_default(problem_cls, "optimizer", "adam-lbfgs", solver)
    after_adam = "L-BFGS iterations" if optimizer == "adam-lbfgs" else f"{optimizer} steps"

    p = argparse.ArgumentParser(prog="sciml run", description="Train a problem with a solver and write its results.",
                                allow_abbrev=False)  # a problem flag (--re) must not read as an abbreviation
    p.add_argument("problem", help=f"problem name, one of: {', '.join(registry.names('sciml.problems'))}")
    p.add_argument("--solver", default=None, help="solver name (default: the problem's own, pinn for PDEs)")
    p.add_argument("--iterations", type=int, default=None, help="Adam steps (default: the problem's budget)")
    p.add_argument("--lbfgs-iterations", type=int, default=None,
                   help=f"{after_adam} after Adam (default: the problem's budget)")
    p.add_argument("--optimizer", default=None, choices=OPTIMIZERS,
                   help=f"what follows Adam (default: {optimizer}): adam-lbfgs, the self-scaled quasi-Newton "
                        "methods ssbroyden and ssbfgs (or plain bfgs), or engd (energy natural gradient; small "
                        "networks, fixed points); the second-order ones run in float64 unless --dtype says "
                        "otherwise (PINN solvers)")
    p.add_argument("--second-order-iterations", type=int, default=None, metavar="N",
                   help="steps of the --optimizer phase after Adam (default: as --lbfgs-iterations)")
    net = p.add_argument_group("network, points and records (PINN solvers; default: the problem's)")
    net.add_argument("--dtype", default=None, choices=("float32", "float64"),
                     help="floating-point type of the network and points (default: float32, float64 with a "
                          "second-order --optimizer)")
    for flag, doc in NETWORK_FLAGS.items():
        net.add_argument(f"--{flag.replace('_', '-')}", type=int, default=None, metavar="N", help=doc)
    p.add_argument("--device", default=None, help="'auto' (default: CUDA if present), 'cpu', 'cuda', 'cuda:N'")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", default=None, help="output directory (default: runs/PROBLEM-SOLVER)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="set_settings",
                   help="any other setting of the solver, as a Python literal or plain text (repeatable), e.g. "
                        "--set data_weight=1 --set \"tasks=['smooth:2','points']\"; the list below")
    p.add_argument("--init", default=None, help="start from the network of a saved result (an earlier run's OUT "
                   "folder with the same network settings), e.g. a continuation in a parameter (PINN solvers)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    inv = p.add_argument_group("inverse problems (observations and unknown parameters; pinn solver)")
    inv.add_argument("--observations", default=None, metavar="FILE",
                     help="measured outputs to fit: CSV with a header naming the inputs and the observed outputs "
                          "(e.g. x,t,u), or NPZ with the same keys")
    inv.add_argument("--sensors", type=int, default=None, metavar="N",
                     help="observe the reference with N evenly spaced sensors, each recording every reference "
                          "time step (1-D space-time problems)")
    inv.add_argument("--samples", type=int, default=None, metavar="N",
                     help="observe the reference at N random points of its grid")
    inv.add_argument("--noise", type=float, default=None, metavar="SIGMA",
                     help="Gaussian noise on sampled observations, SIGMA times each output's standard deviation "
                          "(0.01: 1%% noise); on a problem that measures its own signals (a 'sensor_noise' "
                          "parameter, e.g. diesel-engine) the same as --sensor-noise SIGMA")
    inv.add_argument("--observe", default=None, metavar="OUT[,OUT]",
                     help="outputs the sensors/samples observe (default: all the reference holds)")
    inv.add_argument("--observation-seed", type=int, default=None, metavar="SEED",
                     help="seed of the sampled points and noise (default: 0)")
    inv.add_argument("--conditions", choices=("all", "boundary", "none"), default=None,
                     help="which of the problem's conditions apply (default with observations: boundary, the "
                          "initial condition being unknown; without: all)")
    inv.add_argument("--identify", default=None, metavar="NAME[,NAME]",
                     help="problem parameters to learn with the network")
    inv.add_argument("--initial-guess", default=None, metavar="NAME=VALUE[,...]",
                     help="where identified parameters start (default: their value as given or defaulted)")
    if problem_cls is not None:
        _problem_flags(p, problem_cls)
        solver_cls = registry.solver(solver or problem_cls.default_solver)
        p.epilog = (f"settings of solver {solver_cls.name!r} for --set, with their defaults for {problem_cls.name!r}: "
                    + "; ".join(f"{k}={_problem_default(problem_cls, k, v, solver_cls.name)!r}"
                                for k, v in solver_cls.defaults.items())).replace("%", "%%")
    return p


def parse_run(argv: Sequence[str]) -> tuple[argparse.Namespace, dict, dict]:
    """``sciml run``'s arguments: the parsed namespace (``problem`` and ``solver`` resolved to names),
    the problem parameters given, and the solver settings given (besides iterations, device, seed)."""
    first, _ = _run_parser().parse_known_args([a for a in argv if a not in ("-h", "--help")] or ["-h"])
    problem_cls = registry.problem(first.problem)
    args = _run_parser(problem_cls, first.solver).parse_args(argv)
    params = {k[len("param_"):]: v for k, v in vars(args).items() if k.startswith("param_") and v is not None}
    _noise_of_own_measurements(args, problem_cls, params)
    args.solver = args.solver or problem_cls.default_solver
    settings = {"progress": not args.no_progress}
    for key in ("lbfgs_iterations", "second_order_iterations"):
        steps = getattr(args, key)
        if steps is not None:
            if steps < 0:
                raise ValueError(f"--{key.replace('_', '-')} must be >= 0, got {steps}")
            settings[key] = steps
    if args.init is not None:
        settings["init"] = args.init
    if args.optimizer is not None:
        settings["optimizer"] = args.optimizer
        if args.optimizer != "adam-lbfgs" and args.dtype is None:
            settings["dtype"] = "float64"
    if args.dtype is not None:
        settings["dtype"] = args.dtype
    settings.update({k: getattr(args, k) for k in NETWORK_FLAGS if getattr(args, k) is not None})
    for key, value in _set_settings(args.set_settings, registry.solver(args.solver)).items():
        if key in settings and settings[key] != value:
            raise ValueError(f"--set {key}={value!r} disagrees with --{key.replace('_', '-')} {settings[key]!r}: give one")
        settings[key] = value
    args.inverse = _inverse_options(args)
    return args, params, settings


def _set_settings(items: Sequence[str], solver_cls) -> dict[str, Any]:
    """The solver settings that ``--set NAME=VALUE`` flags give: each VALUE read as a Python literal
    (``1``, ``0.5``, ``True``, ``None``, ``['smooth:2']``), else kept as text; a NAME the solver does not
    have is an error that lists those it has."""
    settings: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ValueError(f"--set takes NAME=VALUE, got {item!r}")
        if name not in solver_cls.defaults:
            raise ValueError(f"--set {name}: solver {solver_cls.name!r} has no setting {name!r}; its settings: "
                             f"{', '.join(sorted(solver_cls.defaults))}")
        try:
            settings[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            settings[name] = text.strip()
    return settings


def _noise_of_own_measurements(args: argparse.Namespace, problem_cls, params: dict) -> None:
    """``--noise`` on a problem that measures its own signals (it has a ``sensor_noise`` parameter and no
    sensors or samples are drawn from a reference) sets that parameter: ``sciml run diesel-engine --noise
    0.01`` is ``--sensor-noise 0.01``."""
    if args.noise is None or "sensor_noise" not in problem_cls.parameters or args.sensors or args.samples:
        return
    if params.get("sensor_noise", args.noise) != args.noise:
        raise ValueError(f"--noise {args.noise:g} and --sensor-noise {params['sensor_noise']:g} disagree: give one")
    params["sensor_noise"] = args.noise
    args.noise = None


def _inverse_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`sciml.run` for an inverse problem that the flags give."""
    options = {key: getattr(args, key) for key in ("observations", "sensors", "samples", "noise", "observation_seed",
                                                    "conditions") if getattr(args, key) is not None}
    for key in ("observe", "identify"):
        if getattr(args, key) is not None:
            options[key] = [n.strip() for n in getattr(args, key).split(",") if n.strip()]
    if args.initial_guess is not None:
        guesses = {}
        for item in args.initial_guess.split(","):
            name, sep, value = item.partition("=")
            try:
                guesses[name.strip()] = float(value)
            except ValueError:
                sep = ""
            if not sep or not name.strip():
                raise ValueError(f"--initial-guess takes NAME=VALUE pairs separated by commas, got {item!r}")
        options["initial_guess"] = guesses
    return options


def cmd_run(argv: Sequence[str]) -> int:
    from .api import run

    args, params, settings = parse_run(argv)
    out = args.out or f"runs/{args.problem}-{args.solver}"
    global _log_dir
    _log_dir = Path(out)
    result = run(args.problem, args.solver, iterations=args.iterations, device=args.device, seed=args.seed,
                 out=out, resume=args.resume, **params, **settings, **args.inverse)
    import json

    from .distributed import is_main

    if not is_main():  # under torchrun, rank 0 reports
        return 130 if result.interrupted else 0
    summary = json.loads((Path(out) / "metrics.json").read_text())
    state = "interrupted" if result.interrupted else "done"
    error = "—" if summary["rel_l2"] is None else f"{summary['rel_l2']:.3e}"
    extra = "".join(f", {k} = {summary[k]:.5g}" for k in summary["problem_metrics"])
    extra += "".join(f", {k} identified = {v['value']:.6g}" + ("" if v["true"] is None else f" (true {v['true']:.6g})")
                     for k, v in (summary.get("identified") or {}).items())
    print(f"{state}: {args.problem}/{args.solver} rel. L2 = {error}{extra} "
          f"in {summary['wall_time_s']:.1f} s on {summary['device']}; results in {out}/")
    return 130 if result.interrupted else 0


def cmd_list(argv: Sequence[str]) -> int:
    argparse.ArgumentParser(prog="sciml list", description="List registered problems and solvers.").parse_args(argv)
    print("problems:")
    for name in registry.names("sciml.problems"):
        print(f"  {name:20s} {registry.problem(name).description}")
    print("solvers:")
    for name in registry.names("sciml.solvers"):
        doc = (registry.solver(name).__doc__ or "").strip().splitlines()[0]
        print(f"  {name:20s} {doc}")
    return 0


def cmd_bench(argv: Sequence[str]) -> int:
    benches = {"residual": "sciml.benchmarks.residual", "hypersolver": "sciml.benchmarks.hypersolver",
               "control": "sciml.benchmarks.control", "native": "sciml.benchmarks.native",
               "diesel": "sciml.benchmarks.diesel", "optimizers": "sciml.benchmarks.optimizers",
               "sequence": "sciml.benchmarks.sequence"}
    p = argparse.ArgumentParser(prog="sciml bench", description="Side-by-side speed benchmarks; "
                                "`sciml bench NAME --help` lists a benchmark's options.")
    p.add_argument("name", choices=sorted(benches))
    args, rest = p.parse_known_args(argv[:1])
    rest = list(argv[1:])
    module = __import__(benches[args.name], fromlist=["main"])
    return module.main(rest) or 0


def cmd_validate(argv: Sequence[str]) -> int:
    from .validation.runner import main as validate_main

    return validate_main(argv) or 0


COMMANDS = {"list": cmd_list, "run": cmd_run, "bench": cmd_bench, "validate": cmd_validate}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: sciml {list,run,validate,bench} ...\n\n"
              "  list                 problems and solvers\n"
              "  run PROBLEM [...]    train and write metrics.json, figure, VTU (sciml run PROBLEM --help)\n"
              "  validate [CASE ...]  run validation cases and regenerate validation/REPORT.md\n"
              "  bench residual       training-step speed: our residual core vs DeepXDE\n"
              "  bench hypersolver    error vs wall time and NFE: hypersolvers vs Euler/midpoint/RK4/dopri5\n"
              "  bench control        pendulum-control trainings through dopri5, HyperEuler, Euler side by side\n"
              "  bench diesel         the diesel engine simulator's time for a 30 s transient, by SciPy method\n"
              "  bench optimizers     Burgers error vs wall time: Adam + L-BFGS vs Adam + SSBroyden (issue 17)\n"
              "  bench sequence       the lattice-fracture sequence network's training step against an earlier commit's")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nsciml: error: unknown command {argv[0]!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
            return 2
        return 0
    from .training import TrainingDiverged

    try:
        return COMMANDS[argv[0]](argv[1:])
    except (ValueError, FileNotFoundError, TrainingDiverged) as err:
        print(f"sciml: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # a bug or an environment problem: one line here, the traceback in a file
        log = write_error_log(err)
        print(f"sciml: error: unexpected {type(err).__name__}: {err} (full traceback in {log})", file=sys.stderr)
        return 1


def write_error_log(err: BaseException) -> Path:
    """Write ``err``'s traceback to ``sciml-error.log`` in the command's output folder (the system's
    temporary folder before that is known, or where it cannot be written); returns the file."""
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    for folder in ([_log_dir] if _log_dir is not None else []) + [Path(tempfile.gettempdir())]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ERROR_LOG).write_text(text)
            return folder / ERROR_LOG
        except OSError:
            continue
    raise err


if __name__ == "__main__":
    sys.exit(main())
