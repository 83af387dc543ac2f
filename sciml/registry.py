"""Name -> class registries for problems and solvers, filled from entry points.

Problems and solvers join through the ``sciml.problems`` and ``sciml.solvers`` entry-point groups
(``[project.entry-points."sciml.problems"]`` in a pyproject.toml), so a lab's own package can add a
problem that ``sciml run`` then finds unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

_BUILTIN = {
    "sciml.problems": {
        "burgers": "sciml.problems.burgers:Burgers",
        "poisson": "sciml.problems.poisson:Poisson",
        "lorenz": "sciml.problems.lorenz:Lorenz",
        "pendulum": "sciml.problems.pendulum:Pendulum",
        "pendulum-control": "sciml.problems.pendulum:PendulumControl",
        "kovasznay": "sciml.problems.navier_stokes:Kovasznay",
        "lid-driven-cavity": "sciml.problems.navier_stokes:LidDrivenCavity",
        "taylor-green": "sciml.problems.navier_stokes:TaylorGreen",
        "cylinder": "sciml.problems.navier_stokes:Cylinder",
        "convection": "sciml.problems.convection:Convection",
        "convection-diffusion": "sciml.problems.convection:ConvectionDiffusion",
        "allen-cahn": "sciml.problems.allen_cahn:AllenCahn",
    },
    "sciml.solvers": {
        "pinn": "sciml.solvers.pinn:PINN",
        "multidomain": "sciml.solvers.multidomain:MultiDomainPINN",
        "neural-ode": "sciml.solvers.neural_ode:NeuralODE",
        "hypersolver": "sciml.solvers.hypersolver:HyperSolver",
        "controller": "sciml.solvers.controller:Controller",
        "causal": "sciml.solvers.causal:CausalPINN",
        "lagrangian": "sciml.solvers.lagrangian:LagrangianPINN",
    },
}


def _load(target: str):
    module, _, attr = target.partition(":")
    obj = __import__(module, fromlist=[attr])
    return getattr(obj, attr)


@lru_cache(maxsize=None)
def _group(group: str) -> dict[str, str]:
    """Entry-point targets of a group; the built-ins stand in when sciml is not installed."""
    found = dict(_BUILTIN[group])
    found.update({ep.name: ep.value for ep in entry_points(group=group)})
    return found


def exports(group: str):
    """``(__getattr__, __all__)`` for the package of a group's built-ins (``sciml.problems``,
    ``sciml.solvers``): ``from sciml.problems import Burgers`` imports the Burgers module only, so a
    run does not pay for importing every other problem's dependencies."""
    modules = {}
    for target in _BUILTIN[group].values():
        module, _, attr = target.partition(":")
        modules[attr] = module

    def __getattr__(name: str):
        if name not in modules:
            raise AttributeError(f"module {group!r} has no attribute {name!r}")
        return _load(f"{modules[name]}:{name}")

    return __getattr__, sorted(modules)


def names(group: str) -> list[str]:
    return sorted(_group(group))


def get(group: str, name: str):
    kind = group.split(".")[-1][:-1]
    targets = _group(group)
    if name not in targets:
        raise ValueError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(targets))}")
    return _load(targets[name])


def problem(name: str):
    """The problem class registered as ``name``."""
    return get("sciml.problems", name)


def solver(name: str):
    """The solver class registered as ``name``."""
    return get("sciml.solvers", name)
