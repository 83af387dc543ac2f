"""Solvers: one module per method. Each class registers under its ``name`` through the
``sciml.solvers`` entry-point group in pyproject.toml; ``from sciml.solvers import PINN`` imports
only the module that defines it."""

from sciml.registry import exports

__getattr__, __all__ = exports("sciml.solvers")
