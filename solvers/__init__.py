"""Solvers: one module per method. Each class registers under its ``name`` through the
``sciml.solvers`` entry-point group in pyproject.toml."""

from .multidomain import MultiDomainPINN
from .pinn import PINN

__all__ = ["PINN", "MultiDomainPINN"]
